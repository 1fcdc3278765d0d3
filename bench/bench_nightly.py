"""The nightly run at scale: one night over the demo marketplace, then a second night with nothing
changed, then the same crawl shared by one and by two scrapy-redis workers.

    python -m bench.bench_nightly [--listings 1000] [--pg-url URL] [--redis-url URL] [--skip-distributed]

The default (1,000 listings) runs in about five minutes on two shared cores; issue #7's figure is
`--listings 10000` (about ten times longer).

Prints: night 1 duration and pages/s; on the unchanged market, a full re-crawl (incremental off, the
baseline, same run) and an incremental night (as `netwatch nightly` runs it): requests, listing pages
skipped and the speed-up; distributed throughput of two workers against one (goal on two cores: >= 1.5x) and how
many URLs both workers fetched (must be 0).
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa

from bench.common import pg_schema_url
from netwatch.crawl.incremental import SKIPPED_STAT
from netwatch.ops.coordinator import crawl_targets_shared
from netwatch.ops.nightly import NightlyResult, run_nightly
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Run

PG_URL = os.environ.get("NETWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NETWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}
INCREMENTAL = {**QUIET, "NETWATCH_INCREMENTAL": True}


def pages(result: NightlyResult) -> int:
    return sum(target.figures.pages for target in result.targets if target.figures)


def drop_schema(pg_url: str, schema: str) -> None:
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def timed_night(db_url: str, outbox: Path, settings: dict = QUIET, **options) -> tuple[NightlyResult, float]:
    started = time.perf_counter()
    result = run_nightly(db_url, outbox=outbox, settings=settings, **options)
    return result, time.perf_counter() - started


def skipped_pages(db_url: str, result: NightlyResult) -> int:
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            stats = conn.execute(sa.select(Run.stats).where(Run.id.in_(
                [target.crawl_run_id for target in result.targets if target.crawl_run_id]))).scalars().all()
    finally:
        engine.dispose()
    return sum(int((row or {}).get(SKIPPED_STAT, 0)) for row in stats)


def distributed_night(pg_url: str, redis_url: str, mall_url: str, workers: int, outbox: Path) -> dict:
    """One nightly run of the marketplace crawled by `workers` worker processes; figures of the run."""
    db_url, schema = pg_schema_url(pg_url)
    namespace = f"nwbench-{uuid.uuid4().hex[:8]}"
    shared: dict = {}
    try:
        engine = open_engine(db_url)
        add_target(engine, make_spec("netmall", profile="netmall", url=mall_url, tags="nightly"))
        engine.dispose()
        code = "import sys; from netwatch.cli.nightly import worker; worker(sys.argv[1:])"
        processes = [subprocess.Popen([sys.executable, "-c", code, "--redis-url", redis_url, "--namespace", namespace,
                                       "--once", "--wait", "600", "--id", f"w{n}"]) for n in range(workers)]
        try:
            crawl = functools.partial(crawl_targets_shared, redis_url=redis_url, namespace=namespace,
                                      min_workers=workers, count_fetches=True, stats_out=shared, poll=0.5)
            result, seconds = timed_night(db_url, outbox, crawl=crawl)
            for process in processes:
                process.wait(timeout=300)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        return {"seconds": seconds, "pages": pages(result), "leads": result.new, **shared}
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
        drop_schema(pg_url, schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="200 listings")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--skip-distributed", action="store_true")
    parser.add_argument("--only-distributed", action="store_true", help="skip the three SQLite nights")
    args = parser.parse_args(argv)
    listings = 200 if args.quick else args.listings
    shops = max(1, listings // 100)
    items_per_shop = listings // shops

    from netwatch_fixtures.mall.launch import start_mall

    with tempfile.TemporaryDirectory(prefix="netwatch-bench-") as tmp, \
            start_mall(shops=shops, items_per_shop=items_per_shop) as mall:
        tmp_path = Path(tmp)
        print(f"demo marketplace: {shops} shops x {items_per_shop} listings = {shops * items_per_shop} listings")
        if not args.only_distributed:
            db_url = f"sqlite:///{tmp_path / 'nightly.db'}"
            engine = open_engine(db_url)
            add_target(engine, make_spec("netmall", profile="netmall", url=mall.urls["netmall"], tags="nightly"))
            engine.dispose()
            first, first_s = timed_night(db_url, tmp_path / "outbox", INCREMENTAL)
            print(f"night 1 (SQLite): {first_s:.1f} s, {pages(first)} pages, {pages(first) / first_s:.1f} pages/s, "
                  f"{first.new} new leads, exit {first.exit_code}")
            full, full_s = timed_night(db_url, tmp_path / "outbox")
            print(f"night 2, nothing changed, full re-crawl (baseline): {full_s:.1f} s, {pages(full)} pages; "
                  f"{full.new} new, {full.recurring} recurring, {full.gone} gone")
            second, second_s = timed_night(db_url, tmp_path / "outbox", INCREMENTAL)
            skipped = skipped_pages(db_url, second)
            print(f"night 3, nothing changed, incremental: {second_s:.1f} s, {pages(second)} pages, {skipped} listing "
                  f"pages skipped ({pages(full) - pages(second)} fewer requests, {full_s / second_s:.2f}x the speed of "
                  f"the full re-crawl, {first_s / second_s:.2f}x night 1); "
                  f"{second.new} new, {second.recurring} recurring, {second.gone} gone")
        if args.skip_distributed:
            return 0
        one = distributed_night(args.pg_url, args.redis_url, mall.urls["netmall"], 1, tmp_path / "outbox-1")
        two = distributed_night(args.pg_url, args.redis_url, mall.urls["netmall"], 2, tmp_path / "outbox-2")
        for label, figures in (("1 worker ", one), ("2 workers", two)):
            print(f"distributed, {label}: whole night {figures['seconds']:.1f} s, of which crawling "
                  f"{figures['crawl_seconds']:.1f} s; {figures['pages']} pages, "
                  f"{figures['pages'] / figures['crawl_seconds']:.1f} pages/s while crawling, {figures['leads']} leads, "
                  f"pages by worker {figures['pages_by_worker']}, "
                  f"URLs fetched by two workers: {len(figures['fetched_by_two_workers'])}")
        # The crawl is what the workers share; the rest of the night (seeding, scoring the reviews,
        # outbox, report) runs once on the coordinator whatever the number of workers.
        ratio = (two["pages"] / two["crawl_seconds"]) / (one["pages"] / one["crawl_seconds"])
        whole = (two["pages"] / two["seconds"]) / (one["pages"] / one["seconds"])
        print(f"throughput while crawling, 2 workers vs 1: {ratio:.2f}x (goal >= 1.5x on two cores); "
              f"whole night: {whole:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
