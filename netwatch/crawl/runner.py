"""Run one or several crawls in one process with netwatch's settings, and judge how they went.

Used by `netwatch crawl`, the demo and the tests. Scrapy exits 0 even when a crawl found nothing; the
health monitors' verdict (netwatch.crawl.monitors, in each crawl's stats) decides `exit_code`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwatch.crawl.health import (
    BUDGET_HITS_STAT,
    CLOSED_SITES_STAT,
    DROPPED_PREFIX,
    SITE_FAILURES_STAT,
    TRAP_PREFIX,
    Alarm,
    alarms_from_stats,
    counts,
    errors_by_kind,
    field_coverage,
)
from netwatch.exits import EXIT_ALARMS, EXIT_FAILED, EXIT_OK, EXIT_STORE_FAILED
from netwatch.sites import load_profile, profile_names

SPIDER_NAMES = ("generic", "profile")


@dataclass
class CrawlResult:
    target: str
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> int:
        return int(self.stats.get("item_scraped_count", 0))

    @property
    def pages(self) -> int:
        return int(self.stats.get("response_received_count", 0))

    @property
    def errors(self) -> int:
        return int(self.stats.get("netwatch/errors", 0))

    @property
    def errors_by_kind(self) -> dict[str, int]:
        return errors_by_kind(self.stats)

    @property
    def items_by_type(self) -> dict[str, int]:
        prefix = "netwatch/items/"
        return {k[len(prefix):]: int(v) for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def ran(self) -> bool:
        """False when the crawl never got going (its spider failed to open): no finish reason."""
        return bool(self.stats.get("finish_reason"))

    @property
    def alarms(self) -> list[Alarm]:
        return alarms_from_stats(self.stats)

    @property
    def store_error(self) -> str | None:
        """The store's message when it refused a write and the crawl was stopped (it names the database)."""
        from netwatch.analysis.post_run import STORE_ERROR_STAT

        return self.stats.get(STORE_ERROR_STAT)

    @property
    def problem(self) -> str | None:
        """The health alarms' messages, or None for a healthy crawl."""
        return self.problem_text("en")

    def problem_text(self, lang: str) -> str | None:
        """`problem` in English or Chinese (zh)."""
        from netwatch.domain.words import say

        if self.store_error:
            return say("store_failed", lang)
        if not self.ran:
            return say("did_not_run", lang)
        return "; ".join(f"{alarm.check_name(lang)}: {alarm.text(lang)}" for alarm in self.alarms) or None

    def summary(self) -> dict[str, Any]:
        memory = self.stats.get("memusage/max")
        return {
            "target": self.target, "pages": self.pages, "items": self.items, "items_by_type": self.items_by_type,
            "leads": int(self.stats.get("netwatch/leads", 0)),
            "field_coverage": field_coverage(self.stats),  # share of listings with title, price, shop
            # scored over the store once the crawl was done (not in duration_s)
            "review_leads": int(self.stats.get("netwatch/review_signals/leads", 0)),
            "review_pass_s": self.stats.get("netwatch/review_signals/seconds"), "errors": self.errors,
            "errors_by_kind": self.errors_by_kind, "duration_s": self.stats.get("elapsed_time_seconds"),
            "cpu_s": self.stats.get("netwatch/cpu_s"),
            "peak_rss_mib": round(memory / 2**20, 1) if memory else None,
            "dead_sites": self.stats.get("netwatch/dead_sites", []),
            # sites closed (budget spent, given up), budget hits, redirect loops and refusals, requests not sent
            "closed_sites": self.stats.get(CLOSED_SITES_STAT, {}),
            "budget_hits": self.stats.get(BUDGET_HITS_STAT, []), "site_failures": self.stats.get(SITE_FAILURES_STAT, []),
            "dropped": counts(self.stats, DROPPED_PREFIX), "traps": counts(self.stats, TRAP_PREFIX),
            "refusals": int(self.stats.get("netwatch/refusals", 0)),
            "refusal_wait_s": round(float(self.stats.get("netwatch/refusal_wait_s", 0.0)), 3),
            "robots_forbidden": int(self.stats.get("netwatch/robots_forbidden", 0)),
            "retries": int(self.stats.get("retry/count", 0)),
            "rendered_pages": int(self.stats.get("netwatch/rendered_pages", 0)),
            "browser_contexts": int(self.stats.get("playwright/context_count", 0)),
            "retry_backoff_s": round(float(self.stats.get("netwatch/retry_backoff_s", 0.0)), 3), "finish_reason": self.stats.get("finish_reason"),
            "alarms": [alarm.to_dict() for alarm in self.alarms] if self.ran else [], "problem": self.problem,
        }


def exit_code(results: Sequence[CrawlResult]) -> int:
    """netwatch.exits: the store refused a write (6) before a crawl that did not run (4) before health alarms (3)
    before all well (0)."""
    if any(result.store_error for result in results):
        return EXIT_STORE_FAILED
    if any(not result.ran for result in results):
        return EXIT_FAILED
    return EXIT_ALARMS if any(result.alarms for result in results) else EXIT_OK


