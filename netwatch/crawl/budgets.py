"""Per-site page and time budgets: a link trap (every page linking fifty new pages) must not keep a crawl
going all night.

A site is a host, www. and the bare domain counted as one (netwatch.crawl.stats.site_of). Once
NETWATCH_SITE_MAX_PAGES requests have gone to a site (retries and robots.txt included), or
NETWATCH_SITE_MAX_SECONDS have passed since its first one, the site is closed: requests already queued for it
are dropped as they leave the scheduler (ClosedSiteScheduler: a request dropped there costs ~20 µs, one dropped by
a downloader middleware ~3 ms, as Scrapy runs its errback through the spider middlewares; SiteBudget, the first
downloader middleware, drops the rest: retries, redirects, a distributed crawl's shared queue), and the spider's
new requests for it are dropped before they are scheduled (ClosedSiteFilter, a spider middleware), so the
queue stops growing as well. Each dropped request is counted under netwatch/dropped/<why>; each budget hit is
one entry of netwatch/budget_hits, which the Spidermon monitors turn into an alarm. A site profile may set its
own budget (`budget: {pages: …, seconds: …}`); 0 is no limit.

A target crawled by distributed workers has one budget, not one per worker: its pages, first request and closed
sites are counted in Redis (SharedLedger, under the job's keys), the worker whose request passed the budget
reports the hit, and the others close the site when they next ask.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from netwatch.crawl.distributed.common import spider_prefix
from netwatch.crawl.health import BUDGET_HITS_STAT, CLOSED_DROP_REASON, DROPPED_PREFIX
from netwatch.crawl.stats import close_site, closed_site, drop, site_of


class LocalLedger:
    """One crawl's count of each site's requests, its first request, and the closed sites (in its stats)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.pages: Counter[str] = Counter()
        self.first_request: dict[str, float] = {}

    def count(self, site: str) -> tuple[int, float] | None:
        """Count one more request to the site: (requests before it, its first request's time), or None when the
        site is closed."""
        if closed_site(self.stats, site):
            return None
        before = self.pages[site]
        self.pages[site] += 1
        return before, self.first_request.setdefault(site, time.time())

    def close(self, site: str, why: str) -> bool:
        """Close the site; True when this call closed it (its hit is reported here)."""
        return close_site(self.stats, site, why)


# One round trip a request: is the site closed; else count it and give its first request's time.
_COUNT = """
local closed = redis.call('HGET', KEYS[3], ARGV[1])
if closed then return {-1, '0', closed} end
local pages = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return {pages - 1, redis.call('HGET', KEYS[2], ARGV[1]), false}
"""


class SharedLedger(LocalLedger):
    """The same counts for a target shared by distributed workers, in Redis under the job's keys."""

    def __init__(self, stats: Any, crawler: Any) -> None:
        import redis

        super().__init__(stats)
        self.server = redis.Redis.from_url(crawler.settings["REDIS_URL"], decode_responses=True)
        self.crawler = crawler
        self.script = self.server.register_script(_COUNT)
        self.prefix = crawler.settings.get("NETWATCH_REDIS_PREFIX")

    def _keys(self) -> list[str]:
        base = f"{spider_prefix(self.prefix, self.crawler.spider)}:budget"
        return [f"{base}:pages", f"{base}:first", f"{base}:closed"]

    def count(self, site: str) -> tuple[int, float] | None:
        if closed_site(self.stats, site):
            return None
        before, first, closed = self.script(keys=self._keys(), args=[site, time.time()])
        if closed:  # another worker closed it: so does this one, without reporting a hit of its own
            close_site(self.stats, site, closed)
            return None
        return int(before), float(first)

    def close(self, site: str, why: str) -> bool:
        first = bool(self.server.hsetnx(self._keys()[2], site, why))
        return close_site(self.stats, site, why) and first


class SiteBudget:
    """Counts each site's requests and time; closes a site at its budget and drops what is queued for it."""

    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats
        self.max_pages = crawler.settings.getint("NETWATCH_SITE_MAX_PAGES")
        self.max_seconds = crawler.settings.getfloat("NETWATCH_SITE_MAX_SECONDS")
        shared = crawler.settings.get("NETWATCH_REDIS_PREFIX") and crawler.settings.get("REDIS_URL")
        self.ledger = SharedLedger(self.stats, crawler) if shared else LocalLedger(self.stats)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteBudget:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        site = site_of(request.url)
        counted = self.ledger.count(site)
        if counted is not None:
            before, first = counted
            if self.max_seconds and time.time() - first > self.max_seconds:
                self.hit(site, "seconds", self.max_seconds, before, first)
            elif self.max_pages and before >= self.max_pages:  # one more than the budget: the site is closed
                self.hit(site, "pages", self.max_pages, before, first)
        if closed_site(self.stats, site):
            raise drop(self.stats, CLOSED_DROP_REASON, request)

    def hit(self, site: str, budget: str, limit: float, pages: int, first: float) -> None:
        unit = "pages" if budget == "pages" else "s"
        if not self.ledger.close(site, f"its {budget} budget ({limit:g} {unit})"):
            return
        hits = self.stats.get_value(BUDGET_HITS_STAT) or []
        self.stats.set_value(BUDGET_HITS_STAT, [*hits, {"site": site, "budget": budget, "limit": limit,
                                                        "pages": pages, "seconds": round(time.time() - first, 1)}])


class ClosedSiteFilter(BaseSpiderMiddleware):
    """Drops the spider's requests for a closed site (budget spent, given up) before they are scheduled."""

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        stats = self.crawler.stats
        if closed_site(stats, site_of(request.url)):
            stats.inc_value(DROPPED_PREFIX + CLOSED_DROP_REASON)
            return None
        return request


class ClosedSiteScheduler(Scheduler):
    """Scrapy's scheduler, skipping the queued requests of closed sites (a link trap leaves thousands)."""

    def next_request(self) -> Request | None:
        while (request := super().next_request()) is not None:
            if not closed_site(self.stats, site_of(request.url)):
                return request
            self.stats.inc_value(DROPPED_PREFIX + CLOSED_DROP_REASON)
        return None


def budget_message(hit: dict[str, Any], dropped: int, lang: str = "en") -> str:
    """One budget hit as the alarm says it, in English or Chinese (zh)."""
    if lang == "zh":
        limit = f"{hit['limit']:g} 个页面" if hit["budget"] == "pages" else f"{hit['limit']:g} 秒"
        kind = "页面数" if hit["budget"] == "pages" else "时间"
        return (f"{hit['site']}：达到{kind}上限（{limit}），已抓取 {hit['pages']} 个页面、用时 {hit['seconds']:g} 秒后停止；"
                f"丢弃发往已关闭站点的请求 {dropped} 个（可能是链接陷阱，或上限对该站点过小：NETWATCH_SITE_MAX_PAGES / "
                "NETWATCH_SITE_MAX_SECONDS，或站点配置中的 budget:）")
    limit = f"{hit['limit']:g} pages" if hit["budget"] == "pages" else f"{hit['limit']:g} s"
    return (f"{hit['site']}: stopped at its {hit['budget']} budget ({limit}) after {hit['pages']} pages in "
            f"{hit['seconds']:g} s; {dropped} request(s) to closed sites dropped (a link trap, or a budget too small "
            "for the site: NETWATCH_SITE_MAX_PAGES / NETWATCH_SITE_MAX_SECONDS, or budget: in its profile)")
