"""Crawl-health monitors (Spidermon), run when a spider closes (SPIDERMON_SPIDER_CLOSE_MONITORS).

Each monitor is one check; a failed one is an alarm. The RecordVerdict action writes every alarm into the
crawl's stats (netwatch.crawl.health.ALARMS_STAT), where `netwatch crawl` and `netwatch nightly` read it.
Thresholds are settings (netwatch.crawl.settings: NETWATCH_MAX_ERROR_RATE, NETWATCH_MIN_FIELD_COVERAGE,
NETWATCH_MIN_ITEM_RATIO, NETWATCH_LAST_GOOD_ITEMS).
"""

from __future__ import annotations

import logging
from typing import Any

from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.extensions import Spidermon
from spidermon.contrib.scrapy.runners import SpiderMonitorResult, SpiderMonitorRunner
from spidermon.core.actions import Action
from spidermon.runners import MonitorRunner
from spidermon.utils.field_coverage import calculate_field_coverage

from netwatch.crawl.budgets import budget_message
from netwatch.crawl.health import (
    ALARMS_STAT,
    BUDGET_HITS_STAT,
    CLOSED_DROP_REASON,
    CLOSED_SITES_STAT,
    DROPPED_PREFIX,
    LAST_GOOD_STAT,
    LISTINGS_WITH_SHOP_STAT,
    LOST_WORKERS_STAT,
    SITE_FAILURES_STAT,
    Alarm,
    CrawlFigures,
    figures_from_stats,
)

LISTING = "Listing"  # the item class whose field coverage is checked (Spidermon keys stats by class name)


class HealthMonitor(Monitor):
    check = ""  # the alarm's name when this monitor fails
    longMessage = False  # the alarm's message is ours alone, without unittest's "0 not greater than 0 : "

    @property
    def settings(self) -> Any:
        return self.data.crawler.settings

    @property
    def figures(self) -> CrawlFigures:
        return figures_from_stats(self.data.stats)

    def expect(self, ok: Any, message: str, zh: str) -> None:
        """An alarm unless `ok`, said in English (logs, stats) and in Chinese (reports): verdict_of reads both."""
        self.zh_message = zh
        self.assertTrue(ok, message)


@monitors.name("finish reason")
class FinishReasonMonitor(HealthMonitor):
    check = "finish_reason"

    def test_finished(self) -> None:
        reason = self.figures.finish_reason
        self.expect(reason == "finished", f"the crawl ended with {reason or 'no finish reason'!r}, not 'finished'",
                    f"抓取以“{reason or '无结束原因'}”结束，而不是正常完成（finished）")


@monitors.name("items")
class ZeroItemsMonitor(HealthMonitor):
    check = "zero_items"

    def test_some_items(self) -> None:
        figures = self.figures
        dead = self.data.stats.get("netwatch/dead_sites")
        why = f"unreachable: {', '.join(dead)}" if dead else "site down, blocked or redesigned?"
        why_zh = f"无法访问：{'、'.join(dead)}" if dead else "网站关闭、拒绝访问还是改版了？"
        self.expect(figures.items > 0, f"no items from {figures.pages} request(s): {why}",
                    f"{figures.pages} 次请求未抓到任何商品：{why_zh}")


@monitors.name("drop against the last good run")
class ItemDropMonitor(HealthMonitor):
    check = "drop"

    def test_no_drop(self) -> None:
        last_good = self.settings.getint("NETWATCH_LAST_GOOD_ITEMS") or int(self.data.stats.get(LAST_GOOD_STAT) or 0)
        ratio = self.settings.getfloat("NETWATCH_MIN_ITEM_RATIO")
        items = self.figures.items
        if not last_good or not items:  # no history; no items at all is ZeroItemsMonitor's alarm
            return
        self.expect(items >= last_good * ratio, f"{items} items against {last_good} in the last good run "
                                                f"(below {ratio:.0%}): part of the site no longer parses?",
                    f"抓到 {items} 件商品，上次正常抓取为 {last_good} 件（低于 {ratio:.0%}）：网站部分页面无法解析了？")


@monitors.name("error rate")
class ErrorRateMonitor(HealthMonitor):
    check = "error_rate"

    def test_error_rate(self) -> None:
        figures, limit = self.figures, self.settings.getfloat("NETWATCH_MAX_ERROR_RATE")
        if figures.pages:
            self.expect(figures.error_rate <= limit, f"{figures.errors} errors in {figures.pages} requests "
                                                     f"({figures.error_rate:.0%} > {limit:.0%})",
                        f"{figures.pages} 次请求出错 {figures.errors} 次（{figures.error_rate:.0%} > {limit:.0%}）")


@monitors.name("listing field coverage")
class FieldCoverageMonitor(HealthMonitor):
    check = "field_coverage"

    def test_listing_fields(self) -> None:
        stats = self.data.stats
        listings = int(stats.get(f"spidermon_item_scraped_count/{LISTING}", 0))
        if not listings or listings < self.settings.getint("NETWATCH_COVERAGE_MIN_LISTINGS"):
            return
        minimum = self.settings.getfloat("NETWATCH_MIN_FIELD_COVERAGE")
        # Spidermon covers fields one by one; "shop" is either of two, counted by netwatch.crawl.stats.
        coverage = {name: int(stats.get(LISTINGS_WITH_SHOP_STAT, 0)) / listings if name == "shop"
                    else float(stats.get(f"spidermon_field_coverage/{LISTING}/{name}", 0.0))
                    for name in self.settings.getlist("NETWATCH_COVERAGE_FIELDS")}
        low = {name: share for name, share in coverage.items() if share < minimum}
        shares = ", ".join(f"{name} ({share:.0%})" for name, share in sorted(low.items()))
        self.expect(not low, f"of {listings} listings, too few have {shares} (below {minimum:.0%}): a selector broke?",
                    f"{listings} 件商品中，具备以下字段的太少：{shares}（低于 {minimum:.0%}）：选择器失效了？")


