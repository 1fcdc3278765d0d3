"""Crawling throughput and memory on the demo marketplace.

    python -m bench crawl                                # 10,000 listings; RSS at 2,000 and 10,000
    python -m bench crawl -- --listings 10000 --rss-sizes 10000,100000   # the issue's RSS figures (long)
    python -m bench crawl -- --only js

Figures:
1. netwatch's `netmall` profile with all pipelines (settings.ITEM_PIPELINES, store on a temp SQLite) against
   a bare Scrapy spider that requests the same URLs (same links, review API pages, JS pages through the
   browser) and extracts nothing — same run, same mall, same settings otherwise: pages/s, items/s, ratio.
2. JavaScript pages/s through scrapy-playwright on Debian's chromium-headless-shell, and the browser's peak RSS.
3. Peak RSS at two crawl lengths, bare and netwatch (netwatch's while crawling and with the review pass after):
   it should not grow with the crawl.
Each crawl runs in its own process (Twisted's reactor cannot restart); memory is sampled from /proc.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
ITEMS_PER_SHOP = 100


# --- memory sampling ----------------------------------------------------------------------------

def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split between the browser's processes, not counted in each."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _descendants(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        for child in _children(todo.pop()):
            seen.append(child)
            todo.append(child)
    return seen


class MemorySampler(threading.Thread):
    """Peak RSS of a process, and of its descendants (the browser) as summed PSS, sampled every half second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.peak_children_kib = pid, 0, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.peak_kib = max(self.peak_kib, _rss_kib(self.pid))
            self.peak_children_kib = max(self.peak_children_kib, sum(_pss_kib(p) for p in _descendants(self.pid)))


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, MemorySampler, str]:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(process.pid)
    sampler.start()
    _, err = process.communicate()
    sampler.stopped.set()
    sampler.join()
    return time.perf_counter() - started, sampler, err


# --- the crawls -----------------------------------------------------------------------------------

def available_pipelines() -> dict[str, int]:
    """settings.ITEM_PIPELINES, less any not written yet (printed, so a partial run is visible)."""
    from netwatch.crawl import settings

    chosen = {}
    for path, order in settings.ITEM_PIPELINES.items():
        module, _, name = path.rpartition(".")
        try:
            getattr(importlib.import_module(module), name)
            chosen[path] = order
        except (ImportError, AttributeError) as exc:
            print(f"  (pipeline {path} unavailable: {exc})")
    return chosen


