"""Incremental crawls (issue 7) as a spider middleware, off unless NETWATCH_INCREMENTAL is set (`netwatch nightly`
sets it): which listing pages a night may skip.

A listing's page is fetched again when the listing is new, when its list page shows another price or title than
last time, or when its last fetch is older than NETWATCH_REVISIT_DAYS; otherwise the request for it becomes a
ListingSeen and the store records the sighting. A known listing's page is asked for conditionally (If-None-Match
with the ETag it was last served with): a 304 answer becomes a ListingSeen too, revalidated.

The spider only marks what it knows: `listing_id(url)` names the listing a URL shows, and a request carries
`meta["netwatch_carry"]` (what the list page showed beside its link). The known listings are read once, before
the first request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

from netwatch import config
from netwatch.domain.clock import utcnow
from netwatch.domain.items import ListingSeen
from netwatch.sites import list_fields
from netwatch.store import Store
from netwatch.store.store import KnownListing

SKIPPED_STAT = "netwatch/incremental/skipped"
NOT_MODIFIED_STAT = "netwatch/incremental/not_modified"
KNOWN_STAT = "netwatch/incremental/known"


@dataclass(frozen=True)
class IncrementalPlan:
    known: Mapping[str, KnownListing]
    revisit: timedelta
    now: datetime

    @classmethod
    def load(cls, db_url: str, platform: str, revisit_days: float) -> IncrementalPlan:
        with Store(db_url) as store:
            known = store.known_listings(platform)
        return cls(known, timedelta(days=revisit_days), utcnow())

    def unchanged(self, canonical_id: str, list_price: float | None, list_title: str | None) -> bool:
        """True when the page need not be fetched: known, active, same list price and title, fetched recently."""
        known = self.known.get(canonical_id)
        return (known is not None and known.active and known.fetched_at is not None
                and self.now - known.fetched_at < self.revisit
                and (list_price, list_title) == (known.list_price, known.list_title)
                and (list_price, list_title) != (None, None))  # a list page that showed nothing proves nothing

    def etag(self, canonical_id: str) -> str | None:
        """The validator to re-fetch a known listing's page with: the server answers 304 if it is unchanged."""
        known = self.known.get(canonical_id)
        return known.etag if known is not None and known.active else None


class IncrementalCrawl:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not settings.getbool("NETWATCH_INCREMENTAL"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_url = settings.get("NETWATCH_DB_URL") or config.db_url()
        self.revisit_days = settings.getfloat("NETWATCH_REVISIT_DAYS")
        self.plan: IncrementalPlan | None = None
        self.skipped: set[str] = set()  # canonical ids whose page this crawl did not fetch

    @classmethod
    def from_crawler(cls, crawler: Any) -> IncrementalCrawl:
        return cls(crawler)

    def _listing_id(self, url: str) -> str | None:
        return self.crawler.spider.listing_id(url) if self.plan is not None else None

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        platform = getattr(self.crawler.spider, "platform", "")
        if platform:
            self.plan = await asyncio.to_thread(IncrementalPlan.load, self.db_url, platform, self.revisit_days)
            self.stats.set_value(KNOWN_STAT, len(self.plan.known))
        async for entry in start:
            yield entry

    async def process_spider_output(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if response.status == 304:  # asked conditionally: the stored page is current (the spider read nothing)
            canonical_id = self._listing_id(response.url)
            if canonical_id is not None:
                self.stats.inc_value(NOT_MODIFIED_STAT)
                list_price, list_title = list_fields(response.meta.get("netwatch_carry", {}))
                yield ListingSeen(self.crawler.spider.platform, canonical_id, response.url, list_price, list_title,
                                  revalidated=True)
        async for entry in result:
            if isinstance(entry, Request):
                canonical_id = self._listing_id(entry.url)
                if canonical_id is not None:
                    entry = self._skip_or_ask_conditionally(entry, canonical_id)
            if entry is not None:
                yield entry

    def _skip_or_ask_conditionally(self, request: Request, canonical_id: str) -> Any:
        """A ListingSeen for a listing its list page shows unchanged, the request with its ETag otherwise."""
        assert self.plan is not None
        carry = request.meta.get("netwatch_carry")
        if carry is not None:
            list_price, list_title = list_fields(carry)
            if self.plan.unchanged(canonical_id, list_price, list_title):
                self.skipped.add(canonical_id)  # a listing linked twice is counted once
                self.stats.set_value(SKIPPED_STAT, len(self.skipped))
                return ListingSeen(self.crawler.spider.platform, canonical_id, request.url, list_price, list_title)
        etag = self.plan.etag(canonical_id)
        if etag and not request.meta.get("playwright"):
            request.headers["If-None-Match"] = etag
            request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]
        return request
