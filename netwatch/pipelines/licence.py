"""Pipeline step: licence display checks on shop items (see netwatch.licence)."""

from __future__ import annotations

from netwatch.items import Shop
from netwatch.licence import check_shop


class LicencePipeline:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        if isinstance(item, Shop):
            hits = check_shop(item)
            item.hits.extend(hits)
            for hit in hits:
                self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item
