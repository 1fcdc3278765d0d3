"""StorePipeline: hands crawled items to the lead store in batches (one transaction each, in a thread so
the reactor keeps crawling) and records the run with its statistics. When the crawl is done, the reviews
it stored are scored shop by shop (netwatch.analysis.reviews.store_pass) before the run is finished."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from netwatch import config
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
        status = "finished" if reason == "finished" else ("killed" if reason == "shutdown" else reason)
        try:
            if self.score_reviews and reason != "shutdown":  # a killed crawl is re-run, then scored
                await asyncio.to_thread(self._score_reviews)
            stats = dict(self.crawler.stats.get_stats())
            stats.setdefault("finish_reason", reason)
            await asyncio.to_thread(self.store.finish_run, self.run_id, stats, status)
        finally:
            self.store.close()
            self.store = None

    def _score_reviews(self) -> None:
        from netwatch.analysis.reviews.store_pass import score_run, with_review_stats

        path = self.crawler.settings.get("NETWATCH_SIGNALS_FILE")  # default: rules/signals/fake_reviews.yaml
        found = score_run(self.store, self.run_id, signals_file=path)
        self.crawler.stats.set_stats(with_review_stats(self.crawler.stats.get_stats(), found))
