"""StorePipeline: hands crawled items to the lead store in batches (one transaction each, in a thread so
the reactor keeps crawling) and records the run with its statistics. When the crawl is done, the post-run
step (netwatch.analysis.post_run: delisting, price history, review scoring) finishes the run."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from netwatch import config
from netwatch.analysis.post_run import finish
from netwatch.crawl.health import LAST_GOOD_STAT, last_good_items
from netwatch.domain.items import Listing, ListingSeen, Shop
from netwatch.store import Store


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("NETWATCH_STORE_BATCH")
        self.db_url = crawler.settings.get("NETWATCH_DB_URL") or config.db_url()
        self.score_reviews = crawler.settings.getbool("NETWATCH_SCORE_REVIEWS")
        self.store: Store | None = None
        self.run_id: int | None = None
        self.buffer: list[Shop | Listing | ListingSeen] = []

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
        if getattr(spider, "target", None):  # a watched target (the nightly run): its history is comparable
            last_good = last_good_items(await asyncio.to_thread(self.store.earlier_runs_stats, self.run_id))
            if last_good is not None:
                self.crawler.stats.set_value(LAST_GOOD_STAT, last_good)  # for the drop monitor

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, (Shop, Listing, ListingSeen)):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                await self._flush()
        return item

    async def _flush(self) -> None:
        batch, self.buffer = self.buffer, []
        if batch and self.store is not None:
            await asyncio.to_thread(self.store.save_batch, self.run_id, batch)
            self.crawler.stats.inc_value("netwatch/stored_items", len(batch))

    async def close_spider(self) -> None:
        await self._flush()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.store is None:
            return
        try:
            recorded = await asyncio.to_thread(
                finish, self.store, self.run_id, dict(self.crawler.stats.get_stats()), reason,
                score_reviews=self.score_reviews,
                signals_file=self.crawler.settings.get("NETWATCH_SIGNALS_FILE"))  # default: rules/signals/
            self.crawler.stats.set_stats(recorded)  # the crawl's stats show the review pass's too
        finally:
            self.store.close()
            self.store = None
