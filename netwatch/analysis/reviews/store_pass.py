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
from collections.abc import Mapping, Sequence
from typing import Any

from netwatch.analysis.reviews.scoring import CATEGORY, PACK, ReviewSignalScorer
from netwatch.checks.text import Hit
from netwatch.domain.items import Listing
from netwatch.store.review_reads import ListingRef, common_texts, listing_groups, reviewer_shop_pairs, stored_reviews

LISTINGS_PER_SAVE = 500  # leads saved per transaction
LEADS_STAT = "netwatch/review_signals/leads"
HITS_STAT = f"netwatch/hits/{CATEGORY}"  # the run's fake_reviews hits, which the pass's leads join


def score_run(store, run_id: int, *, scorer: ReviewSignalScorer | None = None,
              signals_file: str | None = None) -> dict[str, float]:
    """Score the reviews of every listing seen in `run_id` and save a fake_reviews lead (rule
    brushing_score) for each listing past the threshold. Returns statistics for the run's record."""
    started = time.perf_counter()
    if scorer is None:
        from netwatch.analysis.reviews.config import load_signal_config

        scorer = ReviewSignalScorer(load_signal_config(signals_file))
    scorer.use_reviewer_index(reviewer_shop_pairs(store, run_id))
    scorer.use_common_texts(common_texts(store, run_id, scorer.config.duplicate.cross_listing_common_in_shops))
    counts: Counter[str] = Counter()
    pending: list[Listing] = []
    for group in listing_groups(store, run_id):
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


def _with_reviews(store, run_id: int, refs: Sequence[ListingRef]) -> tuple[list[Listing], set[str]]:  # type: ignore[no-untyped-def]
    """The listings with their stored reviews and the fake_reviews hits the rule packs raised on their
    own text this run (a listing whose description already names the phrase needs no second lead for it);
    and the canonical ids of those whose reviews the rule packs found a fake_reviews phrase in."""
    found = stored_reviews(store, run_id, [ref.id for ref in refs], category=CATEGORY, other_than_pack=PACK)
    listings = [Listing(url=ref.url, canonical_id=ref.canonical_id, platform=ref.platform, shop_id=ref.shop_id,
                        reviews=found.reviews[ref.id], hits=[Hit(*hit) for hit in found.rule_hits[ref.id]])
                for ref in refs if found.reviews[ref.id]]
    return listings, {ref.canonical_id for ref in refs if ref.id in found.phrased}
