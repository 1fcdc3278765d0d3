"""A distributed night survives its processes dying: a worker killed with SIGKILL mid-crawl (with or without
a restart under the same id) leaves the night complete, quick, and naming the lost worker; a killed
coordinator's job is cleared by the next one, and a live coordinator is refused in one line."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
import sqlalchemy as sa
from test_distributed import QUIET, namespace, start_worker  # noqa: F401 - namespace is a fixture
from test_nightly import empty_store

import netwatch.store.watchlist_models  # noqa: F401 - its tables are emptied with the store's
from netwatch.crawl.health import LOST_WORKERS_STAT
from netwatch.exits import EXIT_ALARMS, EXIT_LOCKED, EXIT_OK
from netwatch.ops.coordinator import crawl_targets_shared
from netwatch.ops.nightly import run_nightly
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Base, Lead, ListingRow, Run, ShopRow

# Beats every second, dead after 3; slow enough downloads that the kill lands mid-crawl.
LIVELY = {**QUIET, "NETWATCH_HEARTBEAT_SECONDS": 1, "NETWATCH_HEARTBEAT_TTL": 3, "NETWATCH_STORE_FLUSH_SECONDS": 1,
          "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0.05, "CONCURRENT_REQUESTS_PER_DOMAIN": 4}
TARGETS = ("netmall", "lvyuan")


def lead_keys(engine) -> set[tuple]:
    """Every lead by its natural key: (what it is about, by platform and id; pack; rule)."""
    with engine.connect() as conn:
        listings = conn.execute(sa.select(ListingRow.platform, ListingRow.canonical_id, Lead.pack, Lead.rule)
                                .join(ListingRow, ListingRow.id == Lead.subject_id).where(Lead.subject == "listing")).all()
        shops = conn.execute(sa.select(ShopRow.platform, ShopRow.shop_id, Lead.pack, Lead.rule)
                             .join(ShopRow, ShopRow.id == Lead.subject_id).where(Lead.subject == "shop")).all()
    return {("listing", *row) for row in listings} | {("shop", *row) for row in shops}


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its crawl child at once: a machine gone, no shutdown of any kind."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def stop(processes) -> None:
    """Whatever a test leaves running: the worker or coordinator, and its crawl child."""
    for process in processes:
        if process.poll() is None:
            try:
                leads_a_group = os.getpgid(process.pid) == process.pid
            except ProcessLookupError:
                continue
            if leads_a_group:
                kill_group(process)
            else:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture(scope="module")
def mall():
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(shops=6) as running:  # half the default: the nights stay short
        yield running


@pytest.fixture(scope="module")
def engine(pg_url, mall):
    engine = open_engine(pg_url)
    empty_store(engine)
    for key in TARGETS:
        add_target(engine, make_spec(key, profile=key, url=mall.urls[key], region=key, tags="nightly"))
    yield engine
    engine.dispose()


def night(pg_url, redis_url, namespace, stats_out, settings=LIVELY):
    crawl = functools.partial(crawl_targets_shared, redis_url=redis_url, namespace=namespace, min_workers=2,
                              timeout=300, stats_out=stats_out)
    return run_nightly(pg_url, outbox=f"/tmp/netwatch-liveness-{namespace}", settings=settings, crawl=crawl)


def clear_night(engine) -> None:
    """Forget the crawl results, keep the watchlist: the next night starts from an empty store."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "watch_targets":
                conn.execute(table.delete())


@pytest.fixture(scope="module")
def reference(pg_url, redis_url, engine):
    """The leads of a night with no worker lost, and how many requests it took."""
    name = f"nwtest-{uuid.uuid4().hex[:8]}"
    workers = [start_worker(redis_url, name, f"w{n}") for n in (1, 2)]
    shared: dict = {}
    try:
        result = night(pg_url, redis_url, name, shared)
        assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    finally:
        stop(workers)
    assert result.exit_code == EXIT_OK, result.alarms
    assert shared["lost_workers"] == [] and shared["requeued"] == 0
    keys = lead_keys(engine)
    assert len(keys) > 10
    clear_night(engine)
    return keys, sum(shared["pages_by_worker"].values())


