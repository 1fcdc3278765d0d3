"""What both spiders share: settings, the page handed to extraction, error accounting, sitemaps, rendering."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse
from scrapy.spiders.sitemap import SitemapSpider, iterloc
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from netwatch.crawl.browser import PAGES_PER_CONTEXT, render_meta
from netwatch.crawl.stats import UNREACHABLE_KINDS, error_kind, record_error, record_site_failure
from netwatch.extract import Page

logger = logging.getLogger(__name__)
START_FAILURES_STAT = "netwatch/start_failures"  # {start URL: error kind (http_404, timeout, …)}


def freeze_startup_heap() -> None:
    """What exists when the crawl opens (Scrapy, the rule engine, SQLAlchemy: ~200k objects) lives as long
    as the crawl. Frozen, it is left out of the full garbage collections, which otherwise rescan it every
    few seconds (~90 ms each): measured on the netmall crawl, ~40 % less time in the garbage collector."""
    gc.collect()
    gc.freeze()


def page_from_response(response: Response) -> Page:
    content_type = response.headers.get("Content-Type", b"").decode("latin-1")
    return Page(url=response.url, body=response.body, headers={"Content-Type": content_type} if content_type else {})


class NetwatchSpider(SitemapSpider):
    # SitemapSpider for its sitemap reading (gzip, indexes, sitemap_filter); start() and parse_sitemap are ours.
    # The browser's settings are crawl settings (netwatch.crawl.settings), for `scrapy crawl` and netwatch alike.
    custom_settings: ClassVar[dict[str, Any]] = {
        # Spidermon after netwatch's stats: its health monitors (SPIDERMON_* in netwatch.crawl.settings) read them.
        "EXTENSIONS": {"netwatch.crawl.stats.CrawlStats": 500, "netwatch.crawl.monitors.HealthMonitors": 510},
        "DOWNLOADER_MIDDLEWARES": {
            # Before RetryMiddleware (550) on the way back: refusals (429/503) are its, not retried at once.
            "netwatch.crawl.middlewares.RetryBackoffMiddleware": 555,
            # First: what a closed site still has queued is dropped before any other work is done for it.
            "netwatch.crawl.budgets.SiteBudget": 10,
            # The archive sits next to the downloader: it sees each response as the server sent it.
            "netwatch.crawl.archive.ArchiveMiddleware": 950,
        },
    }
    platform: str = ""
    partial: bool = False  # crawls only some of its site (netwatch.domain.vocab.PARTIAL_CRAWL)

    def __init__(self, *args: Any, max_items: str | int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_items = int(max_items) if max_items not in (None, "") else None
        self._renders: Counter[str] = Counter()
        self._rendered = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NetwatchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # The spider exists before the crawler's settings freeze: arguments may still tune them.
        if spider.max_items:
            crawler.settings.set("CLOSESPIDER_ITEMCOUNT", spider.max_items, priority="spider")
        spider.adjust_settings(crawler.settings)
        crawler.signals.connect(freeze_startup_heap, signal=signals.spider_opened)
        return spider

    def adjust_settings(self, settings: Any) -> None:
        """Per-run settings that depend on spider arguments."""

    def listing_id(self, url: str) -> str | None:
        """The canonical id of the listing a URL's page shows, when the spider can tell before fetching it."""
        return None

    # --- errors -------------------------------------------------------------------------------
    def on_error(self, failure: Failure) -> Iterator[Any]:
        """Count the failure by kind; an unreachable start page marks the whole site dead (reported, not fatal)."""
        request = failure.request
        kind = error_kind(failure)
        page = request.meta.get("playwright_page")
        if page is not None:
            self._close_render_page_later(page, request)
        if request.meta.get("netwatch_start"):  # why each start page failed: a re-check tells 404 from a dead site
            failed = self.crawler.stats.get_value(START_FAILURES_STAT) or {}
            self.crawler.stats.set_value(START_FAILURES_STAT, {**failed, request.url: kind})
        if kind == "robots":  # the site asked us not to: obeyed, not an error
            self.crawler.stats.inc_value("netwatch/robots_forbidden")
        elif kind == "dropped":  # not sent on purpose (site closed): counted under netwatch/dropped/
            pass
        elif kind == "redirect_loop":
            record_error(self.crawler.stats, kind)
            # REDIRECT_MAX_TIMES reached: named by the URL the chain started from, as a loop caught early is
            record_site_failure(self.crawler.stats, request.meta.get("redirect_urls", [request.url])[0], "redirect loop")
            logger.error("redirect loop: %s: %s", request.url, failure.getErrorMessage())
        elif request.meta.get("netwatch_start") and kind in UNREACHABLE_KINDS:
            record_error(self.crawler.stats, kind)
            dead = self.crawler.stats.get_value("netwatch/dead_sites") or []
            self.crawler.stats.set_value("netwatch/dead_sites", [*dead, request.url])
            logger.error("site unreachable: %s (%s): %s", request.url, kind, failure.getErrorMessage())
        else:
            record_error(self.crawler.stats, kind)
            logger.warning("failed %s: %s", request.url, kind)
        pending = request.meta.get("netwatch_pending_item")
        if pending is not None:  # a listing waiting for its reviews still goes out
            yield pending

    # --- sitemaps -----------------------------------------------------------------------------
    def sitemap_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_sitemap_error)

    def on_sitemap_error(self, failure: Failure) -> None:
        # A missing sitemap is normal for small sites: noted, not counted as an error.
        self.crawler.stats.inc_value("netwatch/sitemaps_missing")

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """robots.txt's Sitemap: lines, sitemap indexes and url sets, plain or gzipped (.xml.gz), read by
        Scrapy's SitemapSpider machinery (its body reader bounds a gzip bomb by DOWNLOAD_MAXSIZE)."""
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                yield self.sitemap_request(url)
            return
        body = self._get_sitemap_body(response)
        try:
            sitemap = Sitemap(body) if body else None
        except Exception:  # noqa: BLE001 - lxml raises several kinds on broken XML
            sitemap = None
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            record_error(self.crawler.stats, "bad_sitemap")
            logger.warning("unreadable sitemap %s", response.url)
            return
        self.crawler.stats.inc_value("netwatch/sitemaps_read")
        for loc in iterloc(self.sitemap_filter(sitemap), self.sitemap_alternate_links):
            if sitemap.type == "sitemapindex":
                yield self.sitemap_request(loc)
            else:
                yield self.sitemap_entry_request(loc)

    def sitemap_entry_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse, errback=self.on_error)

    # --- JavaScript pages ---------------------------------------------------------------------
    def render_request(self, request: scrapy.Request, wait_for: str | None, dont_filter: bool = True) -> scrapy.Request:
        """The request through the browser; contexts rotate so each serves a bounded number of pages.

        dont_filter: True when re-rendering a page already fetched plainly (its URL is already seen)."""
        context = f"render-{self._rendered // PAGES_PER_CONTEXT}"
        self._rendered += 1
        self.crawler.stats.inc_value("netwatch/rendered_pages")
        carried = {k: v for k, v in request.meta.items() if k.startswith("netwatch_")}
        return scrapy.Request(
            request.url, meta={**carried, **render_meta(context, wait_for), "netwatch_rendered": True},
            dont_filter=dont_filter, callback=self.parse_rendered, errback=self.on_error,
        )

    async def parse_rendered(self, response: Response) -> AsyncIterator[Any]:
        page = response.meta.pop("playwright_page", None)
        if page is not None:
            await self._close_render_page(page, response.meta.get("playwright_context"))
        for result in self.parse(response):
            yield result

    async def _close_render_page(self, page: Any, context_name: str | None) -> None:
        await page.close()
        if context_name is None:
            return
        self._renders[context_name] += 1
        if self._renders[context_name] >= PAGES_PER_CONTEXT:
            del self._renders[context_name]
            await page.context.close()

    def _close_render_page_later(self, page: Any, request: scrapy.Request) -> None:
        import asyncio

        asyncio.ensure_future(self._close_render_page(page, request.meta.get("playwright_context")))

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        raise NotImplementedError


def is_html(response: Response) -> bool:
    return isinstance(response, TextResponse) and b"html" in response.headers.get("Content-Type", b"text/html").lower()


def is_readable(response: Response) -> bool:
    """HTML or JSON: what a profile's page rules can read."""
    return is_html(response) or b"json" in response.headers.get("Content-Type", b"").lower()


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
