"""Pipeline step: review signals (duplicates, bursts, short-praise runs, rings, cash-for-praise) on each
listing's reviews; a listing that passes the threshold gets a fake_reviews hit (see netwatch.reviews).

Shop-level signals use the shop's listings seen earlier in the same crawl (bounded state): the listing
that completes a cross-listing duplicate group or a ring carries the hit.
"""

from __future__ import annotations

from netwatch.items import Listing
from netwatch.reviews import PACK, ReviewSignalScorer, load_signal_config


class ReviewSignalsPipeline:
    def __init__(self, stats, scorer: ReviewSignalScorer):
        self.stats = stats
        self.scorer = scorer

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("NETWATCH_SIGNALS_FILE")  # default: rules/signals/fake_reviews.yaml
        return cls(crawler.stats, ReviewSignalScorer(load_signal_config(path)))

    def process_item(self, item):
        if isinstance(item, Listing) and item.reviews:
            result = self.scorer.apply(item)
            self.stats.inc_value("netwatch/review_signals/listings_scored")
            for signal in result.signals:
                self.stats.inc_value(f"netwatch/review_signals/{signal}")
            if any(getattr(hit, "pack", None) == PACK for hit in item.hits):
                self.stats.inc_value("netwatch/review_signals/leads")
                self.stats.inc_value("netwatch/hits/fake_reviews")
        return item
