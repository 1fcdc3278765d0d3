"""Crawl statistics per run (pages, items per type, leads, errors per kind, duration, CPU time) and a progress line.

Everything lands in `crawler.stats` under `netwatch/…`, so `netwatch.crawl.runner` and the store read one place.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any

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

logger = logging.getLogger(__name__)

# Errors meaning the site itself is unreachable (as opposed to one page failing).
UNREACHABLE_KINDS = frozenset({"dns", "connection_refused", "timeout", "connection"})


def error_kind(failure: Failure) -> str:
    """A short name for why a request failed: http_404, timeout, redirect_loop, oversized, robots, …"""
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
        self.interval = crawler.settings.getfloat("NETWATCH_PROGRESS_INTERVAL", 10.0)
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self._task: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlStats:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        for key in ("pages", "items", "leads", "errors"):
            self.stats.set_value(f"netwatch/{key}", 0)
        if self.interval > 0:
            self._task = task.LoopingCall(self.log_progress, spider)
            self._task.start(self.interval, now=False)

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        self.stats.inc_value("netwatch/pages")

    def item_scraped(self, item: Any, response: Any, spider: Any) -> None:
        self.stats.inc_value("netwatch/items")
        self.stats.inc_value(f"netwatch/items/{type(item).__name__.lower()}")
        adapter = ItemAdapter(item)
        if "hits" in adapter and adapter.get("hits"):
            self.stats.inc_value("netwatch/leads")
        if "reviews" in adapter and adapter.get("reviews"):
            self.stats.inc_value("netwatch/items/review", len(adapter["reviews"]))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Failure) -> None:
        record_error(self.stats, "item_pipeline")

    def spider_error(self, failure: Failure, response: Any, spider: Any) -> None:
        record_error(self.stats, "spider")

    def log_progress(self, spider: Any) -> None:
        logger.info("progress %s", self.summary_line(), extra={"spider": spider})

    def summary_line(self) -> str:
        get = self.stats.get_value
        return (f"{spider_name(self.crawler)}: {get('netwatch/pages', 0)} pages, {get('netwatch/items', 0)} items, "
                f"{get('netwatch/leads', 0)} leads, {get('netwatch/errors', 0)} errors, "
                f"{time.monotonic() - self.started:.0f} s")

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
        self.stats.set_value("netwatch/duration_s", round(time.monotonic() - self.started, 3))
        # CPU time of the whole process (store thread included): on a shared machine it varies less than wall time.
        self.stats.set_value("netwatch/cpu_s", round(time.process_time() - self.cpu_started, 3))
        # the process's peak resident memory so far: the crawl's, before the review pass that follows it
        self.stats.set_value("netwatch/peak_rss_mib", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
        logger.info("finished (%s) %s", reason, self.summary_line(), extra={"spider": spider})


def spider_name(crawler: Crawler) -> str:
    spider = crawler.spider
    return getattr(spider, "platform", None) or getattr(spider, "name", "?")


def record_error(stats: Any, kind: str) -> None:
    stats.inc_value("netwatch/errors")
    stats.inc_value(f"netwatch/errors/{kind}")
