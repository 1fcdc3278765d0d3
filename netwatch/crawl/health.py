"""Crawl-health checks: is a target still yielding what it used to? Plain checks over Scrapy's stats.

Why not Spidermon suites: the decisive check (a drop of more than half against the target's last
good run) needs the target's history from the store, and the nightly run has to gather every
target's alarms into one report and one exit code after all crawls closed. Spidermon runs inside
each crawl at close and reports through its own actions, so it would only wrap these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_MAX_ERROR_RATE = 0.2
DEFAULT_MIN_RATIO = 0.5  # below half of the last good run's items is an alarm


@dataclass(frozen=True)
class Alarm:
    check: str  # "zero_items", "drop", "error_rate", "finish_reason", "crawl_failed"
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class CrawlFigures:
    """The figures the checks read, taken from one crawl's stats."""

    items: int
    pages: int
    errors: int
    finish_reason: str | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.pages if self.pages else (1.0 if self.errors else 0.0)


# Error kinds that are the web working as meant: a delisted listing answers 404, robots.txt forbids.
NOT_ERRORS = ("http_404", "http_410", "robots")


def figures_from_stats(stats: Mapping[str, Any]) -> CrawlFigures:
    """Items, requests, errors and finish reason from a crawl's stats.

    Reads netwatch's own counters (netwatch.crawl.stats: `netwatch/items`, `netwatch/pages`,
    `netwatch/errors/<kind>`) and falls back to Scrapy's for crawls without them.
    """
    if "netwatch/pages" in stats:
        errors = int(stats.get("netwatch/errors", 0)) - sum(int(stats.get(f"netwatch/errors/{kind}", 0))
                                                            for kind in NOT_ERRORS)
        # A request that failed never produced a page; count it as a request made.
        requests = int(stats.get("netwatch/pages", 0)) + errors
        return CrawlFigures(items=int(stats.get("netwatch/items", 0)), pages=requests, errors=errors,
                            finish_reason=stats.get("finish_reason"))
    server_errors = sum(int(value) for key, value in stats.items()
                        if key.startswith("downloader/response_status_count/5"))
    errors = int(stats.get("downloader/exception_count", 0)) + server_errors + int(stats.get("spider_exceptions/count", 0))
    return CrawlFigures(items=int(stats.get("item_scraped_count", 0)), pages=int(stats.get("downloader/request_count", 0)),
                        errors=errors, finish_reason=stats.get("finish_reason"))


def check_health(current: CrawlFigures, last_good: CrawlFigures | None = None, *,
                 max_error_rate: float = DEFAULT_MAX_ERROR_RATE, min_ratio: float = DEFAULT_MIN_RATIO) -> list[Alarm]:
    """Every alarm one crawl of one target raises; an empty list means healthy."""
    alarms = []
    if current.finish_reason != "finished":
        alarms.append(Alarm("finish_reason", f"the crawl ended with {current.finish_reason or 'no finish reason'!r}, not 'finished'"))
    if current.items == 0:
        alarms.append(Alarm("zero_items", f"no items from {current.pages} request(s): site down, blocked or redesigned?"))
    elif last_good is not None and last_good.items and current.items < last_good.items * min_ratio:
        alarms.append(Alarm("drop", f"{current.items} items against {last_good.items} in the last good run "
                                    f"(below {min_ratio:.0%}): part of the site no longer parses?"))
    if current.pages and current.error_rate > max_error_rate:
        alarms.append(Alarm("error_rate", f"{current.errors} errors in {current.pages} requests "
                                          f"({current.error_rate:.0%} > {max_error_rate:.0%})"))
    return alarms