class RecordVerdict(Action):
    """Every failed monitor as an alarm in the crawl's stats ([] when all passed), and in the run's meta."""

    alarms: list[dict[str, str]] = []

    def run_action(self) -> None:
        self.alarms = [alarm.to_dict() for alarm in verdict_of(self.result)]
        stats = getattr(self.data.crawler, "stats", None)  # None when judging stats after the fact (judge)
        if stats is not None:
            stats.set_value(ALARMS_STAT, self.alarms)

    def get_meta(self) -> dict[str, Any]:
        return {"alarms": self.alarms}


def verdict_of(result: Any) -> list[Alarm]:
    alarms = []
    for failed in result.monitors_failed_results:
        monitor = failed.item
        # A failed assertion carries our message; a monitor that crashed, its traceback's last line.
        traceback = (failed.error or "").strip().splitlines()
        message = failed.reason or (traceback[-1] if traceback else "the monitor failed")
        zh = getattr(monitor, "zh_message", "") if failed.reason else ""
        alarms.append(Alarm(getattr(monitor, "check", "") or monitor.name, message, zh))
    return alarms


@monitors.name("workers")
class LostWorkersMonitor(HealthMonitor):
    """A shared crawl whose coordinator found workers dead (their requests were crawled again by the others,
    but their statistics are lost: the figures are the survivors')."""

    check = "worker_lost"

    def test_no_worker_lost(self) -> None:
        lost = self.data.stats.get(LOST_WORKERS_STAT)
        self.expect(not lost, f"worker(s) {lost} died during the crawl; the requests they held were crawled "
                              "again by the others", f"工作进程 {lost} 在抓取中途退出，其未完成的请求已由其他进程重新抓取")


@monitors.name("site budgets")
class BudgetMonitor(HealthMonitor):
    """A site that reached its page or time budget (netwatch.crawl.budgets): a link trap, or a budget too small."""

    check = "budget"

    def test_no_budget_hit(self) -> None:
        hits = self.data.stats.get(BUDGET_HITS_STAT) or []
        dropped = int(self.data.stats.get(DROPPED_PREFIX + CLOSED_DROP_REASON, 0))
        self.expect(not hits, "; ".join(budget_message(hit, dropped) for hit in hits),
                    "；".join(budget_message(hit, dropped, "zh") for hit in hits))


@monitors.name("sites given up")
class SiteFailureMonitor(HealthMonitor):
    """Sites given up, closed after refusing (429/503) again and again (netwatch.crawl.middlewares). Other site
    failures (a redirect loop) are recorded in netwatch/site_failures and reported, but one looping page of a
    shop is not an alarm."""

    check = "site_failed"

    def test_no_site_given_up(self) -> None:
        closed = self.data.stats.get(CLOSED_SITES_STAT) or {}
        given_up = [failure for failure in self.data.stats.get(SITE_FAILURES_STAT) or [] if failure["site"] in closed]
        self.expect(not given_up, "; ".join(f"gave up on {failure['site']} ({failure['url']}): {failure['reason']}"
                                            for failure in given_up),
                    "；".join(f"已放弃站点 {failure['site']}（{failure['url']}）：{failure['reason']}" for failure in given_up))


class CrawlHealthSuite(MonitorSuite):
    monitors = [FinishReasonMonitor, ZeroItemsMonitor, ItemDropMonitor, ErrorRateMonitor, FieldCoverageMonitor,
                LostWorkersMonitor, BudgetMonitor, SiteFailureMonitor]
    monitors_finished_actions = [RecordVerdict]


class _Closed:
    """What the monitors read of a crawl that is over: its settings (the stats come separately)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.stats = None


def judge(stats: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Stats gathered elsewhere (a shared crawl's workers' parts added up) judged by the suite: returned with
    the coverage ratios computed again from the counts (ratios do not add up) and the verdict (ALARMS_STAT)."""
    judged = {**stats, **calculate_field_coverage(stats)}
    runner = MonitorRunner()
    runner.run(CrawlHealthSuite(), stats=judged, crawler=_Closed(settings), meta={})
    judged[ALARMS_STAT] = runner.data.meta["alarms"]
    return judged


# -- the extension -------------------------------------------------------------------------------------
# Spidermon 1.27 logs its report through Spider.log(), deprecated in Scrapy 2.19 (a ScrapyDeprecationWarning
# per line, an error under pytest, which would lose the verdict): the same report through spider.logger.


class _LoggerResult(SpiderMonitorResult):
    def log(self, msg: str, level: int = logging.DEBUG) -> None:
        self.spider.logger.log(level, "[Spidermon] %s", msg)


class _LoggerRunner(SpiderMonitorRunner):
    def create_result(self) -> _LoggerResult:
        return _LoggerResult(self.spider)


class HealthMonitors(Spidermon):
    """Spidermon's extension (SPIDERMON_* settings, field coverage), reporting through spider.logger."""

    def _run_suites(self, spider: Any, suites: list[MonitorSuite]) -> None:
        data = self._generate_data_for_spider(spider)
        for suite in suites:
            _LoggerRunner(spider=spider).run(suite, **data)
