"""Review signals on the demo marketplace, over HTTP: every planted brushing listing becomes a
fake_reviews lead, and no genuine listing or trap does. Also the pass that scores a crawl's stored reviews."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
import sqlalchemy as sa

from netwatch.analysis.reviews import PACK, ReviewSignalScorer
from netwatch.domain.items import Listing, Review
from netwatch.store.models import Lead, ListingRow


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read().decode("utf-8")


def mall_listing(base: str, item_id: str) -> Listing:
    page = fetch(f"{base}/item/{item_id}")
    shop = re.search(r'class="seller"[^>]*href="/shop/(\d+)"|href="/shop/(\d+)"[^>]*class="seller"', page)
    reviews, page_no, pages = [], 1, 1
    while page_no <= pages:
        data = json.loads(fetch(f"{base}/api/reviews?item={item_id}&page={page_no}"))
        pages = data["pages"]
        reviews += [Review(r["content"], r["user"], r["rating"], r["time"], str(r["id"])) for r in data["reviews"]]
        page_no += 1
    return Listing(url=f"{base}/item/{item_id}", canonical_id=item_id, platform="netmall",
                   shop_id=next(g for g in shop.groups() if g) if shop else None, reviews=reviews)


@pytest.fixture(scope="module")
def mall_items(mall):
    base = mall.urls["netmall"]
    entries = [e for e in mall.manifest["entries"] if e["site"] == "netmall" and e["kind"] == "listing"]
    planted = {e["id"]: e for e in entries}
    # All planted and trap listings, plus the first genuine listings of every shop's item list.
    ids = list(planted)
    for shop_page in re.findall(r'href="/shop/(\d+)"', fetch(f"{base}/shops?page=1")):
        listing_ids = re.findall(r'href="/item/(\d+)"', fetch(f"{base}/shop/{shop_page}/items?page=1"))
        ids += [i for i in listing_ids[:4] if i not in planted]
    return [mall_listing(base, i) for i in dict.fromkeys(ids)], planted


def test_planted_brushing_becomes_leads_and_genuine_reviews_do_not(mall_items):
    from netwatch.checks.text import default_engine

    items, planted = mall_items
    engine = default_engine()
    scorer = ReviewSignalScorer()
    flagged = set()
    for item in items:
        for review in item.reviews:  # the rule step, as the match pipeline runs it on reviews
            item.hits.extend(engine.check(review.text, "review"))
        scorer.apply(item)
        if any(h.category == "fake_reviews" for h in item.hits):
            flagged.add(item.canonical_id)
    by_review = {i.canonical_id for i in items if i.reviews}
    brushing = {i for i, e in planted.items() if "fake_reviews" in e["categories"] and i in by_review
                and any(word in e["note"] for word in ("buyers", "burst", "generic", "五星好评返"))}
    assert len(brushing) >= 4  # duplicates, burst, generic run, cash-for-praise review
    assert brushing <= flagged
    genuine = {i.canonical_id for i in items} - {i for i, e in planted.items() if "fake_reviews" in e["categories"]}
    assert len(genuine) >= 20 and not (flagged & genuine)
    trap = next(i for i, e in planted.items() if "很好" in e["note"])
    assert trap in {i.canonical_id for i in items} and trap not in flagged


def _store_and_score(db_url: str, items: list[Listing]) -> tuple[set[str], dict]:
    """Store fresh copies of the items in one run, score the run's reviews, return the flagged ids."""
    from netwatch.analysis.reviews.store_pass import score_run
    from netwatch.store import Store

    fresh = [Listing(url=i.url, canonical_id=i.canonical_id, platform=i.platform, shop_id=i.shop_id,
                     reviews=list(i.reviews)) for i in items]
    with Store(db_url) as store:
        run_id = store.start_run("test")
        for start in range(0, len(fresh), 7):  # several batches, as a crawl stores them
            store.save_batch(run_id, fresh[start : start + 7])
        stats = score_run(store, run_id)
        with store.reading() as conn:
            flagged = set(conn.scalars(sa.select(ListingRow.canonical_id).join(
                Lead, Lead.subject_id == ListingRow.id).where(Lead.subject == "listing", Lead.pack == PACK,
                                                              Lead.last_run_id == run_id)))
    return flagged, stats


def test_store_pass_scores_stored_reviews_and_reports_stats(mall_items, db_url):
    items, planted = mall_items
    flagged, stats = _store_and_score(db_url, items)
    assert stats["netwatch/review_signals/listings_scored"] == sum(1 for i in items if i.reviews)
    assert stats["netwatch/review_signals/leads"] == len(flagged) >= 3
    assert stats.get("netwatch/review_signals/burst", 0) >= 1 and stats.get("netwatch/review_signals/duplicate", 0) >= 1
    assert all("fake_reviews" in planted[i]["categories"] for i in flagged)


def test_store_pass_does_not_depend_on_the_order_listings_were_stored(mall_items, tmp_path):
    """The same market stored in two orders gives the same leads: shop-level signals are judged
    once the whole shop is in, not against whichever listings happened to arrive first."""
    items, _ = mall_items
    forward, _ = _store_and_score(f"sqlite:///{tmp_path / 'forward.db'}", items)
    backward, _ = _store_and_score(f"sqlite:///{tmp_path / 'backward.db'}", items[::-1])
    assert forward == backward and forward
