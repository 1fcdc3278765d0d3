"""Scores the reviews a run stored, shop by shop, once the run's writes are done.

Why after the crawl and over the store: shop-level signals (one text on several of a shop's listings,
reviewers circling the same shops) need all of a shop's listings. Scored while pages arrived, a listing
was judged only against the listings fetched before it, so a lead could appear one night and vanish
the next with nothing changed; the state grew with the crawl's length; and each distributed worker saw
only its share. Here every listing the run saw (fetched, or skipped as unchanged) is judged against all
of its shop, one shop in memory at a time; the reviewer index for rings is read in one sorted pass and
keeps only reviewers seen in two or more shops. Distributed crawls run this once, on the coordinator.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netwatch.domain.items import Listing, Review
from netwatch.checks.text import Hit
from netwatch.analysis.reviews.scoring import CATEGORY, PACK, ReviewSignalScorer
from netwatch.store.models import Lead, LeadHit, ListingRow, ReviewRow, ShopRow

LISTINGS_PER_SAVE = 500  # leads saved per transaction
SHOPLESS_CHUNK = 500  # listings without a shop are each their own shop: scored in chunks
IDS_PER_QUERY = 5_000  # below every database's limit on bound parameters
LEADS_STAT = "netwatch/review_signals/leads"
HITS_STAT = f"netwatch/hits/{CATEGORY}"  # the run's fake_reviews hits, which the pass's leads join


@dataclass(frozen=True)
class _ListingRef:
    id: int
    platform: str
    canonical_id: str
    url: str
    shop_id: str | None


def score_run(store, run_id: int, *, scorer: ReviewSignalScorer | None = None,
              signals_file: str | None = None) -> dict[str, float]:
    """Score the reviews of every listing seen in `run_id` and save a fake_reviews lead (rule
    brushing_score) for each listing past the threshold. Returns statistics for the run's record."""
    started = time.perf_counter()
    if scorer is None:
        from netwatch.analysis.reviews.config import load_signal_config

        scorer = ReviewSignalScorer(load_signal_config(signals_file))
    with store.reading() as conn:
        scorer.use_reviewer_index(_reviewer_shop_pairs(conn, run_id))
        scorer.use_common_texts(_common_texts(conn, run_id, scorer.config.duplicate.cross_listing_common_in_shops))
    counts: Counter[str] = Counter()
    pending: list[Listing] = []
    for group in _listing_groups(store, run_id):
        listings, phrased = _with_reviews(store, run_id, group)
        scorer.observe(listings, track_reviewers=False)
        for listing in listings:
            # The crawl's rule step already read every review: where it found no cash-for-praise phrase,
            # reading them again would find none (a third of this pass's time).
            result = scorer.assess(listing, observed=True, check_phrases=listing.canonical_id in phrased)
            counts["listings_scored"] += 1
            counts.update(result.signals)
            hit = scorer.to_hit(result, listing)
            if hit is not None:
                counts["leads"] += 1
                pending.append(Listing(url=listing.url, canonical_id=listing.canonical_id, platform=listing.platform,
                                       shop_id=listing.shop_id, hits=[hit]))
        for key in {scorer.shop_key(listing) for listing in listings}:
            scorer.forget_shop(key)
        if len(pending) >= LISTINGS_PER_SAVE:
            store.save_batch(run_id, pending)
            pending = []
    if pending:
        store.save_batch(run_id, pending)
    stats: dict[str, float] = {f"netwatch/review_signals/{name}": value for name, value in sorted(counts.items())}
    stats["netwatch/review_signals/seconds"] = round(time.perf_counter() - started, 3)
    return stats


def with_review_stats(stats: Mapping[str, Any], found: Mapping[str, float]) -> dict[str, Any]:
    """A run's statistics with the review pass's (`score_run`) added: its leads count among the run's
    fake_reviews hits, as the rule packs' do."""
    merged = {**stats, **found}
    if found.get(LEADS_STAT):
        merged[HITS_STAT] = merged.get(HITS_STAT, 0) + found[LEADS_STAT]
    return merged


def _seen_in_run(run_id: int):  # noqa: ANN202 - a SQL condition
    return sa.and_(ListingRow.last_run_id == run_id, ListingRow.active.is_(True))


def _reviewer_shop_pairs(conn: sa.Connection, run_id: int) -> Iterator[tuple[str, str, str]]:
    """(platform, reviewer, shop key) once each, sorted, for the reviews of the run's listings."""
    shop_key = sa.case((ShopRow.shop_id.is_not(None), ListingRow.platform + ":shop:" + ShopRow.shop_id),
                       else_=ListingRow.platform + ":" + ListingRow.canonical_id)
    query = (sa.select(ListingRow.platform, ReviewRow.reviewer, shop_key).distinct()
             .join(ListingRow, ListingRow.id == ReviewRow.listing_id)
             .outerjoin(ShopRow, ShopRow.id == ListingRow.shop_ref)
             .where(_seen_in_run(run_id), ReviewRow.reviewer.is_not(None))
             .order_by(ListingRow.platform, ReviewRow.reviewer))
    for row in conn.execution_options(stream_results=True, yield_per=10_000).execute(query):
        yield row[0], row[1], row[2]


