"""The review signals, one function each, computed over one listing's reviews (and, for duplicates and
rings, the shop context that netwatch.analysis.reviews.scoring keeps). Each returns a Finding or None.

A Finding carries its strength (0..1), a one-sentence summary for the analyst, the indexes of the
listing's reviews involved, and the evidence (windows, duplicate texts, ring members).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from netwatch.analysis.reviews.config import BurstConfig, DuplicateConfig, RingConfig, ShortPraiseConfig
from netwatch.analysis.reviews.text import GenericPraise

SIGNALS = ("phrase", "duplicate", "burst", "short_praise_run", "ring")


@dataclass(frozen=True)
class Finding:
    signal: str  # one of SIGNALS
    strength: float  # 0..1
    summary: str  # one sentence an analyst can read
    review_indexes: tuple[int, ...]  # positions in the listing's review list
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ReviewView:
    """What the signals need of one review: its normalised text, time, reviewer and rating."""

    index: int
    text: str
    key: str  # normalised text (netwatch.analysis.reviews.text.normalize_text)
    reviewer: str | None
    rating: float | None
    timestamp: float | None  # seconds since the epoch, UTC
    review_id: str | None = None


def parse_time(value: Any) -> float | None:
    """ISO 8601 text (or a datetime) -> epoch seconds; naive times are taken as UTC; junk -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")


def reviewer_identity(listing_key: str, view: ReviewView) -> str:
    """A review without a reviewer name counts as its own buyer (never merged with another)."""
    return view.reviewer or f"{listing_key}#{view.index}"


def phrase_finding(
    reviews: Sequence[ReviewView], phrase_check: Callable[[str], list[str]], listing_phrases: Iterable[str] = ()
) -> Finding | None:
    """Cash-for-praise / brushing phrases in review texts (found by the rule engine) or in the listing's text."""
    matched: dict[int, list[str]] = {}
    for view in reviews:
        phrases = phrase_check(view.text) if view.text else []
        if phrases:
            matched[view.index] = phrases
    listing_phrases = sorted(set(listing_phrases))
    if not matched and not listing_phrases:
        return None
    terms = sorted({p for ps in matched.values() for p in ps} | set(listing_phrases))
    where = []
    if matched:
        where.append(f"{len(matched)} review(s)")
    if listing_phrases:
        where.append("the listing text")
    return Finding(
        "phrase",
        1.0,
        f"cash-for-praise wording ({'、'.join(terms[:4])}) in {' and '.join(where)}",
        tuple(sorted(matched)),
        {"phrases": terms, "listing_phrases": listing_phrases},
    )


def burst_finding(reviews: Sequence[ReviewView], cfg: BurstConfig) -> Finding | None:
    """The busiest `window_hours` window against the listing's own rate outside that window."""
    timed = sorted((v.timestamp, v.index) for v in reviews if v.timestamp is not None)
    if len(timed) < cfg.min_reviews:
        return None
    window = cfg.window_hours * 3600
    best, best_start, lo = 0, 0, 0
    for hi in range(len(timed)):
        while timed[hi][0] - timed[lo][0] > window:
            lo += 1
        if hi - lo + 1 > best:
            best, best_start = hi - lo + 1, lo
    if best < cfg.min_reviews:
        return None
    outside = len(timed) - best
    span_days = max((timed[-1][0] - timed[0][0] - window) / 86400, 1.0)
    per_day = max(outside / span_days, cfg.min_baseline_per_day)
    expected = per_day * cfg.window_hours / 24
    ratio = best / expected
    if ratio < cfg.min_ratio:
        return None
    members = timed[best_start : best_start + best]
    start, end = members[0][0], members[-1][0]
    strength = min(1.0, (best - cfg.min_reviews + 1) / max(cfg.full_at_reviews - cfg.min_reviews + 1, 1))
    return Finding(
        "burst",
        strength,
        f"{best} reviews within {cfg.window_hours:g} h ({_iso(start)}–{_iso(end)} UTC) against a usual {per_day:.1f} a day",
        tuple(sorted(i for _, i in members)),
        {"window_start": _iso(start), "window_end": _iso(end), "count": best, "baseline_per_day": round(per_day, 2),
         "ratio": round(ratio, 1)},
    )


def short_praise_finding(reviews: Sequence[ReviewView], cfg: ShortPraiseConfig, generic: GenericPraise) -> Finding | None:
    """The longest unbroken run (in time order when times are known) of short generic top-rating reviews."""
    ordered = sorted(reviews, key=lambda v: (v.timestamp is None, v.timestamp or 0.0, v.index))
    best: list[ReviewView] = []
    run: list[ReviewView] = []
    for view in ordered:
        top = view.rating is None or view.rating >= cfg.top_rating
        if top and not generic.is_default(view.key) and generic.is_generic(view.key):
            run.append(view)
            if len(run) > len(best):
                best = list(run)
        else:
            run = []
    if len(best) < cfg.min_run:
        return None
    strength = min(1.0, (len(best) - cfg.min_run + 1) / max(cfg.full_at_run - cfg.min_run + 1, 1))
    texts = Counter(v.text.strip() for v in best)
    sample = "、".join(f"「{t}」" for t, _ in texts.most_common(3))
    return Finding(
        "short_praise_run",
        strength,
        f"{len(best)} short generic top-rating reviews in a row ({sample})",
        tuple(sorted(v.index for v in best)),
        {"run": len(best), "texts": dict(texts.most_common(5))},
    )


