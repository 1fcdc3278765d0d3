"""Fake-review and order-brushing signals beyond keywords (plain Python, no Scrapy).

Signals (thresholds and weights in rules/signals/fake_reviews.yaml): cash-for-praise phrases (via the
rule engine), duplicate and near-duplicate texts, bursts, runs of short generic top-rating praise,
reviewer rings. `ReviewSignalScorer.apply(listing)` is the per-listing step; `netwatch.analysis.reviews.store_pass`
scores a crawl's or an import's stored reviews shop by shop once its writes are done;
`netwatch.analysis.reviews.table` scores a plain table for `netwatch reviews check`.
"""

from __future__ import annotations

from netwatch.analysis.reviews.config import SignalConfig, SignalConfigError, default_signal_config, load_signal_config
from netwatch.analysis.reviews.scoring import CATEGORY, PACK, ListingScore, ReviewSignalScorer, rule_engine_phrases
from netwatch.analysis.reviews.signals import SIGNALS, Finding

__all__ = [
    "CATEGORY",
    "PACK",
    "SIGNALS",
    "Finding",
    "ListingScore",
    "ReviewSignalScorer",
    "SignalConfig",
    "SignalConfigError",
    "default_signal_config",
    "load_signal_config",
    "rule_engine_phrases",
]
