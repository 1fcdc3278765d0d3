"""Pipeline steps for structured checks: each reads one kind of item and appends its hits.

A check is a plain function (item -> hits) in a foundation module; the pipeline only applies it and
counts the hits in the crawl stats (netwatch/hits/<category>).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from netwatch.domain.items import Listing, Shop
from netwatch.checks.licence import check_shop
from netwatch.checks.price_marks import check_listing


class CheckPipeline:
    item_type: ClassVar[type]
    check: ClassVar[Callable[[Any], list]]

    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        if isinstance(item, self.item_type):
            hits = type(self).check(item)
            item.hits.extend(hits)
            for hit in hits:
                self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item


class LicencePipeline(CheckPipeline):
    """Licence display on shop pages (netwatch.checks.licence)."""

    item_type = Shop
    check = staticmethod(check_shop)


class PriceMarksPipeline(CheckPipeline):
    """Bait prices: a list page cheaper than the detail page (netwatch.checks.price_marks)."""

    item_type = Listing
    check = staticmethod(check_listing)
