"""The one post-run step (netwatch.analysis.post_run) as the crawl and the import reach it: a run shut down
is recorded as killed, and neither marks listings delisted nor scores reviews; a run that finished does both."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from scrapy import Spider
from scrapy.utils.test import get_crawler
from test_import import review_rows

from netwatch.analysis.post_run import finish, run_status
from netwatch.crawl.pipelines.store import StorePipeline
from netwatch.domain.items import Listing
from netwatch.importing import build_items
from netwatch.store import Store

BRUSHED = "B1"  # review_rows(): listing B1's reviews are brushed, G1's genuine


def test_finish_reasons_map_to_run_statuses():
    assert [run_status(reason) for reason in ("finished", "shutdown", "failed", "closespider_timeout", None)] == [
        "finished", "killed", "failed", "closespider_timeout", "killed"]


def write_reviews(tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame(review_rows()).to_csv(path, index=False)
    return path


def seed_earlier_run(db_url: str, spider: str, target: str, platform: str) -> None:
    """An earlier finished run of the same spider and target that saw a listing the next run will not."""
    with Store(db_url) as store:
        run = store.start_run(spider, target)
        store.save_batch(run, [Listing(url=f"http://x/{platform}/OLD", canonical_id="OLD", platform=platform)])
        finish(store, run, {}, "finished")


def outcome(db_url: str, platform: str) -> tuple[str, bool, set[str]]:
    """(the latest run's status, whether the earlier run's listing is still active, listings with a
    fake_reviews lead) for one platform's runs."""
    with Store(db_url) as store, store.engine.connect() as conn:
        status = conn.scalar(sa.text("SELECT status FROM runs ORDER BY id DESC LIMIT 1"))
        active = conn.scalar(sa.text("SELECT active FROM listings WHERE platform = :p AND canonical_id = 'OLD'"),
                             {"p": platform})
        flagged = {lead["listing_url"].rsplit("/", 1)[-1]
                   for lead in store.leads(limit=None, site=platform, category=["fake_reviews"])}
    return status, bool(active), flagged


@pytest.mark.parametrize("reason,expected", [
    ("shutdown", ("killed", True, set())),
    ("finished", ("finished", False, {BRUSHED})),  # the same run, finished: the step does act on this data
])
def test_crawl_shut_down_is_killed_without_delisting_or_review_scoring(db_url, tmp_path, reason, expected):
    platform, target = f"shop-{uuid.uuid4().hex[:8]}", f"http://127.0.0.1:1/{uuid.uuid4().hex[:8]}"
    seed_earlier_run(db_url, "testshop", target, platform)
    listings, _ = build_items(write_reviews(tmp_path), platform=platform)
    from netwatch.crawl import settings as crawl_settings  # netwatch's declared defaults, as a crawl has them

    defaults = {name: getattr(crawl_settings, name) for name in dir(crawl_settings) if name.startswith("NETWATCH_")}
    crawler = get_crawler(Spider, {**defaults, "NETWATCH_DB_URL": db_url})
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.store = Store(db_url)
    pipeline.run_id = pipeline.store.start_run("testshop", target)  # what open_spider does for a spider so named
    pipeline.buffer = list(listings)

    async def close() -> None:  # as Scrapy closes a spider: the pipelines' close_spider, then spider_closed
        await pipeline.close_spider()
        await pipeline.spider_closed(Spider("testshop"), reason)

    asyncio.run(close())
    assert outcome(db_url, platform) == expected
    assert ("netwatch/review_signals/listings_scored" in crawler.stats.get_stats()) == (reason == "finished")


IMPORT_SCRIPT = "import sys; from netwatch.importing import import_file; import_file(sys.argv[1], platform=sys.argv[2], db_url=sys.argv[3])"


def test_import_interrupted_is_killed_without_delisting_or_review_scoring(pg_url, tmp_path):
    """Ctrl-C while the import saves its rows (held up by a lock on the listings): the import is killed as a
    crawl shut down is. Without the interruption the same import delists and flags (the second half)."""
    path = write_reviews(tmp_path)
    platform = f"import-{uuid.uuid4().hex[:8]}"
    seed_earlier_run(pg_url, "import", str(path), platform)
    with Store(pg_url) as store:
        with store.engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE listings IN EXCLUSIVE MODE"))  # reads go on, writes wait
            child = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(path), platform, pg_url])
            try:
                deadline = time.monotonic() + 60
                with store.engine.connect() as watcher:
                    while not watcher.scalar(sa.text(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'listings'::regclass")):
                        assert time.monotonic() < deadline and child.poll() is None, "the import never reached the lock"
                        time.sleep(0.1)
                child.send_signal(signal.SIGINT)
                assert child.wait(timeout=60) != 0  # KeyboardInterrupt, re-raised after the run is recorded
            finally:
                if child.poll() is None:
                    child.kill()
            holder.rollback()
    assert outcome(pg_url, platform) == ("killed", True, set())

    assert subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(path), platform, pg_url]).returncode == 0
    assert outcome(pg_url, platform) == ("finished", False, {BRUSHED})
