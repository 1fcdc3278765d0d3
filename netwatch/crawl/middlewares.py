"""Back-off for retried requests and for sites that refuse (429 Too Many Requests, 503 Service Unavailable).

Scrapy's RetryMiddleware re-sends a failed request at once. Here:

- a request retried by RetryMiddleware (5xx, time-outs; meta["retry_times"] = n) waits
  NETWATCH_RETRY_BACKOFF_BASE * 2**(n-1) seconds, at most NETWATCH_RETRY_BACKOFF_MAX, before it is sent;
- a 429 or 503 answer is a refusal of the whole site (www. and bare domain as one). Its `Retry-After`
  (delta-seconds or an HTTP-date; without one, the same exponential back-off) sets when the site may be
  asked again: no request to it leaves before then, and while the site cools down its requests are spaced
  by that wait, the download slot's delay raised to it (AutoThrottle-style; each answer that is not a
  refusal halves the wait until it is gone, and AutoThrottle brings the slot's delay down the same way).
  The refused request is retried then. A site that refuses NETWATCH_MAX_REFUSALS times in a row, asks for
  more than NETWATCH_MAX_RETRY_AFTER seconds, or has made the crawl wait more than NETWATCH_MAX_REFUSAL_WAIT
  seconds in all is given up: recorded as a failure of the site (netwatch/site_failures, an alarm), closed,
  and what is still queued for it is dropped.

429 and 503 are left out of RETRY_HTTP_CODES: this middleware owns them (it sits before RetryMiddleware).
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response
from scrapy.utils.asyncio import sleep

from netwatch.crawl.health import CLOSED_DROP_REASON
from netwatch.crawl.stats import close_site, closed_site, drop, record_site_failure, site_of

REFUSAL_CODES = frozenset({429, 503})
COOLDOWN_FLOOR = 0.05  # seconds: a wait halved below this is over


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds from now: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryBackoffMiddleware:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        self.crawler, self.stats = crawler, crawler.stats
        self.base = settings.getfloat("NETWATCH_RETRY_BACKOFF_BASE")
        self.cap = settings.getfloat("NETWATCH_RETRY_BACKOFF_MAX")
        self.max_refusals = settings.getint("NETWATCH_MAX_REFUSALS")
        self.max_retry_after = settings.getfloat("NETWATCH_MAX_RETRY_AFTER")
        self.max_wait = settings.getfloat("NETWATCH_MAX_REFUSAL_WAIT")
        self.throttled = settings.getbool("AUTOTHROTTLE_ENABLED")
        self.not_before: dict[str, float] = {}  # site -> monotonic time before which nothing is sent to it
        self.cooldown: dict[str, float] = {}  # site -> spacing of its requests while it cools down
        self.refusals: dict[str, int] = {}  # site -> refusals in a row
        self.waited: dict[str, float] = {}  # site -> seconds of waiting its refusals asked for, in all
        self.jitters: dict[str, float] = {}  # site -> its slot's jitter before the cool-down turned it off

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryBackoffMiddleware:
        return cls(crawler)

    def delay(self, retries: int) -> float:
        return min(self.cap, self.base * 2 ** (retries - 1)) if retries > 0 else 0.0

    # -- before a request leaves -------------------------------------------------------------------------
    async def process_request(self, request: Request) -> None:
        if not request.meta.get("netwatch_refused"):  # a refused request waits for its site below, not twice
            wait = self.delay(int(request.meta.get("retry_times", 0)))
            if wait > 0:
                self.stats.inc_value("netwatch/retry_backoff_s", wait)
                await sleep(wait)
        site = site_of(request.url)
        while (remaining := self.not_before.get(site, 0.0) - time.monotonic()) > 0:
            await sleep(remaining)
        if closed_site(self.stats, site):  # given up (or out of budget) while this request waited
            raise drop(self.stats, CLOSED_DROP_REASON, request)
        if self.cooldown.get(site):
            self.not_before[site] = time.monotonic() + self.cooldown[site]

    # -- when the answer comes -----------------------------------------------------------------------------
    def process_response(self, request: Request, response: Response) -> Request | Response:
        site = site_of(request.url)
        if response.status not in REFUSAL_CODES:
            self.recovered(site, request)
            return response
        refusals = self.refusals[site] = self.refusals.get(site, 0) + 1
        self.stats.inc_value("netwatch/refusals")
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        wait = asked if asked is not None else self.delay(refusals)
        why = self.give_up_reason(refusals, asked, self.waited.get(site, 0.0) + wait)
        if why:
            if close_site(self.stats, site, f"gave up: {why}"):
                record_site_failure(self.stats, request.url, f"refused (HTTP {response.status}): {why}")
                self.crawler.spider.logger.error("giving up on %s: %s", site, why)
            return response  # the spider counts it as an error (http_429 / http_503)
        self.waited[site] = self.waited.get(site, 0.0) + wait
        self.stats.inc_value("netwatch/refusal_wait_s", wait)
        self.not_before[site] = max(self.not_before.get(site, 0.0), time.monotonic() + wait)
        self.cooldown[site] = max(self.cooldown.get(site, 0.0), wait)
        self.slow_slot(site, request, self.cooldown[site])
        retry = get_retry_request(request, spider=self.crawler.spider, reason=f"refused_{response.status}",
                                  max_retry_times=self.max_refusals)
        if retry is None:  # cannot happen before the site is given up; kept for safety
            return response
        retry.meta["netwatch_refused"] = True
        return retry

    def give_up_reason(self, refusals: int, asked: float | None, waited: float) -> str | None:
        if refusals >= self.max_refusals:
            return f"{refusals} refusals in a row (NETWATCH_MAX_REFUSALS={self.max_refusals})"
        if asked is not None and asked > self.max_retry_after:
            return f"asked to wait {asked:.0f} s (NETWATCH_MAX_RETRY_AFTER={self.max_retry_after:g})"
        if waited > self.max_wait:
            return f"{waited:.0f} s of waiting in all (NETWATCH_MAX_REFUSAL_WAIT={self.max_wait:g})"
        return None

    def recovered(self, site: str, request: Request) -> None:
        """An answer that is not a refusal: the count in a row starts again and the cool-down halves."""
        self.refusals.pop(site, None)
        cooldown = self.cooldown.get(site)
        if not cooldown:
            return
        cooldown /= 2
        if cooldown < COOLDOWN_FLOOR:
            del self.cooldown[site]
            cooldown = 0.0
        else:
            self.cooldown[site] = cooldown
        slot = self.slot_of(request)
        if slot is not None:
            if not self.throttled:  # AutoThrottle lowers the slot's delay itself, from the latencies it sees
                slot.delay = max(self.crawler.settings.getfloat("DOWNLOAD_DELAY"), cooldown)
            if not cooldown and site in self.jitters:
                slot.jitter = self.jitters.pop(site)

    def slow_slot(self, site: str, request: Request, delay: float) -> None:
        slot = self.slot_of(request)
        if slot is not None:
            slot.delay = max(slot.delay, delay)
            # A randomised delay may be half as long (RANDOMIZE_DOWNLOAD_DELAY): a site that asked for 2 s would
            # get 1 s. Exact while the site cools down.
            self.jitters.setdefault(site, slot.jitter)
            slot.jitter = 0.0

    def slot_of(self, request: Request) -> Any:
        downloader = self.crawler.engine.downloader
        return downloader.slots.get(downloader.get_slot_key(request))
