"""Distributed mode: two `netwatch worker` processes share one nightly crawl through scrapy-redis on
Redis, with results in PostgreSQL: no URL fetched by both, one store run per target, every lead once."""

from __future__ import annotations

import functools
import subprocess
import sys
import uuid

import pytest
import redis
import sqlalchemy as sa

import netwatch.store.watchlist_models  # noqa: F401 - its tables are emptied with the store's
from netwatch import config
from netwatch.crawl.distributed import SharedScheduler, shared_settings, spider_key
from netwatch.domain.capture import sha256_file, stamp_of
from netwatch.evidence.records import read_json
from netwatch.exits import EXIT_OK
from netwatch.ops.coordinator import combine_stats, crawl_targets_shared
from netwatch.ops.nightly import run_nightly
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Base, Lead, LeadHit, Run

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}


@pytest.fixture
def namespace(redis_url):
    """A key namespace of our own in the test Redis, deleted afterwards."""
    name = f"nwtest-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def test_shared_settings_keep_the_queue_when_a_worker_finishes():
    settings = shared_settings("redis://127.0.0.1:6379/15", "ns:job1")
    assert settings["SCHEDULER_PERSIST"] is True
    assert settings["SCHEDULER"] == f"{SharedScheduler.__module__}.SharedScheduler"
    assert settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    # two targets crawled by the same spider class get different queues
    assert spider_key("profile", "profile:netmall@http://a") != spider_key("profile", "profile:lvyuan@http://b")


def test_worker_stats_are_added_up():
    combined = combine_stats([
        {"response_received_count": 10, "item_scraped_count": 4, "finish_reason": "finished", "start_time": "x"},
        {"response_received_count": 5, "item_scraped_count": 1, "finish_reason": "finished"},
    ])
    assert combined == {"response_received_count": 15, "item_scraped_count": 5, "finish_reason": "finished", "start_time": "x"}
    assert combine_stats([{"finish_reason": "finished"}, {"finish_reason": "shutdown"}])["finish_reason"] == "shutdown"


def start_worker(redis_url: str, namespace: str, name: str, *, once: bool = True, **popen) -> subprocess.Popen:
    code = "import sys; from netwatch.cli.nightly import worker; worker(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, "--redis-url", redis_url, "--namespace", namespace,
                             *(["--once"] if once else []), "--wait", "300", "--id", name], **popen)


