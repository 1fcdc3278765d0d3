"""Pipeline step: price-mark checks on listings (see netwatch.price_marks)."""

from __future__ import annotations

from netwatch.items import Listing
from netwatch.price_marks import check_listing


class PriceMarksPipeline:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        if isinstance(item, Listing):
            hits = check_listing(item)
            item.hits.extend(hits)
            for hit in hits:
                self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item
