"""Run one or several crawls in one process with netwatch's settings, and judge how they went.

Used by `netwatch crawl`, the demo and the tests. Scrapy exits 0 even when a crawl found nothing;
`exit_code` does not: no items, or mostly errors, is a failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwatch.sites import load_profile, profile_names

EXIT_OK = 0
EXIT_NO_ITEMS = 3
EXIT_MOSTLY_ERRORS = 4
EXIT_STORE_FAILED = 5  # the store refused a write (e.g. a full disk): the crawl was stopped
SPIDER_NAMES = ("generic", "profile")
# Above this share of failed requests a crawl is judged broken even if it produced items.
MOSTLY_ERRORS = 0.5


@dataclass
class CrawlResult:
    target: str
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> int:
        return int(self.stats.get("netwatch/items", 0))

    @property
    def pages(self) -> int:
        return int(self.stats.get("netwatch/pages", 0))

    @property
    def errors(self) -> int:
        return int(self.stats.get("netwatch/errors", 0))

    @property
    def errors_by_kind(self) -> dict[str, int]:
        prefix = "netwatch/errors/"
        return {k[len(prefix):]: int(v) for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def items_by_type(self) -> dict[str, int]:
        prefix = "netwatch/items/"
        return {k[len(prefix):]: int(v) for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def store_error(self) -> str | None:
        """The store's message when it refused a write and the crawl was stopped (it names the database)."""
        from netwatch.analysis.post_run import STORE_ERROR_STAT

        return self.stats.get(STORE_ERROR_STAT)

    @property
    def problem(self) -> str | None:
        """Why this crawl counts as failed, or None."""
        if self.store_error:
            return "store failed"
        dead = self.stats.get("netwatch/dead_sites")
        if self.items == 0:
            return f"no items ({'unreachable: ' + ', '.join(dead) if dead else f'{self.pages} pages, {self.errors} errors'})"
        requests = self.pages + self.stats.get("netwatch/errors/dns", 0) + self.stats.get("netwatch/errors/timeout", 0) \
            + self.stats.get("netwatch/errors/connection_refused", 0) + self.stats.get("netwatch/errors/connection", 0)
        if requests and self.errors / requests > MOSTLY_ERRORS:
            return f"mostly errors ({self.errors} errors for {requests} requests)"
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "target": self.target, "pages": self.pages, "items": self.items, "items_by_type": self.items_by_type,
            "leads": int(self.stats.get("netwatch/leads", 0)),
            # scored over the store once the crawl was done (not in duration_s)
            "review_leads": int(self.stats.get("netwatch/review_signals/leads", 0)),
            "review_pass_s": self.stats.get("netwatch/review_signals/seconds"), "errors": self.errors,
            "errors_by_kind": self.errors_by_kind, "duration_s": self.stats.get("netwatch/duration_s"),
            "cpu_s": self.stats.get("netwatch/cpu_s"), "peak_rss_mib": self.stats.get("netwatch/peak_rss_mib"),
            "dead_sites": self.stats.get("netwatch/dead_sites", []),
            "robots_forbidden": int(self.stats.get("netwatch/robots_forbidden", 0)),
            "retries": int(self.stats.get("retry/count", 0)),
            "rendered_pages": int(self.stats.get("netwatch/rendered_pages", 0)),
            "browser_contexts": int(self.stats.get("playwright/context_count", 0)),
            "retry_backoff_s": round(float(self.stats.get("netwatch/retry_backoff_s", 0.0)), 3), "finish_reason": self.stats.get("finish_reason"),
            "problem": self.problem,
        }


def exit_code(results: Sequence[CrawlResult]) -> int:
    """0 when every crawl produced items without mostly failing; otherwise the worst problem's code."""
    if any(result.store_error for result in results):
        return EXIT_STORE_FAILED
    code = EXIT_OK
    for result in results:
        if result.items == 0:
            return EXIT_NO_ITEMS
        if result.problem:
            code = EXIT_MOSTLY_ERRORS
    return code


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


def crawl_in_process(settings: Any, spiders: Sequence[tuple[type, Mapping[str, Any]]]) -> list[Any]:
    """Run the spiders (class, arguments) together in this process and return their crawlers, in order.
    Twisted's reactor starts once per process: callers that crawl again do it in a child process."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    crawlers = []
    for spidercls, kwargs in spiders:
        crawler = process.create_crawler(spidercls)
        process.crawl(crawler, **kwargs)
        crawlers.append(crawler)
    if crawlers:
        process.start()
    return crawlers


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
    Bad targets or profiles raise before anything is fetched.
    """
    resolved = [resolve_target(target, spider_args or {}, base_urls or {}) for target in targets]
    crawlers = crawl_in_process(crawl_settings(settings, out), resolved)
    results = [CrawlResult(target, dict(crawler.stats.get_stats()) if crawler.stats else {})
               for target, crawler in zip(targets, crawlers)]
    if stats_file:
        Path(stats_file).write_text(json.dumps([r.summary() for r in results], ensure_ascii=False, indent=2,
                                               default=str), encoding="utf-8")
    return results