def test_two_workers_share_one_nightly_crawl(pg_url, redis_url, namespace, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    engine = open_engine(pg_url)
    with engine.begin() as conn:  # the PostgreSQL schema is shared by the session's tests
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    shared: dict = {}
    with start_mall() as mall:
        for key in ("netmall", "lvyuan", "zhenpin"):
            add_target(engine, make_spec(key, profile=key, url=mall.urls[key], region=key, tags="nightly"))
        workers = [start_worker(redis_url, namespace, f"w{n}") for n in (1, 2)]
        try:
            crawl = functools.partial(crawl_targets_shared, redis_url=redis_url, namespace=namespace, min_workers=2,
                                      timeout=400, count_fetches=True, stats_out=shared)
            # Screenshots on (the tests' environment turns them off): the coordinator takes them, not the workers.
            result = run_nightly(pg_url, outbox=tmp_path, settings={**QUIET, "NETWATCH_SCREENSHOTS": True,
                                                                     "NETWATCH_SCREENSHOTS_MAX": 2}, crawl=crawl)
            assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()

    assert result.exit_code == EXIT_OK, result.alarms
    assert shared["workers"] == 2
    assert set(shared["pages_by_worker"]) == {"w1", "w2"} and min(shared["pages_by_worker"].values()) > 20
    assert shared["fetched_urls"] > 150
    assert shared["fetched_by_two_workers"] == []
    with engine.begin() as conn:
        crawl_runs = conn.execute(sa.select(Run.target, Run.status).where(Run.spider == "profile")).all()
        # one store run per target, shared by both workers and finished once by the coordinator
        assert len(crawl_runs) == 3 and {status for _, status in crawl_runs} == {"finished"}
        assert conn.scalar(sa.select(sa.func.count()).select_from(Run)) == 4  # + the nightly run
        leads = conn.scalar(sa.select(sa.func.count()).select_from(Lead))
        hit_leads = conn.scalar(sa.select(sa.func.count(sa.distinct(LeadHit.lead_id))))
    assert leads == hit_leads == result.new > 20
    outboxed = sum(len(path.read_text(encoding="utf-8-sig").splitlines()) - 1 for path in result.outbox_files.values())
    assert outboxed == leads
    client = redis.Redis.from_url(redis_url)
    assert [key for key in client.scan_iter(f"{namespace}:*") if not key.endswith(b":done")] == []
    check_screenshots(engine, config.archive_dir(), shared["screenshots"])
    engine.dispose()


def check_screenshots(engine, archive, taken: int) -> None:
    """Each worker's capture holds the screenshots of the new serious leads found on its pages (at most
    NETWATCH_SCREENSHOTS_MAX = 2), taken once the shared runs were finished; no page is shot twice."""
    with engine.begin() as conn:
        serious = conn.execute(sa.select(LeadHit.warc_file, Lead.id).join(Lead, Lead.id == LeadHit.lead_id).where(
            Lead.severity.in_(["critical", "high"]), LeadHit.run_id == Lead.first_run_id)).all()
    by_capture: dict[str, set[int]] = {}
    for warc_file, lead_id in serious:
        by_capture.setdefault(stamp_of(warc_file)[1], set()).add(lead_id)
    folders = {path.name.removesuffix(".screens.json"): path.parent for path in archive.glob("*/*.screens.json")}
    records = {stamp: read_json(folder / f"{stamp}.screens.json") for stamp, folder in folders.items()}
    assert len(by_capture) >= 4 and set(records) == {stamp for stamp, leads in by_capture.items() if leads}
    shot_urls = [page["url"] for record in records.values() for page in record["pages"]]
    assert len(shot_urls) == len(set(shot_urls)) == taken
    for stamp, record in records.items():
        assert 1 <= len(record["pages"]) <= 2 and record["browser"].startswith("chromium")
        assert all(set(page["lead_ids"]) <= by_capture[stamp] for page in record["pages"])
        assert len(record["files"]) == 2 * len(record["pages"])  # the page, and the page with its hits marked
        assert all(sha256_file(folders[stamp] / name) == digest for name, digest in record["files"].items())


def test_two_workers_share_one_site_budget(pg_url, redis_url, namespace, tmp_path):
    """A link trap crawled by two workers gets the site's budget once, not once per worker; the hit is one alarm."""
    from netwatch_fixtures.hostile import HostileSite

    engine = open_engine(pg_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    shared: dict = {}
    with HostileSite("trap", host="127.0.0.45", delay=0.5) as trap:  # slow: both workers get to crawl it
        add_target(engine, make_spec("陷阱店", url=trap.url, tags="nightly"))
        workers = [start_worker(redis_url, namespace, f"w{n}") for n in (1, 2)]
        try:
            crawl = functools.partial(crawl_targets_shared, redis_url=redis_url, namespace=namespace, min_workers=2,
                                      timeout=300, count_fetches=True, stats_out=shared)
            result = run_nightly(pg_url, outbox=tmp_path, settings={**QUIET, "NETWATCH_SITE_MAX_PAGES": 60},
                                 crawl=crawl)
            assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
    # At most the one budget, whichever worker got there first (requests are counted as they go to the
    # downloader: one counted there and cut off as its worker stops is not sent).
    assert 0 < len(trap.requests) <= 60
    [(name, alarm)] = result.alarms
    assert name == "陷阱店" and alarm.check == "budget" and "stopped at its pages budget (60 pages)" in alarm.message
    engine.dispose()



def test_workers_count_one_budget_in_redis(redis_url, namespace):
    """Two workers' SiteBudget middlewares (real crawlers, real Redis): together they let through the site's
    budget of requests once; the one whose request passed it reports the hit, the other closes the site too."""
    from scrapy import Request, Spider
    from scrapy.exceptions import IgnoreRequest
    from scrapy.utils.test import get_crawler

    from netwatch.crawl.budgets import SiteBudget
    from netwatch.crawl.health import BUDGET_HITS_STAT

    class Target(Spider):
        name = "generic"
        target = "http://127.0.0.46/"

    budgets = []
    for _ in range(2):
        crawler = get_crawler(Target, {"REDIS_URL": redis_url, "NETWATCH_REDIS_PREFIX": f"{namespace}:job",
                                       "NETWATCH_SITE_MAX_PAGES": 10})
        crawler.spider = Target()
        budgets.append(SiteBudget.from_crawler(crawler))
    passed = [0, 0]
    for n in range(30):
        worker = n % 2
        try:
            budgets[worker].process_request(Request(f"http://127.0.0.46/trap/{n}"))
            passed[worker] += 1
        except IgnoreRequest:
            pass
    assert passed == [5, 5]  # one budget of 10 for both, not 10 each
    hits = [budget.stats.get_value(BUDGET_HITS_STAT) or [] for budget in budgets]
    assert sorted(len(h) for h in hits) == [0, 1] and [h for h in hits if h][0][0]["pages"] == 10
    assert all(budget.stats.get_value("netwatch/closed_sites") for budget in budgets)
    # another target's budget is its own
    other = get_crawler(Spider, {"REDIS_URL": redis_url, "NETWATCH_REDIS_PREFIX": f"{namespace}:job",
                                 "NETWATCH_SITE_MAX_PAGES": 10})
    other.spider = Spider("other")
    assert SiteBudget.from_crawler(other).process_request(Request("http://127.0.0.46/trap/0")) is None  # sent
    assert not other.stats.get_value("netwatch/closed_sites")