def _common_texts(conn: sa.Connection, run_id: int, shops: int) -> list[str]:
    """Review texts of the run's listings found in `shops` shops or more."""
    return list(conn.scalars(
        sa.select(ReviewRow.text).join(ListingRow, ListingRow.id == ReviewRow.listing_id)
        .where(_seen_in_run(run_id), ListingRow.shop_ref.is_not(None), ReviewRow.text != "")
        .group_by(ReviewRow.text).having(sa.func.count(ListingRow.shop_ref.distinct()) >= shops)))


def _listing_groups(store, run_id: int) -> Iterator[list[_ListingRef]]:
    """The run's listings, one shop at a time (listings without a shop in chunks)."""
    columns = (ListingRow.id, ListingRow.platform, ListingRow.canonical_id, ListingRow.url, ShopRow.shop_id)
    with store.reading() as conn:
        shop_refs = conn.scalars(sa.select(ListingRow.shop_ref).distinct().where(
            _seen_in_run(run_id), ListingRow.shop_ref.is_not(None)).order_by(ListingRow.shop_ref)).all()
    for shop_ref in shop_refs:
        with store.reading() as conn:
            rows = conn.execute(sa.select(*columns).join(ShopRow, ShopRow.id == ListingRow.shop_ref).where(
                _seen_in_run(run_id), ListingRow.shop_ref == shop_ref).order_by(ListingRow.id)).all()
        yield [_ListingRef(*row) for row in rows]
    after = 0
    while True:
        with store.reading() as conn:
            rows = conn.execute(sa.select(*columns[:4], sa.null()).where(
                _seen_in_run(run_id), ListingRow.shop_ref.is_(None), ListingRow.id > after)
                .order_by(ListingRow.id).limit(SHOPLESS_CHUNK)).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [_ListingRef(*row) for row in rows]


def _with_reviews(store, run_id: int, refs: Sequence[_ListingRef]) -> tuple[list[Listing], set[str]]:
    """The listings with their stored reviews and the fake_reviews hits the rule packs raised on their
    own text this run (a listing whose description already names the phrase needs no second lead for it);
    and the canonical ids of those whose reviews the rule packs found a fake_reviews phrase in."""
    ids = [ref.id for ref in refs]
    phrased: set[int] = set()
    reviews: dict[int, list[Review]] = {listing_id: [] for listing_id in ids}
    rule_hits: dict[int, list[Hit]] = {listing_id: [] for listing_id in ids}
    with store.reading() as conn:
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            for listing_id, text, reviewer, rating, when, key in conn.execute(
                    sa.select(ReviewRow.listing_id, ReviewRow.text, ReviewRow.reviewer, ReviewRow.rating,
                              ReviewRow.time, ReviewRow.review_key)
                    .where(ReviewRow.listing_id.in_(chunk)).order_by(ReviewRow.listing_id, ReviewRow.id)):
                reviews[listing_id].append(Review(text, reviewer, rating, when, key))
            for listing_id, *hit in conn.execute(
                    sa.select(Lead.subject_id, Lead.pack, Lead.rule, Lead.category, Lead.severity, LeadHit.field,
                              LeadHit.start, LeadHit.end, LeadHit.match, LeadHit.context, Lead.legal_basis)
                    .join(LeadHit, LeadHit.lead_id == Lead.id)
                    .where(Lead.subject == "listing", Lead.subject_id.in_(chunk), Lead.category == CATEGORY,
                           Lead.pack != PACK, LeadHit.run_id == run_id, LeadHit.field != "review")):
                rule_hits[listing_id].append(Hit(*hit))  # in Hit's field order
            phrased.update(conn.scalars(
                sa.select(Lead.subject_id).distinct().join(LeadHit, LeadHit.lead_id == Lead.id)
                .where(Lead.subject == "listing", Lead.subject_id.in_(chunk), Lead.category == CATEGORY,
                       Lead.pack != PACK, LeadHit.run_id == run_id, LeadHit.field == "review")))
    listings = [Listing(url=ref.url, canonical_id=ref.canonical_id, platform=ref.platform, shop_id=ref.shop_id,
                        reviews=reviews[ref.id], hits=rule_hits[ref.id]) for ref in refs if reviews[ref.id]]
    return listings, {ref.canonical_id for ref in refs if ref.id in phrased}
