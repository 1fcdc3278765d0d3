"""Combines the review signals into a score per review and per listing, keeps the shop-level context
(duplicate texts across a shop's listings, reviewers circling the same shops), and turns a listing
that passes the threshold into a `fake_reviews` hit.

`ReviewSignalScorer.apply(listing)` is the one per-item step. Callers observe a whole shop first, then
score its listings (`observed=True`), so every listing is judged against all of its shop: the import
observes the whole file; a crawl's stored reviews are scored shop by shop after the crawl
(netwatch.analysis.reviews.store_pass), with the reviewer index for rings read from the store in one pass.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from math import prod
from typing import Any

from netwatch.analysis.reviews.config import SignalConfig, default_signal_config
from netwatch.analysis.reviews.shop_context import ShopContext
from netwatch.analysis.reviews.signals import (
    Finding,
    ReviewView,
    burst_finding,
    duplicate_finding,
    noisy_or,
    parse_time,
    phrase_finding,
    reviewer_identity,
    ring_finding,
    round_score,
    short_praise_finding,
)
from netwatch.analysis.reviews.text import GenericPraise, minhash_signatures, normalize_text, shingles
from netwatch.domain.items import Listing

RULE = "brushing_score"
PACK = "review_signals"
CATEGORY = "fake_reviews"

PhraseCheck = Callable[[str], list[str]]


def _no_phrases(text: str) -> list[str]:
    return []


def rule_engine_phrases() -> PhraseCheck:
    """Cash-for-praise phrases as the rule engine's fake_reviews pack finds them in a review."""
    from netwatch.checks.text import default_engine

    engine = default_engine()

    def check(text: str) -> list[str]:
        return [hit.match for hit in engine.check(text, field="review") if hit.category == CATEGORY]

    return check


@dataclass
class ListingScore:
    listing_key: str
    score: float
    findings: list[Finding]
    review_scores: list[float]  # one per review, in the listing's order
    review_signals: list[tuple[str, ...]]  # signal names each review takes part in
    reviews: Sequence[Any] = field(default_factory=list)  # the listing's Review objects

    @property
    def signals(self) -> list[str]:
        return [f.signal for f in self.findings]


