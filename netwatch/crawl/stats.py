"""What Scrapy's own stats lack (items per type, leads, errors per kind, listings naming their shop, CPU
time) and a progress line. Pages, items, duration and peak memory are Scrapy's: response_received_count,
item_scraped_count, elapsed_time_seconds (CoreStats), memusage/max (MemoryUsage).

Everything lands in `crawler.stats`, so `netwatch.crawl.runner` and the store read one place.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import task
from twisted.internet.error import ConnectError, ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from netwatch.crawl.health import (
    CLOSED_SITES_STAT,
    DROPPED_PREFIX,
    LISTINGS_WITH_PREFIX,
    LISTINGS_WITH_SHOP_STAT,
    SITE_FAILURES_STAT,
)
from netwatch.domain.items import Listing

logger = logging.getLogger(__name__)

# Errors meaning the site itself is unreachable (as opposed to one page failing).
UNREACHABLE_KINDS = frozenset({"dns", "connection_refused", "timeout", "connection"})
class DroppedRequest(IgnoreRequest):
    """A request netwatch chose not to send (its site is closed, its URL is a trap): not an error."""


def site_of(url: str) -> str:
    """The site a URL belongs to: its host, www. and the bare domain being one site."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def closed_site(stats: Any, site: str) -> str | None:
    """Why no more requests go to the site, or None while it is open."""
    return (stats.get_value(CLOSED_SITES_STAT) or {}).get(site)


def close_site(stats: Any, site: str, why: str) -> bool:
    """Close the site (the first reason stays); True when it was open until now."""
    closed = stats.get_value(CLOSED_SITES_STAT) or {}
    if site in closed:
        return False
    stats.set_value(CLOSED_SITES_STAT, {**closed, site: why})
    return True


MAX_SITE_FAILURES = 100  # entries kept (a site with a loop on every page would otherwise grow the stats without end)


def record_site_failure(stats: Any, url: str, reason: str) -> None:
    """One entry per URL and reason (the same loop reached from two pages is one failure), the first 100 kept;
    the errors themselves are all counted (netwatch/errors/<kind>)."""
    failures = stats.get_value(SITE_FAILURES_STAT) or []
    failure = {"site": site_of(url), "url": url, "reason": reason}
    if failure not in failures and len(failures) < MAX_SITE_FAILURES:
        stats.set_value(SITE_FAILURES_STAT, [*failures, failure])


def drop(stats: Any, reason: str, request: Any, prefix: str = DROPPED_PREFIX) -> DroppedRequest:
    """Count a dropped request under prefix+reason; the exception to raise in a downloader middleware."""
    stats.inc_value(prefix + reason)
    return DroppedRequest(f"not sent ({reason}): {request.url}")


def error_kind(failure: Failure) -> str:
    """A short name for why a request failed: http_404, timeout, redirect_loop, oversized, robots, …"""
    if failure.check(DroppedRequest):
        return "dropped"
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "dns"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return "connection_refused"
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return "timeout"
    if failure.check(DownloadCancelledError):
        # Scrapy's downloader cancels a live download only when it passes DOWNLOAD_MAXSIZE.
        return "oversized"
    if failure.check(ConnectError, DownloadFailedError, ResponseDataLossError):
        return "connection"
    if failure.check(IgnoreRequest):
        message = str(failure.value).lower()
        if "robots" in message:
            return "robots"
        if "redirect" in message:
            return "redirect_loop"
        return "ignored"
    return type(failure.value).__name__.lower()


class CrawlStats:
    """Counts what the crawl did and logs a progress line every NETWATCH_PROGRESS_INTERVAL seconds."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.interval = crawler.settings.getfloat("NETWATCH_PROGRESS_INTERVAL")
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self._task: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStats:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        crawler.signals.connect(ext.request_dropped, signal=signals.request_dropped)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        for key in ("leads", "errors"):
            self.stats.set_value(f"netwatch/{key}", 0)
        if self.interval > 0:
            self._task = task.LoopingCall(self.log_progress, spider)
            self._task.start(self.interval, now=False)

    def item_scraped(self, item: Any, response: Any, spider: Any) -> None:
        self.stats.inc_value(f"netwatch/items/{type(item).__name__.lower()}")
        adapter = ItemAdapter(item)
        if isinstance(item, Listing):
            # per-field coverage for the summary (Spidermon's counts fields one by one; shop is either of two)
            has = {"title": bool(item.title), "price": item.price is not None, "shop": bool(item.shop_id or item.shop_name)}
            for name, present in has.items():
                if present:
                    self.stats.inc_value(f"{LISTINGS_WITH_PREFIX}{name}")
            if has["shop"]:
                self.stats.inc_value(LISTINGS_WITH_SHOP_STAT)
        if "hits" in adapter and adapter.get("hits"):
            self.stats.inc_value("netwatch/leads")
        if "reviews" in adapter and adapter.get("reviews"):
            self.stats.inc_value("netwatch/items/review", len(adapter["reviews"]))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Failure) -> None:
        record_error(self.stats, "item_pipeline")

    def spider_error(self, failure: Failure, response: Any, spider: Any) -> None:
        record_error(self.stats, "spider")

    def request_dropped(self, request: Any, spider: Any) -> None:
        """A redirect back to a page of its own chain is dropped by the duplicate filter without a word: a
        redirect loop, recorded as a failure. (A loop of start pages, which are never filtered, ends at
        REDIRECT_MAX_TIMES with an error the spider records the same way.)"""
        chain = request.meta.get("redirect_urls")
        if chain and request.url in chain:
            record_error(self.stats, "redirect_loop")
            record_site_failure(self.stats, chain[0], "redirect loop")
            logger.error("redirect loop: %s", " -> ".join([*chain, request.url]), extra={"spider": spider})

    def log_progress(self, spider: Any) -> None:
        logger.info("progress %s", self.summary_line(), extra={"spider": spider})

    def summary_line(self) -> str:
        get = self.stats.get_value
        return (f"{spider_name(self.crawler)}: {get('response_received_count', 0)} pages, "
                f"{get('item_scraped_count', 0)} items, "
                f"{get('netwatch/leads', 0)} leads, {get('netwatch/errors', 0)} errors, "
                f"{time.monotonic() - self.started:.0f} s")

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        # CPU time of the whole process (store thread included): on a shared machine it varies less than wall time.
        self.stats.set_value("netwatch/cpu_s", round(time.process_time() - self.cpu_started, 3))
        # MemoryUsage samples the peak RSS only every MEMUSAGE_CHECK_INTERVAL_SECONDS (60): take its last
        # reading now, the crawl's peak before the review pass that follows it (ru_maxrss: KiB on Linux).
        if self.crawler.settings.getbool("MEMUSAGE_ENABLED"):
            self.stats.max_value("memusage/max", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        logger.info("finished (%s) %s", reason, self.summary_line(), extra={"spider": spider})


def spider_name(crawler: Crawler) -> str:
    spider = crawler.spider
    return getattr(spider, "platform", None) or getattr(spider, "name", "?")


def record_error(stats: Any, kind: str) -> None:
    stats.inc_value("netwatch/errors")
    stats.inc_value(f"netwatch/errors/{kind}")