def crawl_settings(overrides: Mapping[str, Any] | None = None, out: str | Path | None = None) -> Any:
    """netwatch.crawl.settings (whatever the working directory; the browser's settings included) plus overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "netwatch.crawl.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    if out:
        # Several crawlers append to one file: empty it once here, not per crawler.
        Path(out).write_bytes(b"")
        settings.set("FEEDS", {str(out): {"format": "jsonlines", "encoding": "utf-8", "overwrite": False}}, priority="cmdline")
    settings.setdict(dict(overrides or {}), priority="cmdline")
    return settings


def resolve_target(target: str, spider_args: Mapping[str, Any], base_urls: Mapping[str, str]) -> tuple[type, dict[str, Any]]:
    """A spider name (generic, profile) or a profile name/path → (spider class, its arguments)."""
    from netwatch.crawl.spiders.generic import GenericSpider
    from netwatch.crawl.spiders.profile import ProfileSpider

    args = dict(spider_args)
    if target == "generic":
        if not str(args.get("start_url") or "").strip():  # refused here, before the reactor starts
            raise ValueError("the generic spider needs -a start_url=URL (several: comma-separated)")
        return GenericSpider, args
    if target == "profile":
        target = str(args.pop("profile", "")) or ""
        if not target:
            raise ValueError("the profile spider needs -a profile=NAME")
    base_url = args.pop("base_url", None) or base_urls.get(target)
    if target not in profile_names() and not target.endswith((".yaml", ".yml")):
        raise ValueError(f"{target!r} is neither a spider ({', '.join(SPIDER_NAMES)}) nor a site profile "
                         f"({', '.join(profile_names())})")
    return ProfileSpider, {**args, "profile": load_profile(target, base_url)}


def check_rule_packs(settings: Any) -> None:
    """Load the crawl's rule packs before the reactor starts: a broken pack raises PackError (file:line, rule)
    here, not as a traceback from the CheckPipeline inside Twisted once the crawl is under way."""
    from netwatch import config
    from netwatch.checks.text import load_packs

    load_packs(settings.get("NETWATCH_RULES_DIR") or config.rules_dir())


def crawl_in_process(settings: Any, spiders: Sequence[tuple[type, Mapping[str, Any]]],
                     on_run_started: Callable[[int, int], None] | None = None) -> list[Any]:
    """Run the spiders (class, arguments) together in this process and return their crawlers, in order.
    Twisted's reactor starts once per process: callers that crawl again do it in a child process.

    on_run_started(index, store run id) is called (in a thread) as each crawl's store run starts, before
    its first request: so a caller can record the run even if the crawl is then killed."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    crawlers = []
    for index, (spidercls, kwargs) in enumerate(spiders):
        crawler = process.create_crawler(spidercls)
        if on_run_started is not None:
            crawler.signals.connect(_run_started_handler(crawler, index, on_run_started), signal=signals.spider_opened,
                                    weak=False)
        process.crawl(crawler, **kwargs)
        crawlers.append(crawler)
    if crawlers:
        process.start()
        screenshots_after_crawls(crawlers)
    return crawlers


def screenshots_after_crawls(crawlers: Sequence[Any]) -> None:
    """Screenshots of each crawl's new critical and high leads (netwatch.crawl.screens), once every crawl is
    done. In a thread of its own: Playwright's sync API refuses a thread that has an asyncio loop."""
    import threading

    from netwatch.crawl.screens import screenshots_after

    worker = threading.Thread(target=lambda: [screenshots_after(crawler) for crawler in crawlers],
                              name="screenshots")
    worker.start()
    worker.join()


def _run_started_handler(crawler: Any, index: int, on_run_started: Callable[[int, int], None]) -> Any:
    # spider_opened comes after the pipelines opened (StorePipeline started the run) and is awaited
    # before the crawl's first request.
    async def handler() -> None:
        run_id = crawler.stats.get_value("netwatch/run_id")
        if run_id is not None:
            await asyncio.to_thread(on_run_started, index, int(run_id))
    return handler


def run_crawls(
    targets: Sequence[str],
    spider_args: Mapping[str, Any] | None = None,
    base_urls: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    stats_file: str | Path | None = None,
) -> list[CrawlResult]:
    """Crawl every target in one process (one reactor) and return each one's stats.

    `base_urls` maps profile keys to running sites' base URLs (the demo marketplace's random port).
    Bad targets, profiles or rule packs raise before anything is fetched.
    """
    resolved = [resolve_target(target, spider_args or {}, base_urls or {}) for target in targets]
    crawl_config = crawl_settings(settings, out)
    check_rule_packs(crawl_config)
    crawlers = crawl_in_process(crawl_config, resolved)
    results = [CrawlResult(target, dict(crawler.stats.get_stats()) if crawler.stats else {})
               for target, crawler in zip(targets, crawlers)]
    if stats_file:
        Path(stats_file).write_text(json.dumps([r.summary() for r in results], ensure_ascii=False, indent=2,
                                               default=str), encoding="utf-8")
    return results
