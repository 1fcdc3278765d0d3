"""Crawl health: the figures the monitors judge, read from Scrapy's own stats, and the verdict they leave.

The checks themselves are Spidermon monitors (netwatch.crawl.monitors), run when a spider closes; their
verdict lands in the crawl's stats under ALARMS_STAT. `netwatch crawl` and `netwatch nightly` both read
it from there (alarms_from_stats), so the two commands can never judge one crawl differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from netwatch.domain.words import say_value

ALARMS_STAT = "netwatch/health/alarms"  # list of {check, message}; [] is a healthy crawl
LAST_GOOD_STAT = "netwatch/last_good_items"  # items of the target's last run without alarms (the store's)
# Set by the distributed coordinator in a target's stats: the worker incarnations that died during its crawl.
LOST_WORKERS_STAT = "netwatch/distributed/lost_workers"
LISTINGS_WITH_SHOP_STAT = "netwatch/listings_with_shop"  # listings naming their shop (shop_id or shop_name)
# Sites no more requests go to, and why: {site: "page budget (200 pages)", …} (netwatch.crawl.budgets and
# netwatch.crawl.middlewares close them; both middlewares drop what is still queued for them).
CLOSED_SITES_STAT = "netwatch/closed_sites"
# The failure record of sites and URLs beside netwatch/dead_sites: [{site, url, reason}] (a redirect loop, a
# site given up after refusing again and again). Kept in the run's stats in the store; the monitors alarm on it.
SITE_FAILURES_STAT = "netwatch/site_failures"
DROPPED_PREFIX = "netwatch/dropped/"  # requests netwatch chose not to send, by reason
CLOSED_DROP_REASON = "closed_site"  # netwatch/dropped/closed_site: requests for a closed site
TRAP_PREFIX = "netwatch/trap/"  # links not followed because they look like a crawler trap, by heuristic
BUDGET_HITS_STAT = "netwatch/budget_hits"  # [{site, budget: pages|seconds, limit, pages, seconds}] (crawl.budgets)
LISTINGS_WITH_PREFIX = "netwatch/listings_with/"  # + title / price / shop: product items that have the field
COVERED_FIELDS = ("title", "price", "shop")
ERROR_PREFIX = "netwatch/errors/"
# Error kinds that are the web working as meant: a delisted listing answers 404 or 410.
# (robots.txt refusals are not counted as errors at all: netwatch/robots_forbidden.)
NOT_ERRORS = frozenset({"http_404", "http_410", "robots"})


def field_coverage(stats: Mapping[str, Any]) -> dict[str, float]:
    """The share of listings (product items) that have each of title, price and shop, 0–1; {} with no listings."""
    listings = int(stats.get("netwatch/items/listing", 0))
    if not listings:
        return {}
    return {name: round(int(stats.get(f"{LISTINGS_WITH_PREFIX}{name}", 0)) / listings, 4) for name in COVERED_FIELDS}


@dataclass(frozen=True)
class Alarm:
    check: str  # "zero_items", "drop", "error_rate", "finish_reason", "field_coverage", "budget", "site_failed",
    # "worker_lost", "crawl_failed", "no_verdict"
    message: str  # in English: logs, the crawl's stats, JSON
    zh: str = ""  # the same in Chinese: reports and command output in Chinese

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else self.message

    def check_name(self, lang: str) -> str:
        return say_value("check", self.check, lang)


@dataclass(frozen=True)
class CrawlFigures:
    """The figures the checks read, taken from one crawl's stats."""

    items: int
    pages: int  # requests made: responses received plus requests that got no response
    errors: int
    finish_reason: str | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.pages if self.pages else (1.0 if self.errors else 0.0)


def counts(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """The counters prefix<name> as {name: count}."""
    return {key[len(prefix):]: int(value) for key, value in stats.items() if key.startswith(prefix)}


def errors_by_kind(stats: Mapping[str, Any]) -> dict[str, int]:
    return counts(stats, ERROR_PREFIX)


def figures_from_stats(stats: Mapping[str, Any]) -> CrawlFigures:
    """Items and responses from Scrapy's counters (item_scraped_count, response_received_count), errors
    from netwatch's per-kind counters less the kinds that are not errors."""
    errors = {kind: n for kind, n in errors_by_kind(stats).items() if kind not in NOT_ERRORS}
    # An HTTP error came with a response (already counted); a timeout or refused connection did not.
    unanswered = sum(n for kind, n in errors.items() if not kind.startswith("http_"))
    return CrawlFigures(items=int(stats.get("item_scraped_count", 0)),
                        pages=int(stats.get("response_received_count", 0)) + unanswered,
                        errors=sum(errors.values()), finish_reason=stats.get("finish_reason"))


def alarms_from_stats(stats: Mapping[str, Any]) -> list[Alarm]:
    """The monitors' verdict recorded in a crawl's stats; a crawl without one is itself an alarm
    (its monitors did not run, so nobody looked at it)."""
    if ALARMS_STAT not in stats:
        return [Alarm("no_verdict", "the crawl recorded no health verdict (its monitors did not run: "
                                    "SPIDERMON_ENABLED off, or the crawl did not close)",
                      "本次抓取没有健康检查结论（监控未运行：SPIDERMON_ENABLED 已关闭，或抓取未正常结束）")]
    return [Alarm(str(alarm["check"]), str(alarm["message"]), str(alarm.get("zh") or ""))
            for alarm in stats[ALARMS_STAT]]


def last_good_items(earlier_runs_stats: list[Mapping[str, Any]]) -> int | None:
    """Items of the newest run (stats newest first) whose verdict had no alarm; None without one."""
    for stats in earlier_runs_stats:
        if ALARMS_STAT in stats and not stats[ALARMS_STAT]:
            return int(stats.get("item_scraped_count", 0))
    return None
