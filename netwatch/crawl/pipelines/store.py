"""StorePipeline: hands crawled items to the lead store in batches (one transaction each, in a thread so
the reactor keeps crawling) and records the run with its statistics. A batch is written when it holds
NETWATCH_STORE_BATCH items, or NETWATCH_STORE_FLUSH_SECONDS after the last one: a crawl killed
mid-run loses seconds of work, not a whole buffer. When the crawl is done, the post-run
step (netwatch.analysis.post_run: delisting, price history, review scoring) finishes the run.

A write the store refuses (a full disk, a read-only or vanished database) stops the crawl with finish reason
'store_failed': what was stored stays, the run is recorded failed if the store still takes that, and
`netwatch crawl` exits non-zero naming the database (netwatch.crawl.runner)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from netwatch import config
from netwatch.analysis.post_run import RUN_UNRECORDED_STAT, STORE_ERROR_STAT, STORE_FAILED, finish
from netwatch.crawl.health import LAST_GOOD_STAT, last_good_items
from netwatch.domain.items import Listing, ListingSeen, Shop
from netwatch.domain.vocab import PARTIAL_CRAWL
from netwatch.store import Store, StoreError

logger = logging.getLogger(__name__)



class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("NETWATCH_STORE_BATCH")
        self.flush_seconds = crawler.settings.getfloat("NETWATCH_STORE_FLUSH_SECONDS")
        self.db_url = crawler.settings.get("NETWATCH_DB_URL") or config.db_url()
        self.score_reviews = crawler.settings.getbool("NETWATCH_SCORE_REVIEWS")
        self.store: Store | None = None
        self.run_id: int | None = None
        self.buffer: list[Shop | Listing | ListingSeen] = []
        self.flushed_at = time.monotonic()
        self.flushing = asyncio.Lock()  # one batch at a time: a subclass acts on "everything before is stored"
        self.timer: asyncio.Task | None = None
        self.store_error: str | None = None  # the store refused a write: the crawl is stopping
        self._closing: asyncio.Task | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler)
        # The close reason arrives with spider_closed, after the pipelines' close_spider.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = await asyncio.to_thread(Store, self.db_url)
        self.run_id = await asyncio.to_thread(self.store.start_run, spider.name, getattr(spider, "target", None))
        self.crawler.stats.set_value("netwatch/run_id", self.run_id)
        if getattr(spider, "partial", False):
            self.crawler.stats.set_value(PARTIAL_CRAWL, True)
        if getattr(spider, "target", None):  # a watched target (the nightly run): its history is comparable
            last_good = last_good_items(await asyncio.to_thread(self.store.earlier_runs_stats, self.run_id))
            if last_good is not None:
                self.crawler.stats.set_value(LAST_GOOD_STAT, last_good)  # for the drop monitor
        self.start_timer()

    def start_timer(self) -> None:
        """Flush on time too: items of a slow or idle crawl do not wait in memory for a full batch."""
        if self.flush_seconds > 0:
            self.timer = asyncio.get_running_loop().create_task(self._flush_on_time())

    async def _flush_on_time(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds / 2)
            if self.has_pending() and time.monotonic() - self.flushed_at >= self.flush_seconds:
                await self.flush_logging_errors()

    async def flush_logging_errors(self) -> None:
        """A flush no item waits for (on time, on idle): its error is logged, the crawl goes on."""
        try:
            await self._flush()
        except Exception:  # noqa: BLE001 - the next batch may get through
            logger.exception("storing a batch of %s failed", self.crawler.spider and self.crawler.spider.name)

    def has_pending(self) -> bool:
        return bool(self.buffer)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, (Shop, Listing, ListingSeen)) and self.store_error is None:
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                await self._flush()
        return item

    async def _flush(self) -> None:
        async with self.flushing:
            await self._write_batch()

    async def _write_batch(self) -> None:
        """Write the buffer (called holding self.flushing)."""
        batch, self.buffer = self.buffer, []
        self.flushed_at = time.monotonic()
        if batch and self.store is not None and self.store_error is None:
            try:
                await asyncio.to_thread(self.store.save_batch, self.run_id, batch)
            except StoreError as exc:
                self._stop(str(exc))
                return
            self.crawler.stats.inc_value("netwatch/stored_items", len(batch))

    def _stop(self, message: str) -> None:
        """Stop the crawl: every item from here on would be lost too. Not awaited here: closing the spider
        waits for the item being processed, this one."""
        logger.error("stopping the crawl: %s", message)
        self._note_error(message)
        if self.crawler.engine is not None and self.crawler.engine.spider is not None:
            self._closing = asyncio.get_running_loop().create_task(
                self.crawler.engine.close_spider_async(reason=STORE_FAILED))

    def _note_error(self, message: str) -> None:
        self.store_error = message
        self.crawler.stats.set_value(STORE_ERROR_STAT, message)

    async def close_spider(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.timer
        await self._flush()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.store is None:
            return
        try:
            if self.store_error is None:
                try:
                    await self._finish(reason)
                    return
                except StoreError as exc:  # e.g. the disk filled up with the review pass's leads
                    self._note_error(str(exc))
            # Also when the last batch failed as the crawl was ending anyway.
            self.crawler.stats.set_value("finish_reason", STORE_FAILED)
            try:
                await self._finish(STORE_FAILED)
            except StoreError as exc:
                # Left "running": the next run started on this host marks it killed and says so.
                logger.error("run %s could not be recorded as failed: %s", self.run_id, exc)
                self.crawler.stats.set_value(RUN_UNRECORDED_STAT, True)
        finally:
            self.store.close()
            self.store = None

    async def _finish(self, reason: str) -> None:
        assert self.store is not None
        recorded = await asyncio.to_thread(
            finish, self.store, self.run_id, dict(self.crawler.stats.get_stats()), reason,
            score_reviews=self.score_reviews,
            signals_file=self.crawler.settings.get("NETWATCH_SIGNALS_FILE"),  # default: rules/signals/
            price_window_days=self.crawler.settings.getint("NETWATCH_PRICE_WINDOW_DAYS"))
        self.crawler.stats.set_stats(recorded)  # the crawl's stats show the review pass's too