def netwatch_crawl(base_url: str, tmp: Path, pipelines: dict[str, int], target: str = "netmall",
                   extra: list[str] | None = None, cprofile: Path | None = None) -> dict[str, Any]:
    stats_file = tmp / f"stats-{time.monotonic_ns()}.json"
    env = {**os.environ, "NETWATCH_DB_URL": f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.db'}"}
    # --cprofile: the same crawl under cProfile (slower: its figures are not throughput)
    runner = ["-m", "cProfile", "-o", str(cprofile), "-m", "netwatch.cli"] if cprofile else \
        ["-c", "from netwatch.cli import main; main()"]
    command = [sys.executable, *runner, "crawl", target,
               "-a", f"base_url={base_url}", "--stats", str(stats_file), "--progress", "0",
               "-s", f"ITEM_PIPELINES={json.dumps(pipelines)}", "-s", "LOG_LEVEL=WARNING", *(extra or [])]
    seconds, memory, err = run_measured(command, env)
    if not stats_file.exists():
        raise RuntimeError(f"crawl failed: {err[-2000:]}")
    (summary,) = json.loads(stats_file.read_text())
    return {"wall": seconds, "seconds": summary["duration_s"], "pages": summary["pages"], "items": summary["items"],
            "cpu": summary.get("cpu_s"), "summary": summary,
            "rss_mib": memory.peak_kib / 1024, "browser_mib": memory.peak_children_kib / 1024}


def bare_crawl(base_url: str, tmp: Path) -> dict[str, Any]:
    stats_file = tmp / "bare.json"
    command = [sys.executable, "-c", "import sys; from bench.bench_crawl import run_bare; run_bare(*sys.argv[1:])",
               base_url, str(stats_file)]
    seconds, memory, err = run_measured(command)
    if not stats_file.exists():
        raise RuntimeError(f"bare crawl failed: {err[-2000:]}")
    stats = json.loads(stats_file.read_text())
    return {"wall": seconds, "seconds": stats["seconds"], "pages": stats["pages"], "items": stats["item_pages"],
            "cpu": stats["cpu_seconds"], "rss_mib": memory.peak_kib / 1024}


def run_bare(base_url: str, stats_file: str) -> None:
    """Child process: the bare spider over the same links as the netmall profile, nothing extracted."""
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.sitemap import Sitemap

    from netwatch.crawl.browser import render_meta
    from netwatch.crawl.runner import crawl_settings

    class BareSpider(scrapy.Spider):
        name = "bare"
        item_pages = 0

        async def start(self) -> Any:
            yield scrapy.Request(f"{base_url}/sitemap.xml", callback=self.sitemap)
            yield scrapy.Request(f"{base_url}/", dont_filter=True)

        def sitemap(self, response: Any) -> Any:
            for entry in Sitemap(response.body):
                yield scrapy.Request(entry["loc"])

        def parse(self, response: Any, **kwargs: Any) -> Any:
            if response.css('body[data-render="js"]') and not response.meta.get("playwright"):
                yield response.request.replace(meta=render_meta("bare", "li.product a.item-link"), dont_filter=True,
                                               callback=self.rendered)
                return
            api = response.css("div#reviews::attr(data-api)").get()
            if api:
                self.item_pages += 1
                yield response.follow(api, callback=self.reviews)
            for css in ('a[href^="/shops"]', "a.shop-link", "a.next[rel=next]", "a.all-items", "li.product a.item-link"):
                yield from response.follow_all(css=css)

        async def rendered(self, response: Any) -> Any:
            await response.meta["playwright_page"].close()
            for request in self.parse(response):
                yield request

        def reviews(self, response: Any) -> Any:
            data = json.loads(response.text)
            if data["page"] < data["pages"]:
                yield response.follow(response.url.replace(f"page={data['page']}", f"page={data['page'] + 1}"),
                                      callback=self.reviews)

    process = CrawlerProcess(crawl_settings({"ITEM_PIPELINES": {}, "LOG_LEVEL": "WARNING"}))
    crawler = process.create_crawler(BareSpider)
    # CPU time from open to close, as netwatch's crawl statistics count it (netwatch/cpu_s)
    cpu: dict[str, float] = {}

    def opened() -> None:
        cpu["opened"] = time.process_time()

    def closed() -> None:
        cpu["closed"] = time.process_time()

    # receivers are held weakly: these names keep them alive until the crawl ends
    crawler.signals.connect(opened, signal=signals.spider_opened)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    Path(stats_file).write_text(json.dumps({"pages": stats.get("response_received_count", 0),
                                            "item_pages": crawler.spider.item_pages,
                                            "seconds": stats["elapsed_time_seconds"],
                                            "cpu_seconds": cpu["closed"] - cpu["opened"]}))


def print_profile(path: Path, run: dict[str, Any], top: int = 30) -> None:
    """netwatch's own functions by cumulative time. The review pass runs after the crawl in a thread, which
    cProfile does not see: its time comes from the run's statistics."""
    import pstats

    print(f"\n[cprofile] {path} (cProfile slows the crawl: compare shares, not speeds); crawl {run['seconds']:.1f} s; "
          f"review signals scored after it, in a thread cProfile does not see: "
          f"{run['summary'].get('review_pass_s') or 0.0:.1f} s")
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(f"{PROJECT.name}/netwatch/", top)
    print(f"  ({run['items']} items: divide a cumulative time by this for its cost per item)")


def js_profile(tmp: Path, pages: int, repeats: int) -> Path:
    """A profile that renders the JavaScript shop's list pages (each `repeats` times) and follows nothing."""
    starts = [f"{{base_url}}/shop/1007/items?page={n}" for n in range(1, pages + 1)] * repeats
    path = tmp / "jsbench.yaml"
    path.write_text(json.dumps({
        "key": "jsbench", "start_urls": starts,
        "pages": [{"name": "item list", "match": r"^/shop/\d+/items",
                   "render": {"always": True, "wait_for": "li.product a.item-link"}}],
    }), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_crawl")
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--rss-sizes", default="2000,10000", help="crawl lengths (listings) for the RSS figure")
    parser.add_argument("--js-renders", type=int, default=150)
    parser.add_argument("--only", choices=["throughput", "js", "rss"])
    parser.add_argument("--cprofile", type=Path, metavar="FILE",
                        help="also crawl the throughput mall once under cProfile, save the profile to FILE and print "
                             "netwatch's own functions (review signals, scored after the crawl, apart)")
    args = parser.parse_args(argv)

    from netwatch_fixtures.mall.launch import start_mall

    pipelines = available_pipelines()
    print(f"pipelines on: {', '.join(p.rsplit('.', 1)[1] for p in pipelines) or 'none'}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: figures vary)")
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmpdir:
        tmp = Path(tmpdir)
        if args.only in (None, "throughput"):
            shops = max(1, args.listings // ITEMS_PER_SHOP)
            with start_mall(shops=shops, items_per_shop=ITEMS_PER_SHOP) as mall:
                base = mall.urls["netmall"]
                bare = bare_crawl(base, tmp)
                ours = netwatch_crawl(base, tmp, pipelines)
                profiled = netwatch_crawl(base, tmp, pipelines, cprofile=args.cprofile) if args.cprofile else None
            print(f"\n[throughput] {shops * ITEMS_PER_SHOP} listings, {shops} shops")
            for name, run in (("bare scrapy (baseline)", bare), ("netwatch netmall profile", ours)):
                print(f"  {name:26} {run['pages']:7} pages {run['items']:7} items {run['seconds']:7.1f} s "
                      f"(process {run['wall']:.1f} s) "
                      f"{run['pages'] / run['seconds']:6.1f} pages/s {run['items'] / run['seconds']:6.1f} items/s "
                      f"CPU {1000 * run['cpu'] / run['pages']:.2f} ms/page peak RSS {run['rss_mib']:.0f} MiB")
            ratio = (ours["pages"] / ours["seconds"]) / (bare["pages"] / bare["seconds"])
            cpu_ratio = (bare["cpu"] / bare["pages"]) / (ours["cpu"] / ours["pages"])
            print(f"  ratio pages/s netwatch / bare: {ratio:.2f} (target >= 0.7); by CPU time per page: {cpu_ratio:.2f} "
                  f"(steadier when other work shares the machine)")
            review_pass = ours["summary"].get("review_pass_s") or 0.0
            with_pass = (ours["pages"] / (ours["seconds"] + review_pass)) / (bare["pages"] / bare["seconds"])
            print(f"  review signals scored over the store after the crawl: {review_pass:.1f} s, "
                  f"{ours['summary'].get('review_leads', 0)} leads; ratio with that time counted: {with_pass:.2f}")
            print(f"  errors: {ours['summary']['errors_by_kind']}")
            if profiled:
                print_profile(args.cprofile, profiled)
        if args.only in (None, "js"):
            pages = 50
            with start_mall(shops=12, items_per_shop=20 * pages) as mall:
                profile = js_profile(tmp, pages, max(1, args.js_renders // pages))
                run = netwatch_crawl(mall.urls["netmall"], tmp, {}, target=str(profile))
            rendered = run["summary"]["rendered_pages"]
            print(f"\n[javascript] {rendered} pages rendered by chromium-headless-shell in {run['seconds']:.1f} s "
                  f"(browser launch included; process {run['wall']:.1f} s): {rendered / run['seconds']:.1f} pages/s "
                  f"(anchor 4.5-7); browser peak memory (PSS, all its processes) {run['browser_mib']:.0f} MiB, "
                  f"crawler RSS {run['rss_mib']:.0f} MiB; {run['summary']['browser_contexts']} browser contexts opened "
                  f"and closed in turn")
        if args.only in (None, "rss"):
            print("\n[memory] peak RSS by crawl length: bare Scrapy (baseline) and netwatch, same mall; netwatch's "
                  "peak while crawling (before the review pass) and of the whole process (the pass included)")
            runs = []
            for size in (int(s) for s in args.rss_sizes.split(",")):
                shops = max(1, size // ITEMS_PER_SHOP)
                with start_mall(shops=shops, items_per_shop=ITEMS_PER_SHOP) as mall:
                    bare = bare_crawl(mall.urls["netmall"], tmp)
                    ours = netwatch_crawl(mall.urls["netmall"], tmp, pipelines)
                crawling = ours["summary"]["peak_rss_mib"]  # Scrapy's memusage/max, read when the spider closed, before the review pass
                runs.append((size, bare["rss_mib"], crawling, ours["rss_mib"]))
                speed = (ours["pages"] / ours["seconds"]) / (bare["pages"] / bare["seconds"])
                print(f"  {size:7} listings: {ours['pages']:7} pages in {ours['seconds']:.1f} s (pages/s {speed:.2f} of "
                      f"bare's); bare {bare['rss_mib']:.0f} MiB; netwatch crawling {crawling:.0f} MiB, with the review pass "
                      f"({ours['summary'].get('review_pass_s') or 0.0:.1f} s) {ours['rss_mib']:.0f} MiB")
            if len(runs) > 1:
                (small, *first), (large, *last) = runs[0], runs[-1]
                growth = [b - a for a, b in zip(first, last)]
                print(f"  growth from {small} to {large} listings: bare {growth[0]:+.0f} MiB; netwatch crawling "
                      f"{growth[1]:+.0f} MiB, whole process {growth[2]:+.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
