"""Review signals on crafted data: each signal's positive and negative cases, the combined score's
ordering, the lead hit, the shop-level context, and the signal file's checks."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from netwatch.analysis.reviews import PACK, ReviewSignalScorer, SignalConfigError, load_signal_config
from netwatch.analysis.reviews.config import default_path
from netwatch.analysis.reviews.text import minhash_signatures, normalize_text, shingles
from netwatch.domain.items import Listing, Review

DAY0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
VARIED = ["收到了，质量不错，会回购", "第二次购买了，和描述一致，推荐", "帮家里人买的，颜色比图片深一点", "物流挺快，分量挺足，总体满意",
          "包装完好，尺寸刚好，先用着看", "客服回复及时，做工一般但能用", "同事推荐的，比超市便宜一些", "等了三天才到，细节处理得挺好",
          "拆开看了一下，有点小瑕疵不影响使用", "双十一囤的，味道和以前一样", "用了几天感觉还行，下次再看看", "性价比可以，给四星吧",
          "孩子很喜欢这个颜色，就是拉链有点涩", "第一次在这家买，发票随货寄来了", "比实体店便宜二十块，划算", "说明书是英文的，看不太懂",
          "充电一次能用一周左右", "尺码偏大半码，建议拍小一号", "味道偏甜，老人吃正合适", "快递放在驿站了，取件有点远",
          "装修新房买的，安装师傅很专业", "送朋友的生日礼物，包装挺体面", "用了一个月，掉色有点厉害", "客服说缺货要等一周"]
TEMPLATE = "宝贝收到了，质量非常好，和描述的一样，物流也很快，五星推荐！"


def at(days: float) -> str:
    return (DAY0 + dt.timedelta(days=days)).isoformat()


def listing(reviews, ident="1", shop="s1", platform="test") -> Listing:
    item = Listing(url=f"http://shop.test/item/{ident}", canonical_id=ident, platform=platform, shop_id=shop)
    item.reviews = [r if isinstance(r, Review) else Review(*r) for r in reviews]
    return item


def genuine(n: int, prefix="g", start=0.0, every=2.3, rating=4, offset=0):
    """Varied reviews over weeks, as real buyers write them (different texts for different offsets)."""
    assert n <= len(VARIED)
    return [Review(VARIED[(offset + i) % len(VARIED)], f"{prefix}{i}", rating, at(start + i * every)) for i in range(n)]


@pytest.fixture(scope="module")
def scorer_factory():
    config = load_signal_config()
    return lambda: ReviewSignalScorer(config)


def signals_of(scorer, item):
    return {f.signal: f for f in scorer.assess(item).findings}


# -- text and configuration ------------------------------------------------------------------------

def test_normalised_text_ignores_punctuation_width_case_and_script():
    assert normalize_text("質量很好！！ ＧＯＯＤ 👍") == normalize_text("质量很好 good") == "质量很好good"


def test_vectorised_minhash_is_bitwise_datasketchs_default():
    from datasketch import MinHash

    texts = [TEMPLATE, TEMPLATE.replace("了", ""), "很好", "", "abc def"]
    sets = [shingles(normalize_text(t), 2) for t in texts]
    ours = minhash_signatures(sets, 32)
    for items, row in zip(sets, ours):
        reference = MinHash(num_perm=32)
        reference.update_batch([s.encode("utf-8") for s in items])
        assert np.array_equal(reference.hashvalues, row)


def test_every_signal_in_the_file_is_explained_by_a_comment():
    text = default_path().read_text(encoding="utf-8")
    for name in ("phrase", "duplicate", "burst", "short_praise_run", "ring"):
        match = re.search(rf"^  {name}:\n((?:    #.*\n)+)", text, re.M)
        assert match, f"signal {name} has no comment right under its name"


def test_broken_signal_file_names_the_file_and_key(tmp_path):
    bad = tmp_path / "signals.yaml"
    bad.write_text("signals:\n  burst:\n    window_hourz: 3\n", encoding="utf-8")
    with pytest.raises(SignalConfigError, match=r"signals\.yaml.*burst\.window_hourz"):
        load_signal_config(bad)
    bad.write_text("signals:\n  duplicate:\n    weight: 3\n", encoding="utf-8")
    with pytest.raises(SignalConfigError, match="weight must be between 0 and 1"):
        load_signal_config(bad)
    bad.write_text("signals: [\n", encoding="utf-8")
    with pytest.raises(SignalConfigError, match="not valid YAML"):
        load_signal_config(bad)


def test_thresholds_come_from_the_file(tmp_path):
    text = default_path().read_text(encoding="utf-8").replace("min_reviewers: 3 ", "min_reviewers: 8 ")
    path = tmp_path / "strict.yaml"
    path.write_text(text, encoding="utf-8")
    strict = ReviewSignalScorer(load_signal_config(path))
    item = listing(genuine(4) + [Review(TEMPLATE, f"d{i}", 5, at(10 + i)) for i in range(6)])
    assert "duplicate" not in signals_of(strict, item)
    assert "duplicate" in signals_of(ReviewSignalScorer(load_signal_config()), listing(item.reviews))


# -- duplicates ------------------------------------------------------------------------------------

def test_near_duplicate_texts_from_different_buyers(scorer_factory):
    variants = [TEMPLATE, TEMPLATE.replace("！", "!!"), TEMPLATE.replace("了", ""), TEMPLATE,
                TEMPLATE.replace("，", ","), TEMPLATE + "👍", TEMPLATE.replace("很快", "超快")]
    item = listing(genuine(4) + [Review(t, f"buyer{i}", 5, at(5 + 4.1 * i)) for i, t in enumerate(variants)])
    found = signals_of(scorer_factory(), item)["duplicate"]
    assert found.evidence["groups"][0]["reviewers"] == 7
    assert found.strength == 1.0
    assert len(found.review_indexes) == 7 and min(found.review_indexes) == 4  # only the copies, not the genuine ones
    assert "nearly the same" in found.summary


def test_same_short_praise_from_two_buyers_is_not_a_duplicate(scorer_factory):
    item = listing(genuine(8) + [Review("很好", "a1", 5, at(11.3)), Review("很好", "b2", 5, at(25.8))])
    assert scorer_factory().assess(item).score == 0.0


def test_one_reviewer_repeating_or_two_buyers_agreeing_is_not_a_duplicate_group(scorer_factory):
    same_person = listing(genuine(3) + [Review(TEMPLATE, "same", 5, at(i)) for i in range(5)], ident="a")
    two_buyers = listing(genuine(3) + [Review(TEMPLATE, f"p{i}", 5, at(i)) for i in range(2)], ident="b")
    scorer = scorer_factory()
    assert "duplicate" not in signals_of(scorer, same_person)
    assert "duplicate" not in signals_of(scorer, two_buyers)


def test_different_texts_sharing_an_opening_are_not_near_duplicates(scorer_factory):
    texts = ["收到了，质量不错，会回购", "收到了，质量不错，推荐", "收到了，质量不错，总体满意", "收到了，颜色比图片深一点"]
    item = listing([Review(t, f"u{i}", 5, at(i)) for i, t in enumerate(texts)])
    assert "duplicate" not in signals_of(scorer_factory(), item)


def test_duplicates_across_a_shops_listings(scorer_factory):
    scorer = scorer_factory()
    long_text = "这个收纳盒做工扎实，隔层设计很合理，装满了也不变形，值得买"
    first = [listing(genuine(3, prefix=f"x{n}", offset=3 * n) + [Review(long_text, f"ring{n}{k}", 5, at(3 + k)) for k in range(2)],
                     ident=str(n)) for n in range(2)]
    for item in first:
        assert "duplicate" not in signals_of(scorer, item)  # two copies per listing, four in the shop so far
    last = listing(genuine(3, prefix="x9", offset=9) + [Review(long_text, "ring9", 5, at(9))], ident="9")
    found = signals_of(scorer, last)["duplicate"]
    assert found.evidence["groups"][0]["reviewers"] == 5
    assert sorted(found.evidence["other_listings"]) == ["test:0", "test:1"]
    other_shop = listing([Review(long_text, "ring9", 5, at(9))], ident="10", shop="s2")
    assert "duplicate" not in signals_of(scorer, other_shop)


def test_a_text_written_in_many_shops_is_no_copy_across_listings_but_a_shops_own_script_is(scorer_factory):
    common = "第二次购买了，有点小瑕疵不影响使用，总体满意"  # written by buyers of many shops
    script = "这个收纳盒做工扎实，隔层设计很合理，装满了也不变形，值得买"  # only in shop s1
    items = [listing(genuine(3, prefix=f"x{n}", offset=3 * n) + [Review(common, f"c{n}{k}", 5, at(3 + k)) for k in range(2)]
                     + [Review(script, f"s{n}{k}", 5, at(4 + k)) for k in range(2)], ident=str(n)) for n in range(3)]
    scorer = scorer_factory()
    scorer.use_common_texts([common])  # as the store pass reads them: in 3 shops or more
    scorer.observe(items)
    found = {f.signal: f for f in scorer.assess(items[0], observed=True).findings}["duplicate"]
    assert [g["example"] for g in found.evidence["groups"]] == [script]
    plain = scorer_factory()  # without the market's view, the common text counts as a copy too
    plain.observe(items)
    found = {f.signal: f for f in plain.assess(items[0], observed=True).findings}["duplicate"]
    assert sorted(g["example"] for g in found.evidence["groups"]) == sorted([common, script])


def test_short_common_sentences_across_a_shop_are_not_duplicates(scorer_factory):
    scorer = scorer_factory()
    for n in range(6):  # real buyers of different products write "质量不错，会回购"
        item = listing([Review("质量不错，会回购", f"b{n}", 5, at(n)), Review("第二次购买了，味道和以前一样", f"c{n}", 4, at(n)),
                        *genuine(2, prefix=f"q{n}", offset=3 * n)], ident=str(n))
        assert "duplicate" not in signals_of(scorer, item)


# -- bursts ----------------------------------------------------------------------------------------

def test_burst_far_above_the_listings_own_rate(scorer_factory):
    base = [Review(VARIED[i % len(VARIED)], f"g{i}", 4, at(i + 0.3)) for i in range(30)]  # about one a day
    burst = [Review(f"支持一下{i}", f"b{i}", 5, at(33 + 0.58 + i * 0.0025)) for i in range(34)]  # 34 within 2 h
    found = signals_of(scorer_factory(), listing(base + burst))["burst"]
    assert found.evidence["count"] == 34
    assert found.evidence["baseline_per_day"] == pytest.approx(1.0, abs=0.1)
    assert set(found.review_indexes) == set(range(30, 64))
    assert found.evidence["window_start"].startswith("2024-06-03")


def test_steady_popular_listing_is_not_a_burst(scorer_factory):
    steady = [Review(VARIED[i % 12], f"g{i}", 5, at(i / 200)) for i in range(2000)]  # 200 a day for 10 days
    assert "burst" not in signals_of(scorer_factory(), listing(steady))


def test_few_reviews_close_together_are_not_a_burst(scorer_factory):
    few = [Review(VARIED[i], f"g{i}", 5, at(1 + i * 0.01)) for i in range(6)]
    assert "burst" not in signals_of(scorer_factory(), listing(few))


def test_no_times_no_burst(scorer_factory):
    untimed = [Review(f"支持一下{i}", f"b{i}", 5, None) for i in range(40)]
    assert "burst" not in signals_of(scorer_factory(), listing(untimed))


# -- short generic praise runs ---------------------------------------------------------------------

def test_run_of_short_generic_five_star_praise(scorer_factory):
    praise = ["好评", "不错", "很好", "满意", "好", "挺好的", "赞", "五星"]
    item = listing(genuine(3) + [Review(praise[n % 8], f"p{n}", 5, at(22 + 0.5 * n)) for n in range(16)])
    found = signals_of(scorer_factory(), item)["short_praise_run"]
    assert found.evidence["run"] == 16 and found.strength == 1.0


def test_short_praise_broken_up_by_real_reviews_or_low_ratings_is_no_run(scorer_factory):
    mixed = []
    for n in range(12):
        mixed.append(Review("很好", f"p{n}", 5, at(n)))
        if n % 3 == 2:
            mixed.append(Review(VARIED[n], f"g{n}", 4, at(n + 0.5)))
    low = [Review("不错", f"l{n}", 3, at(n)) for n in range(12)]
    scorer = scorer_factory()
    assert "short_praise_run" not in signals_of(scorer, listing(mixed, ident="m"))
    assert "short_praise_run" not in signals_of(scorer, listing(low, ident="l"))


def test_platform_default_texts_are_not_praise(scorer_factory):
    defaults = [Review("此用户没有填写评价。", f"d{n}", 5, at(n)) for n in range(12)]
    assert scorer_factory().assess(listing(defaults)).score == 0.0


def test_long_specific_reviews_are_not_generic(scorer_factory):
    item = listing([Review("很好，" + VARIED[n], f"g{n}", 5, at(n)) for n in range(12)])
    assert "short_praise_run" not in signals_of(scorer_factory(), item)


# -- rings -----------------------------------------------------------------------------------------

def _ring_market(ring_names, ring_shops=4, shops=30, customers=20):
    """`shops` shops with their own customers; the ring reviews `ring_shops` of them together."""
    items = []
    for n in range(shops):
        reviews = [Review(VARIED[(n + k) % len(VARIED)], f"shop{n}-buyer{k}", 4, at(k)) for k in range(customers)]
        if n < ring_shops:
            reviews += [Review(VARIED[(n + k) % len(VARIED)], name, 5, at(k)) for k, name in enumerate(ring_names)]
        items.append(listing(reviews, ident=f"i{n}", shop=f"s{n}"))
    return items


def test_reviewers_circling_the_same_shops(scorer_factory):
    scorer = scorer_factory()
    items = _ring_market(["刷手A", "刷手B", "刷手C", "刷手D"])
    scorer.observe(items)
    found = {f.signal: f for f in scorer.assess(items[0], observed=True).findings}["ring"]
    assert found.evidence["members"] == ["刷手A", "刷手B", "刷手C", "刷手D"]
    assert found.evidence["shared_shops"] == ["s0", "s1", "s2", "s3"]
    assert len(found.review_indexes) == 4
    assert "ring" not in {f.signal for f in scorer.assess(items[5], observed=True).findings}


def test_reviewer_index_read_from_pairs_finds_the_same_rings_as_tracking(scorer_factory):
    """The store pass loads the reviewer index from (platform, reviewer, shop) pairs instead of tracking
    reviewers listing by listing: both must see the same rings (masked names ignored in both)."""
    items = _ring_market(["刷手A", "刷手B", "刷手C", "刷手D", "a***b"])
    tracked = scorer_factory()
    tracked.observe(items)
    loaded = scorer_factory()
    pairs = sorted({(i.platform, r.reviewer, loaded.shop_key(i)) for i in items for r in i.reviews})
    loaded.use_reviewer_index(pairs)
    loaded.observe(items, track_reviewers=False)
    assert loaded.reviewer_count == tracked.reviewer_count == 30 * 20 + 4
    assert loaded.reviewer_shops == {k: v for k, v in tracked.reviewer_shops.items() if len(v) >= 2}
    for item in items:
        ring = [f.evidence for f in loaded.assess(item, observed=True).findings if f.signal == "ring"]
        assert ring == [f.evidence for f in tracked.assess(item, observed=True).findings if f.signal == "ring"]
    assert ring == [] and any(f.signal == "ring" for f in loaded.assess(items[0], observed=True).findings)


def test_reviewer_index_is_read_as_the_pairs_stream_in(scorer_factory):
    """A long run has millions of (platform, reviewer, shop) pairs: the index takes each reviewer as
    its pairs end, not after holding them all (holding them made the review pass's memory grow with
    the crawl's length)."""
    scorer = scorer_factory()
    seen_when_b_starts: list[bool] = []

    def pairs():
        yield from [("p", "A", "s1"), ("p", "A", "s2"), ("p", "B", "s1")]
        seen_when_b_starts.append("p:A" in scorer.reviewer_shops)  # A's pairs have ended with B's first
        yield ("p", "B", "s3")

    scorer.use_reviewer_index(pairs())
    assert seen_when_b_starts == [True]
    assert scorer.reviewer_shops == {"p:A": {"s1", "s2"}, "p:B": {"s1", "s3"}}


def test_store_pass_finds_a_ring_across_shops_in_the_store(db_url):
    from netwatch.analysis.reviews.store_pass import score_run
    from netwatch.store import Store

    items = _ring_market(["刷手A", "刷手B", "刷手C", "刷手D"])
    with Store(db_url) as store:
        run_id = store.start_run("test")
        for item in items:  # one shop per batch: the index must come from the store, not the batches
            store.save_batch(run_id, [item])
        stats = score_run(store, run_id)
        flagged = {lead["canonical_id"] for lead in _listing_leads(store, run_id)}
    assert stats["netwatch/review_signals/ring"] == 4
    assert stats["netwatch/review_signals/listings_scored"] == 30
    assert {"i0", "i1", "i2", "i3"} >= flagged


def _listing_leads(store, run_id):
    import sqlalchemy as sa

    from netwatch.store.models import Lead, ListingRow

    with store.reading() as conn:
        return [row._asdict() for row in conn.execute(
            sa.select(ListingRow.canonical_id, Lead.rule).join(Lead, Lead.subject_id == ListingRow.id)
            .where(Lead.subject == "listing", Lead.pack == PACK, Lead.last_run_id == run_id))]


def test_customers_shared_by_a_few_popular_shops_are_no_ring(scorer_factory):
    scorer = scorer_factory()
    items = []
    for n in range(4):  # four big shops whose many customers often buy from several of them
        reviews = [Review(VARIED[k % len(VARIED)], f"c{(k * (n + 1)) % 300}", 5, at(k)) for k in range(200)]
        items.append(listing(reviews, ident=f"p{n}", shop=f"big{n}"))
    scorer.observe(items)
    assert all("ring" not in {f.signal for f in scorer.assess(i, observed=True).findings} for i in items)


def test_masked_reviewer_names_never_form_a_ring(scorer_factory):
    scorer = scorer_factory()
    items = _ring_market(["a***b1", "a***b1x", "c***d2", "e***f3"])
    scorer.observe(items)
    assert "ring" not in {f.signal for f in scorer.assess(items[0], observed=True).findings}


def test_regular_customers_of_different_shops_are_no_ring(scorer_factory):
    scorer = scorer_factory()
    items = []
    for n in range(4):  # each reviewer visits three shops, but never the same three as another
        shops = [f"s{(n + k) % 9}" for k in (0, 3, 6)][:3]
        for k, shop in enumerate(shops):
            items.append(listing([Review(VARIED[k], f"regular{n}", 5, at(k))], ident=f"{n}-{k}", shop=f"{shop}-{n}"))
    scorer.observe(items)
    assert all("ring" not in {f.signal for f in scorer.assess(i, observed=True).findings} for i in items)


# -- phrases (the rule engine's fake_reviews pack) -------------------------------------------------

def test_cash_for_praise_phrase_in_a_review(scorer_factory):
    item = listing(genuine(7) + [Review("卖家说五星好评返5元，冲着这个买的，东西一般。", "c1", 5, at(20.4))])
    result = scorer_factory().assess(item)
    assert result.signals == ["phrase"]
    assert result.review_signals[7] == ("phrase",) and result.review_scores[7] > 0
    assert result.review_scores[:7] == [0.0] * 7


def test_genuine_reviews_have_no_phrase(scorer_factory):
    assert scorer_factory().assess(listing(genuine(12))).score == 0.0


# -- combined score, hit and evidence --------------------------------------------------------------

def _burst_and_copies():
    base = [Review(VARIED[i % len(VARIED)], f"g{i}", 4, at(i + 0.3)) for i in range(30)]
    return base + [Review(TEMPLATE, f"b{i}", 5, at(33.6 + i * 0.005)) for i in range(30)]


def test_combined_score_orders_listings_by_evidence(scorer_factory):
    scorer = scorer_factory()
    both = scorer.assess(listing(_burst_and_copies(), ident="both"))
    copies = scorer.assess(listing(genuine(5) + [Review(TEMPLATE, f"c{i}", 5, at(9 + i)) for i in range(7)], ident="copies"))
    weak = scorer.assess(listing(genuine(5) + [Review(w, f"w{i}", 5, at(20 + i)) for i, w in enumerate(["好评", "不错", "很好", "满意", "好"])], ident="weak"))
    clean = scorer.assess(listing(genuine(12), ident="clean"))
    assert set(both.signals) == {"burst", "duplicate"}
    assert both.score > copies.score > weak.score > clean.score == 0.0
    threshold = scorer.config.lead_threshold
    assert both.score >= threshold and copies.score >= threshold and weak.score < threshold
    copy_review = both.review_scores[45]
    assert copy_review > max(both.review_scores[:30]) == 0.0
    assert both.review_signals[45] == ("duplicate", "burst")


def test_lead_hit_names_signals_and_quotes_examples(scorer_factory):
    scorer = scorer_factory()
    item = listing(_burst_and_copies(), ident="lead")
    result = scorer.apply(item)
    hits = [h for h in item.hits if h.pack == PACK]
    assert len(hits) == 1
    hit = hits[0]
    assert hit.category == "fake_reviews" and hit.field == "review" and hit.rule == "brushing_score"
    assert hit.severity == ("high" if result.score >= scorer.config.high_severity_from else "medium")
    assert "duplicate:" in hit.match and "burst:" in hit.match and f"{result.score:.2f}" in hit.match
    assert "「宝贝收到了" in hit.context and "b0" in hit.context
    assert hit.legal_basis == "《电子商务法》第十七条；《反不正当竞争法》第八条"


def test_listing_below_threshold_gets_no_hit(scorer_factory):
    item = listing(genuine(10) + [Review("很好", "a", 5, at(3)), Review("很好", "b", 5, at(4))])
    scorer_factory().apply(item)
    assert item.hits == []


def test_phrase_only_listing_keeps_the_rule_packs_lead_alone(scorer_factory):
    from netwatch.checks.text import default_engine

    item = listing(genuine(5) + [Review("好评返现，加微信领红包", "c", 5, at(9))])
    for review in item.reviews:
        item.hits.extend(default_engine().check(review.text, field="review"))
    assert any(h.category == "fake_reviews" for h in item.hits)
    before = list(item.hits)
    result = scorer_factory().apply(item)
    assert result.signals == ["phrase"] and item.hits == before  # no second lead for the same phrase


def test_reviews_without_reviewer_or_rating_still_score(scorer_factory):
    item = listing([Review(TEMPLATE, None, None, None) for _ in range(6)] + [Review(t) for t in VARIED[:4]])
    result = scorer_factory().assess(item)
    assert result.signals == ["duplicate"]


def test_review_pass_statistics_join_the_runs_fake_review_hits():
    from netwatch.analysis.reviews.store_pass import with_review_stats

    merged = with_review_stats({"netwatch/hits/fake_reviews": 2, "response_received_count": 9},
                               {"netwatch/review_signals/leads": 3, "netwatch/review_signals/seconds": 0.5})
    assert merged == {"netwatch/hits/fake_reviews": 5, "response_received_count": 9, "netwatch/review_signals/leads": 3,
                      "netwatch/review_signals/seconds": 0.5}
    assert "netwatch/hits/fake_reviews" not in with_review_stats({}, {"netwatch/review_signals/leads": 0})
