"""A crawl of the hostile set (netwatch_fixtures.hostile, issue #14): pages, peak RSS and wall time.

    python -m bench hostile                               # page budgets 500 and 2,000
    python -m bench hostile -- --budgets 1000,10000       # longer

One `netwatch crawl generic` over every hostile site at once (each on its own loopback address, so each is
its own site): a link trap (/trap/N, 50 new links a page), a calendar, a query-parameter explosion, repeating
and ever deeper paths, a redirect loop, a site that refuses twice then recovers and one that always refuses
(429, Retry-After: 2). The link trap is what the page budget (NETWATCH_SITE_MAX_PAGES) stops; the figure to
watch is peak RSS as the budget grows: the queue of a trap's links is bounded by the budget, and what is
dropped costs no memory. Each crawl runs in its own process, memory sampled from /proc (bench.bench_crawl).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_crawl import run_measured

KINDS = ("trap", "calendar", "query", "repeat", "redirect", "refuse_first", "refuse")


def crawl_hostile_set(tmp: Path, budget: int) -> dict:
    from netwatch_fixtures.hostile import HostileSite

    with contextlib.ExitStack() as stack:
        sites = [stack.enter_context(HostileSite(kind, host=f"127.0.0.{60 + n}")) for n, kind in enumerate(KINDS)]
        stats_file = tmp / f"stats-{budget}.json"
        command = [sys.executable, "-c", "from netwatch.cli import main; main()", "crawl", "generic",
                   "-a", "start_url=" + ",".join(site.url for site in sites), "--stats", str(stats_file),
                   "--progress", "0", "-s", "LOG_LEVEL=WARNING", "-s", f"NETWATCH_SITE_MAX_PAGES={budget}",
                   "-s", f"NETWATCH_DB_URL=sqlite:///{tmp / f'bench-{budget}.db'}"]
        wall, memory, err = run_measured(command)
        served = {site.kind: len(site.requests) for site in sites}
    if not stats_file.exists():
        raise RuntimeError(f"crawl failed: {err[-2000:]}")
    (summary,) = json.loads(stats_file.read_text())
    return {"wall": wall, "rss_mib": memory.peak_kib / 1024, "summary": summary, "served": served}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_hostile")
    parser.add_argument("--budgets", default="500,2000", help="page budgets per site (NETWATCH_SITE_MAX_PAGES)")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: figures vary)")
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmpdir:
        for budget in (int(b) for b in args.budgets.split(",")):
            started = time.perf_counter()
            run = crawl_hostile_set(Path(tmpdir), budget)
            summary = run["summary"]
            runs.append((budget, run["rss_mib"]))
            print(f"\n[budget {budget} pages a site] {summary['pages']} pages, {summary['items']} items in "
                  f"{summary['duration_s']:.1f} s (process {run['wall']:.1f} s, bench {time.perf_counter() - started:.1f} s); "
                  f"peak RSS {run['rss_mib']:.0f} MiB (Scrapy's memusage/max {summary['peak_rss_mib']} MiB)")
            print(f"  requests each site saw: {run['served']}")
            print(f"  dropped: {summary['dropped']}; traps: {summary['traps']}; refusals {summary['refusals']} "
                  f"(waited {summary['refusal_wait_s']:.0f} s)")
            print(f"  alarms: {sorted(alarm['check'] for alarm in summary['alarms'])}; "
                  f"site failures: {[(f['site'], f['reason']) for f in summary['site_failures']]}")
    if len(runs) > 1:
        (small, small_rss), (large, large_rss) = runs[0], runs[-1]
        print(f"\npeak RSS from a budget of {small} to {large} pages a site: {large_rss - small_rss:+.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