class DuplicateLookup:
    """What the duplicate finding needs from the shop context (netwatch.analysis.reviews.shop_context.ShopContext)."""

    def near_keys(self, key: str) -> set[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def occurrences(self, key: str) -> list[tuple[str, str]]:  # pragma: no cover - interface
        """(listing key, reviewer) of every review in the shop with this normalised text."""
        raise NotImplementedError

    def is_common(self, key: str) -> bool:
        """The text is written in many shops (a common phrase): no evidence of copying across listings."""
        return False


def duplicate_finding(
    reviews: Sequence[ReviewView], listing_key: str, lookup: DuplicateLookup, cfg: DuplicateConfig, generic: GenericPraise
) -> Finding | None:
    """Groups of the same or nearly the same text from different reviewers, in this listing or across the shop."""
    by_key: dict[str, list[ReviewView]] = {}
    for view in reviews:
        if len(view.key) >= cfg.min_chars and not generic.is_default(view.key):
            by_key.setdefault(view.key, []).append(view)
    if not by_key:
        return None
    near = {key: lookup.near_keys(key) | {key} for key in by_key}
    # Union the listing's own texts that are near each other into groups.
    parent = {key: key for key in by_key}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for key, others in near.items():
        for other in others:
            if other in parent:
                parent[root(other)] = root(key)
    groups: dict[str, list[str]] = {}
    for key in by_key:
        groups.setdefault(root(key), []).append(key)

    firing: list[tuple[int, list[str], set[str], set[str], int, bool]] = []
    for keys in groups.values():
        in_listing = [v for k in keys for v in by_key[k]]
        reviewers_here = {reviewer_identity(listing_key, v) for v in in_listing}
        shop_keys = set().union(*(near[k] for k in keys))
        listings: set[str] = {listing_key}
        reviewers = set(reviewers_here)
        for k in shop_keys:
            if lookup.is_common(k):
                continue
            for other_listing, reviewer in lookup.occurrences(k):
                listings.add(other_listing)
                reviewers.add(reviewer)
        across_shop = (len(listings) > 1 and len(reviewers) >= cfg.cross_listing_min_reviewers
                       and min(len(k) for k in keys) >= cfg.cross_listing_min_chars)
        if len(reviewers_here) >= cfg.min_reviewers or across_shop:
            exact = len(shop_keys) == 1
            firing.append((len(reviewers), keys, listings, reviewers_here, len(in_listing), exact))
    if not firing:
        return None
    firing.sort(key=lambda g: -g[0])
    count, keys, listings, reviewers_here, in_listing, exact = firing[0]
    indexes = tuple(sorted(v.index for group in firing for k in group[1] for v in by_key[k]))
    example = by_key[keys[0]][0].text.strip()
    others = sorted(set().union(*(g[2] for g in firing)) - {listing_key})
    where = "on this listing" if len(listings) == 1 else f"on this listing and {len(listings) - 1} other listing(s) of the shop"
    what = "the same text" if exact else "the same or nearly the same text"
    more = f"; {len(firing) - 1} more such group(s)" if len(firing) > 1 else ""
    strength = min(1.0, (count - cfg.min_reviewers + 1) / max(cfg.full_at_reviewers - cfg.min_reviewers + 1, 1))
    return Finding(
        "duplicate",
        strength,
        f"{count} different reviewers posted {what} {where} (「{example[:30]}」){more}",
        indexes,
        {"groups": [{"reviewers": g[0], "reviews_on_listing": g[4], "example": by_key[g[1][0]][0].text.strip()[:60],
                     "other_listings": sorted(g[2] - {listing_key})[:10]} for g in firing[:10]],
         "other_listings": others[:10]},
    )


def ring_finding(
    reviews: Sequence[ReviewView], ring_peers: Callable[[str], tuple[list[str], list[str]]], cfg: RingConfig
) -> Finding | None:
    """Reviewers of this listing who, with others, review the same several shops.

    `ring_peers(reviewer)` gives the reviewers who share at least `min_shared_shops` shops with this one,
    and those shops."""
    ignored = cfg.ignored()
    members: dict[str, list[int]] = {}
    peers_of: dict[str, list[str]] = {}
    shops: set[str] = set()
    checked: dict[str, bool] = {}
    for view in reviews:
        name = view.reviewer
        if name is None or ignored.search(name):
            continue
        if name not in checked:
            peers, shared = ring_peers(name)
            checked[name] = len(peers) >= cfg.min_ring_size - 1
            if checked[name]:
                peers_of[name] = peers
                shops.update(shared)
        if checked[name]:
            members.setdefault(name, []).append(view.index)
    if len(members) < cfg.min_ring_reviewers:
        return None
    count = len(members)
    strength = min(1.0, (count - cfg.min_ring_reviewers + 1) / max(cfg.full_at_ring_reviewers - cfg.min_ring_reviewers + 1, 1))
    names = sorted(members)
    return Finding(
        "ring",
        strength,
        f"{count} reviewers of this listing ({'、'.join(names[:4])}…) also review the same {len(shops)} shops together",
        tuple(sorted(i for idx in members.values() for i in idx)),
        {"members": names[:20], "shared_shops": sorted(shops)[:20]},
    )


def noisy_or(parts: Iterable[float]) -> float:
    """1 - Π(1 - p): any one strong part can carry the score; weak parts add up without passing 1."""
    rest = 1.0
    for part in parts:
        rest *= 1.0 - min(max(part, 0.0), 1.0)
    return 1.0 - rest


def round_score(value: float) -> float:
    return math.floor(value * 1000 + 0.5) / 1000