def kill_mid_crawl(client: redis.Redis, namespace: str, name: str, process: subprocess.Popen, pages: int,
                   killed: dict) -> None:
    """Poll Redis for the moment: a third of the night's requests popped and the victim holding some in
    flight. Then SIGKILL it, and note which incarnation died and what it held."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        raw = client.get(f"{namespace}:job")
        if raw:
            prefix = json.loads(raw)["prefix"]
            mine = [worker for worker in client.smembers(f"{prefix}:workers") if worker.startswith(f"{name}#")]
            held = sum(client.zcard(key) for worker in mine for key in client.scan_iter(f"{prefix}:*:inflight:{worker}"))
            if mine and held >= 2 and int(client.get(f"{prefix}:dequeued") or 0) >= pages // 3:
                kill_group(process)
                killed.update(incarnation=mine[0], held=held, at=time.monotonic())
                return
        time.sleep(0.02)


@pytest.mark.parametrize("restart", [False, True], ids=["dead", "restarted-under-the-same-id"])
def test_a_worker_killed_mid_crawl_costs_no_lead(pg_url, redis_url, namespace, engine, reference, restart):
    reference_leads, pages = reference
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    workers = [start_worker(redis_url, namespace, f"w{n}", start_new_session=True) for n in (1, 2)]
    killed: dict = {}

    def killer() -> None:
        kill_mid_crawl(client, namespace, "w2", workers[1], pages, killed)
        if restart and killed:  # at once, long before the old incarnation's heartbeat expires
            workers.append(start_worker(redis_url, namespace, "w2", start_new_session=True))

    thread = threading.Thread(target=killer, daemon=True)
    shared: dict = {}
    started = time.monotonic()
    try:
        thread.start()
        result = night(pg_url, redis_url, namespace, shared)
        elapsed = time.monotonic() - started
        thread.join(10)
        assert workers[0].wait(timeout=60) == 0
        if restart:
            assert workers[2].wait(timeout=60) == 0
    finally:
        stop(workers)
    assert killed, "the crawl ended before the worker could be killed mid-crawl"
    assert elapsed < 120, f"the night took {elapsed:.0f} s"
    victim = killed["incarnation"]
    assert shared["lost_workers"] == [victim]
    assert shared["requeued"] >= 1  # it held requests when it died; they were crawled by the others
    # the dead incarnation's stats never came; a restarted w2's did
    assert set(shared["pages_by_worker"]) == ({"w1", "w2"} if restart else {"w1"})
    assert lead_keys(engine) == reference_leads
    # the night is not OK: the report names the lost worker; every run was finished once by the coordinator
    assert result.exit_code == EXIT_ALARMS
    # (the survivors' stats alone may also look thin to the health checks: the dead worker's never came)
    lost_alarms = [(name, alarm) for name, alarm in result.alarms if alarm.check == "worker_lost"]
    assert sorted(name for name, _ in lost_alarms) == sorted(TARGETS)
    assert all(victim in alarm.message for _, alarm in lost_alarms)
    assert victim in result.report_path.read_text(encoding="utf-8")
    with engine.connect() as conn:
        runs = conn.execute(sa.select(Run.status, Run.stats).where(Run.spider == "profile")).all()
    assert len(runs) == len(TARGETS) and {status for status, _ in runs} == {"finished"}
    assert {stats[LOST_WORKERS_STAT] for _, stats in runs} == {victim}
    assert [key for key in client.scan_iter(f"{namespace}:*") if not key.endswith(":done")] == []
    clear_night(engine)


def coordinator_cli(db_url: str, redis_url: str, namespace: str) -> subprocess.Popen:
    code = "import sys; from netwatch.cli.nightly import nightly; nightly(sys.argv[1:])"
    overrides = [arg for name, value in LIVELY.items() for arg in ("-s", f"{name}={json.dumps(value)}")]
    env = {**os.environ, "NETWATCH_REDIS_URL": redis_url, "NETWATCH_REDIS_NAMESPACE": namespace}
    return subprocess.Popen([sys.executable, "-c", code, "--distributed", "--db", db_url, "--outbox",
                             f"/tmp/netwatch-liveness-{namespace}", *overrides], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_coordinators_job_is_cleared_and_a_live_one_refused(pg_url, redis_url, namespace, engine, mall,
                                                                     tmp_path, caplog):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    others = []
    for name in ("a", "b"):  # two other bureaus' stores sharing the Redis namespace
        url = f"sqlite:///{tmp_path / name}.db"
        other = open_engine(url)
        add_target(other, make_spec("netmall", profile="netmall", url=mall.urls["netmall"], tags="nightly"))
        other.dispose()
        others.append(url)
    first = coordinator_cli(others[0], redis_url, namespace)
    try:
        deadline = time.monotonic() + 60
        while not client.exists(f"{namespace}:job") and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.exists(f"{namespace}:job"), first.communicate(timeout=10)
        stale_prefix = json.loads(client.get(f"{namespace}:job"))["prefix"]

        # A live coordinator: the second one exits 3 with one line, no traceback.
        second = coordinator_cli(others[1], redis_url, namespace)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == EXIT_LOCKED, err
        assert "Traceback" not in err
        lines = [line for line in err.splitlines() if "netwatch nightly:" in line]
        assert len(lines) == 1 and "another coordinator is running job" in lines[0] and stale_prefix in lines[0]

        kill_group(first)  # the coordinator dies: its job key stays, its heartbeat lapses
    finally:
        stop([first])
    assert client.get(f"{namespace}:job") and json.loads(client.get(f"{namespace}:job"))["prefix"] == stale_prefix
    deadline = time.monotonic() + 30  # the next night comes after the dead coordinator's heartbeat lapsed
    while client.exists(f"{namespace}:coordinator") and time.monotonic() < deadline:
        time.sleep(0.1)

    # The next coordinator clears the stale job and runs its night; a worker joins the new job only.
    workers: list[subprocess.Popen] = []

    def join_new_job() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = client.get(f"{namespace}:job")
            if raw and json.loads(raw)["prefix"] != stale_prefix:
                workers.extend(start_worker(redis_url, namespace, f"w{n}") for n in (1, 2))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=join_new_job, daemon=True)
    thread.start()
    shared: dict = {}
    try:
        result = night(pg_url, redis_url, namespace, shared)
        thread.join(10)
        assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    finally:
        stop(workers)
    assert result.exit_code == EXIT_OK, result.alarms
    assert result.new > 10
    assert [record.getMessage() for record in caplog.records if "stale job" in record.getMessage()] == [
        f"cleared the stale job {stale_prefix}: the coordinator that published it stopped beating (killed?)"]
    assert [key for key in client.scan_iter(f"{stale_prefix}:*") if not key.endswith(":done")] == []
    clear_night(engine)
