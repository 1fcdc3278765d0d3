"""Exponential back-off for retried requests: Scrapy's RetryMiddleware re-sends a failed request at once.

A retried request (meta["retry_times"] = n) waits NETWATCH_RETRY_BACKOFF_BASE * 2**(n-1) seconds, at most
NETWATCH_RETRY_BACKOFF_MAX, before it is downloaded: a struggling server gets room to recover.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.utils.asyncio import sleep


class RetryBackoffMiddleware:
    def __init__(self, stats: Any, base: float, cap: float) -> None:
        self.stats, self.base, self.cap = stats, base, cap

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryBackoffMiddleware:
        settings = crawler.settings
        return cls(crawler.stats, settings.getfloat("NETWATCH_RETRY_BACKOFF_BASE"),
                   settings.getfloat("NETWATCH_RETRY_BACKOFF_MAX"))

    def delay(self, retries: int) -> float:
        return min(self.cap, self.base * 2 ** (retries - 1)) if retries > 0 else 0.0

    async def process_request(self, request: Request) -> None:
        wait = self.delay(int(request.meta.get("retry_times", 0)))
        if wait > 0:
            self.stats.inc_value("netwatch/retry_backoff_s", wait)
            await sleep(wait)