class ReviewSignalScorer:
    """Scores listings' reviews with the configured signals. Build one per crawl or import."""

    def __init__(
        self,
        config: SignalConfig | None = None,
        phrase_check: PhraseCheck | None = None,
        *,
        max_shops: int = 5_000,
        max_texts_per_shop: int = 200_000,
        max_reviewers: int = 2_000_000,
    ):
        self.config = config or default_signal_config()
        self.phrase_check = phrase_check if phrase_check is not None else rule_engine_phrases()
        cfg = self.config
        self.generic = GenericPraise(cfg.generic_praise, cfg.default_texts, cfg.short_praise_run.max_chars,
                                     cfg.short_praise_run.min_generic_share)
        from datasketch import MinHashLSH

        # datasketch picks the band layout; weighted towards few missed pairs (0.9) over few false
        # candidates (0.1), because every candidate is then verified on its exact shingles.
        lsh = MinHashLSH(threshold=cfg.duplicate.similarity, num_perm=cfg.duplicate.num_perm, weights=(0.1, 0.9))
        self._bands, self._rows = lsh.b, lsh.r
        self.weights = {
            "phrase": cfg.phrase.weight,
            "duplicate": cfg.duplicate.weight,
            "burst": cfg.burst.weight,
            "short_praise_run": cfg.short_praise_run.weight,
            "ring": cfg.ring.weight,
        }
        self.max_shops, self.max_texts_per_shop, self.max_reviewers = max_shops, max_texts_per_shop, max_reviewers
        self.shops: OrderedDict[str, ShopContext] = OrderedDict()
        self.reviewer_shops: dict[str, set[str]] = {}
        self.shop_regulars: dict[str, set[str]] = {}  # shop -> reviewers seen in 2+ shops
        self.shop_reviewers: Counter[str] = Counter()  # shop -> distinct reviewers seen
        self.reviewer_count = 0  # distinct reviewers seen, for the chance of sharing shops
        self._ring_memo: dict[str, tuple[list[str], list[str]]] = {}
        self._ignored_reviewer = self.config.ring.ignored()
        self._views: dict[str, list[ReviewView]] = {}
        self.common_texts: frozenset[str] = frozenset()

    # -- keys -------------------------------------------------------------------------------------
    @staticmethod
    def listing_key(listing: Listing) -> str:
        return f"{listing.platform}:{listing.canonical_id}"

    @staticmethod
    def shop_key(listing: Listing) -> str:
        if listing.shop_id:
            return f"{listing.platform}:shop:{listing.shop_id}"
        return f"{listing.platform}:{listing.canonical_id}"

    def views(self, listing: Listing) -> list[ReviewView]:
        out = []
        for index, review in enumerate(listing.reviews):
            try:
                rating = float(review.rating) if review.rating is not None else None
            except (TypeError, ValueError):
                rating = None
            if rating is not None and rating != rating:  # NaN from a table
                rating = None
            text = review.text or ""
            out.append(ReviewView(index, text, normalize_text(text), review.reviewer or None, rating,
                                  parse_time(review.time), review.review_id))
        return out

    # -- shop context -----------------------------------------------------------------------------
    def observe(self, listings: Sequence[Listing], *, track_reviewers: bool = True) -> None:
        """Add listings' reviews to the shop context (texts for duplicates and, unless the reviewer index
        was loaded with `use_reviewer_index`, reviewers for rings)."""
        dup = self.config.duplicate
        batch: list[tuple[Listing, str, ShopContext, list[ReviewView], list[tuple[str, str]]]] = []
        for listing in listings:
            key = self.listing_key(listing)
            shop = self._shop(self.shop_key(listing))
            views = self.views(listing)
            self._views[key] = views
            if key in shop.listings:
                continue
            entries = [(v.key, reviewer_identity(key, v)) for v in views
                       if len(v.key) >= dup.min_chars and not self.generic.is_default(v.key)]
            batch.append((listing, key, shop, views, entries))
            if track_reviewers:
                self._track_reviewers(listing, views)
        # MinHash all new texts of the batch in one vectorised pass.
        new_keys: dict[str, None] = {}
        for _, _, shop, _, entries in batch:
            new_keys.update(dict.fromkeys(shop.new_keys(k for k, _ in entries)))
        keys = list(new_keys)
        rows = minhash_signatures([shingles(k, dup.shingle_chars) for k in keys], dup.num_perm) if keys else None
        signatures = {k: rows[i] for i, k in enumerate(keys)} if rows is not None else {}
        for _, key, shop, _, entries in batch:
            shop.add(key, entries, signatures)
        self._ring_memo.clear()

    def _shop(self, shop_key: str) -> ShopContext:
        shop = self.shops.get(shop_key)
        if shop is None:
            dup = self.config.duplicate
            shop = ShopContext(self._bands, self._rows, dup.shingle_chars, dup.similarity, self.max_texts_per_shop,
                               self.common_texts)
            self.shops[shop_key] = shop
            if len(self.shops) > self.max_shops:
                self.shops.popitem(last=False)  # forget the least recently seen shop
        else:
            self.shops.move_to_end(shop_key)
        return shop

    def forget_shop(self, shop_key: str) -> None:
        """Drop a shop's context once all its listings are scored (the reviewer index stays)."""
        self.shops.pop(shop_key, None)

    def use_common_texts(self, texts: Iterable[str]) -> None:
        """Texts written in `cross_listing_common_in_shops` shops or more (as read from the store): common
        phrases, so not evidence of copying across a shop's listings. For shops observed after this call."""
        self.common_texts = frozenset(normalize_text(text) for text in texts)

    def use_reviewer_index(self, pairs: Iterable[tuple[str, str, str]]) -> None:
        """Load the reviewer index for rings from (platform, reviewer, shop key) pairs, each pair once,
        sorted by platform and reviewer. Only reviewers seen in two or more shops are kept: the others
        can be in no ring, and a crawl has millions of them."""
        self.reviewer_shops.clear()
        self.shop_regulars.clear()
        self.shop_reviewers.clear()
        self.reviewer_count = 0
        self._ring_memo.clear()
        current, shops = None, []
        # streamed: a long run has millions of pairs, and most reviewers are in one shop only
        for platform, reviewer, shop in chain(pairs, [(None, None, None)]):
            if (platform, reviewer) != current:
                shops = list(dict.fromkeys(shops))
                if current is not None and not self._ignored_reviewer.search(current[1]):
                    self.reviewer_count += 1
                    self.shop_reviewers.update(shops)
                    if len(shops) >= 2:
                        name = f"{current[0]}:{current[1]}"
                        self.reviewer_shops[name] = set(shops)
                        for each in shops:
                            self.shop_regulars.setdefault(each, set()).add(name)
                current, shops = (platform, reviewer), []
            shops.append(shop)

    def _track_reviewers(self, listing: Listing, views: Sequence[ReviewView]) -> None:
        shop = self.shop_key(listing)
        for view in views:
            if not view.reviewer or self._ignored_reviewer.search(view.reviewer):
                continue
            name = f"{listing.platform}:{view.reviewer}"
            shops = self.reviewer_shops.get(name)
            if shops is None:
                if len(self.reviewer_shops) >= self.max_reviewers:
                    continue
                shops = self.reviewer_shops[name] = set()
            if shop in shops:
                continue
            shops.add(shop)
            self.shop_reviewers[shop] += 1
            if len(shops) == 1:
                self.reviewer_count += 1
            if len(shops) == 2:
                for earlier in shops:
                    self.shop_regulars.setdefault(earlier, set()).add(name)
            elif len(shops) > 2:
                self.shop_regulars.setdefault(shop, set()).add(name)

    def _ring_peers(self, platform: str, reviewer: str) -> tuple[list[str], list[str]]:
        """Reviewers sharing at least `min_shared_shops` shops with this one, where so many reviewers
        sharing those shops would be a coincidence (expected sharers below `max_chance_sharers`)."""
        name = f"{platform}:{reviewer}"
        if name in self._ring_memo:
            return self._ring_memo[name]
        cfg = self.config.ring
        shops = self.reviewer_shops.get(name, set())
        result: tuple[list[str], list[str]] = ([], [])
        if len(shops) >= cfg.min_shared_shops:
            shared: Counter[str] = Counter()
            for shop in shops:
                for other in islice(self.shop_regulars.get(shop, ()), 2_000):
                    shared[other] += 1
            shared.pop(name, None)
            everyone = max(self.reviewer_count, 1)
            peers, common = [], set()
            for other, count in shared.items():
                if count < cfg.min_shared_shops:
                    continue
                both = shops & self.reviewer_shops[other]
                # How many reviewers would review all these shops if each chose shops independently.
                expected = everyone * prod(self.shop_reviewers[s] / everyone for s in both)
                if expected < cfg.max_chance_sharers:
                    peers.append(other.split(":", 1)[1])
                    common |= both
            result = (sorted(peers), sorted(s.split(":shop:", 1)[-1] for s in common))
        self._ring_memo[name] = result
        return result

    # -- scoring ----------------------------------------------------------------------------------
    def assess(self, listing: Listing, *, observed: bool = False, check_phrases: bool = True) -> ListingScore:
        """Score one listing; unless `observed`, it is first added to its shop's context. `check_phrases`
        False: the caller knows the rule engine found no cash-for-praise phrase in these reviews."""
        if not observed:
            self.observe([listing])
        key = self.listing_key(listing)
        views = self._views.pop(key, None) or self.views(listing)
        cfg = self.config
        listing_phrases = [h.match for h in listing.hits
                           if getattr(h, "category", None) == CATEGORY and getattr(h, "pack", None) != PACK
                           and getattr(h, "field", None) != "review"]
        shop = self.shops.get(self.shop_key(listing))
        findings = [
            phrase_finding(views, self.phrase_check if check_phrases else _no_phrases, listing_phrases),
            duplicate_finding(views, key, shop, cfg.duplicate, self.generic) if shop is not None else None,
            burst_finding(views, cfg.burst),
            short_praise_finding(views, cfg.short_praise_run, self.generic),
            ring_finding(views, lambda name: self._ring_peers(listing.platform, name), cfg.ring),
        ]
        found = [f for f in findings if f is not None]
        per_review: list[list[str]] = [[] for _ in views]
        for finding in found:
            for index in finding.review_indexes:
                per_review[index].append(finding.signal)
        review_scores = [round_score(noisy_or(self.weights[s] for s in names)) for names in per_review]
        score = round_score(noisy_or(self.weights[f.signal] * f.strength for f in found))
        return ListingScore(key, score, found, review_scores, [tuple(n) for n in per_review], listing.reviews)

    def apply(self, listing: Listing, *, observed: bool = False) -> ListingScore:
        """Score the listing and, when it passes the threshold, append a fake_reviews hit to `listing.hits`."""
        result = self.assess(listing, observed=observed)
        hit = self.to_hit(result, listing)
        if hit is not None:
            listing.hits.append(hit)
        return result

    def to_hit(self, result: ListingScore, listing: Listing | None = None) -> Any | None:
        cfg = self.config
        if result.score < cfg.lead_threshold or not result.findings:
            return None
        behavioural = [f for f in result.findings if f.signal != "phrase"]
        already = listing is not None and any(
            getattr(h, "category", None) == CATEGORY and getattr(h, "pack", None) != PACK for h in listing.hits)
        if not behavioural and already:
            return None  # the rule pack's own lead already names the phrase
        from netwatch.checks.text import Hit

        ordered = sorted(result.findings, key=lambda f: -self.weights[f.signal] * f.strength)
        match = f"score {result.score:.2f}: " + "; ".join(f"{f.signal}: {f.summary}" for f in ordered)
        return Hit(
            pack=PACK,
            # One rule for the combined score, whichever signal is strongest tonight: a listing keeps
            # one lead across runs (the store keys leads on listing + rule).
            rule=RULE,
            category=CATEGORY,
            severity="high" if result.score >= cfg.high_severity_from else "medium",
            field="review",
            start=0,
            end=0,
            match=match,
            context=self.examples(result, ordered),
            legal_basis=cfg.legal_basis,
        )

    def examples(self, result: ListingScore, ordered: Sequence[Finding]) -> str:
        """Quoted example reviews, the strongest signal's first, with reviewer and time."""
        cfg = self.config
        chosen: list[int] = []
        for finding in ordered:
            for index in finding.review_indexes:
                if index not in chosen:
                    chosen.append(index)
                    break
        for finding in ordered:
            for index in finding.review_indexes:
                if len(chosen) >= cfg.example_reviews:
                    break
                if index not in chosen:
                    chosen.append(index)
        parts = []
        for index in chosen[: cfg.example_reviews]:
            review = result.reviews[index]
            text = (review.text or "").strip().replace("\n", " ")
            if len(text) > cfg.example_chars:
                text = text[: cfg.example_chars] + "…"
            who = ", ".join(str(x) for x in (review.reviewer, review.time) if x)
            parts.append(f"「{text}」({who}; {'+'.join(result.review_signals[index])})")
        return " ".join(parts)
