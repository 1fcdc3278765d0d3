"""A nightly run killed (kill -9) or terminated (SIGTERM) part-way, then resumed by the next
`netwatch nightly`, ends with the same leads and the same outbox as an uninterrupted night: every lead
first found that night in one region file, once. Real processes, real signals, the demo marketplace.

The reference is an uninterrupted night on an empty store; then the store is emptied and the night is
interrupted and resumed. Leads are compared by their natural key (platform, listing or shop, pack, rule):
ids differ between the two stores.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_nightly import engine  # noqa: F401 - a fixture, shared with the nightly tests

from netwatch.domain.process import process_alive
from netwatch.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Lead, ListingRow, Run, ShopRow
from netwatch.store.watchlist_models import NightlyCrawlRun, NightlyTargetRun, RunLock

SITES = ("netmall", "zhenpin", "lvyuan")
# A little slower than flat out, so that the night can be caught part-way at every kill point.
SLOW = ["-s", "DOWNLOAD_DELAY=0.02", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
NIGHT_TIMEOUT = 400



@pytest.fixture(scope="module")
def mall():
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(shops=4, items_per_shop=10) as running:
        yield running


def nightly_command(db_url: str, outbox: Path, *extra: str) -> list[str]:
    code = "import sys; from netwatch.cli.nightly import nightly; nightly(sys.argv[1:])"
    return [sys.executable, "-c", code, "--db", db_url, "--outbox", str(outbox), "-s", "LOG_LEVEL=ERROR", *SLOW,
            *extra]


def watch_the_mall(engine, mall) -> None:
    for priority, key in enumerate(SITES):
        add_target(engine, make_spec(key, profile=key, url=mall.urls[key], region=f"区-{key}", tags="nightly",
                                     priority=priority))


def lead_keys(engine) -> dict[int, tuple]:
    """lead id -> (platform, canonical id or shop id, pack, rule)."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(Lead.id, Lead.subject, Lead.pack, Lead.rule, ListingRow.platform, ListingRow.canonical_id,
                      ShopRow.platform.label("shop_platform"), ShopRow.shop_id)
            .outerjoin(ListingRow, sa.and_(Lead.subject == "listing", ListingRow.id == Lead.subject_id))
            .outerjoin(ShopRow, sa.and_(Lead.subject == "shop", ShopRow.id == Lead.subject_id))).all()
    return {row.id: ((row.platform, "listing", row.canonical_id) if row.subject == "listing"
                     else (row.shop_platform, "shop", row.shop_id)) + (row.pack, row.rule) for row in rows}


def outbox_rows(engine, outbox: Path) -> list[tuple]:
    """(region, lead natural key) for every row of the night's region files, duplicates kept."""
    keys = lead_keys(engine)
    nights = [path for path in outbox.iterdir() if path.is_dir()]
    assert len(nights) == 1, f"one night, one directory: {nights}"
    rows = []
    for path in sorted(nights[0].glob("*.csv")):
        raw = path.read_bytes().decode("utf-8-sig")
        rows += [(path.stem, keys[int(row.get("lead_id") or row["线索编号"])]) for row in csv.DictReader(raw.splitlines())]
    return rows


def count(engine, table) -> int:
    with engine.begin() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def night(engine, db_url: str, outbox: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(nightly_command(db_url, outbox, *extra), capture_output=True, text=True,
                          timeout=NIGHT_TIMEOUT)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def reference_night(mall, tmp_path_factory):
    """An uninterrupted night on an empty (SQLite) store: (lead keys, outbox rows). Natural keys do not
    depend on the database, so it is the reference for both."""
    tmp = tmp_path_factory.mktemp("reference")
    db_url = f"sqlite:///{tmp / 'reference.db'}"
    engine = open_engine(db_url)
    try:
        watch_the_mall(engine, mall)
        night(engine, db_url, tmp / "outbox")
        leads, rows = set(lead_keys(engine).values()), outbox_rows(engine, tmp / "outbox")
    finally:
        engine.dispose()
    assert len(leads) > 20 and len(rows) == len(set(rows))
    assert sorted(key for _, key in rows) == sorted(leads)  # a fresh store: every lead is new tonight
    assert {region for region, _ in rows} == {f"区-{key}" for key in SITES}
    return leads, rows


@pytest.fixture
def reference(reference_night, engine, mall):
    watch_the_mall(engine, mall)
    return reference_night


def start_night(db_url: str, outbox: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(nightly_command(db_url, outbox, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_until(night: subprocess.Popen, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and night.poll() is None:
        if condition():
            return
        time.sleep(0.05)
    out, err = night.communicate() if night.poll() is not None else ("", "")
    pytest.fail(f"the night {'ended' if night.poll() is not None else 'went on'} before {what}: {out}{err}")


def crawls_started(engine) -> int:
    return count(engine, NightlyCrawlRun)


def leads_stored(engine) -> int:
    return count(engine, Lead)


def night_crawls(engine) -> list[sa.Row]:
    with engine.begin() as conn:
        return conn.execute(sa.select(Run.id, Run.status, Run.host, Run.pid).join(
            NightlyCrawlRun, NightlyCrawlRun.crawl_run_id == Run.id)).all()


def assert_same_night(engine, outbox: Path, reference) -> None:
    leads, rows = reference
    keys = lead_keys(engine)
    assert len(keys) == len(set(keys.values())), "a lead twice in the store"
    assert set(keys.values()) == leads
    resumed_rows = outbox_rows(engine, outbox)
    duplicates = [row for row, times in Counter(resumed_rows).items() if times > 1]
    assert not duplicates, f"outbox rows twice: {duplicates[:5]}"
    assert sorted(resumed_rows) == sorted(rows), (
        f"missing {sorted(set(rows) - set(resumed_rows))[:5]}, extra {sorted(set(resumed_rows) - set(rows))[:5]}")
    with engine.begin() as conn:
        nightly = conn.execute(sa.select(Run.status, Run.stats).where(Run.spider == "nightly")).all()
    assert [status for status, _ in nightly] == ["finished"], "one night, finished by the resumed run"
    assert nightly[0].stats["resumed"] and nightly[0].stats["new"] == len(leads)
    assert count(engine, RunLock) == 0


def kill_and_resume(engine, db_url, tmp_path, reference, condition, what: str, *extra: str) -> None:
    outbox = tmp_path / "outbox"
    killed = start_night(db_url, outbox, *extra)
    wait_until(killed, lambda: condition(engine), what)
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate()
    assert count(engine, RunLock) == 1  # left behind by the killed process
    night(engine, db_url, outbox, *extra)  # no waiting: the resumed night lets the killed crawls close first
    assert_same_night(engine, outbox, reference)


def test_killed_once_the_first_crawl_started(engine, db_url, tmp_path, reference):
    kill_and_resume(engine, db_url, tmp_path, reference, lambda e: crawls_started(e) >= 1, "a crawl started")


def test_killed_with_leads_stored_mid_batch(engine, db_url, tmp_path, reference):
    # one batch of all three targets: the kill cuts every crawl of the night short
    kill_and_resume(engine, db_url, tmp_path, reference, lambda e: leads_stored(e) >= 15, "15 leads were stored")


def test_killed_in_the_second_batch(engine, db_url, tmp_path, reference):
    def second_batch_storing(e) -> bool:
        return count(e, NightlyTargetRun) >= 1 and crawls_started(e) >= 2 and leads_stored(e) > 0

    kill_and_resume(engine, db_url, tmp_path, reference, second_batch_storing, "the second batch stored leads",
                    "--batch-size", "1")


def test_terminated_night_stops_cleanly_and_is_resumed(engine, db_url, tmp_path, reference):
    outbox = tmp_path / "outbox"
    terminated = start_night(db_url, outbox)
    wait_until(terminated, lambda: leads_stored(engine) >= 15, "15 leads were stored")
    terminated.send_signal(signal.SIGTERM)
    asked = time.monotonic()
    try:
        out, err = terminated.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        terminated.kill()
        pytest.fail(f"the night did not stop within 30 s of SIGTERM: {terminated.communicate()}")
    took = time.monotonic() - asked
    assert terminated.returncode == EXIT_TERMINATED == 143, out + err
    assert "stopped by SIGTERM" in err
    crawls = night_crawls(engine)
    assert crawls and not [crawl for crawl in crawls if process_alive(crawl.pid)], "a crawl child outlived its night"
    # the child shut down gracefully: its StorePipeline flushed and the post-run step closed its run
    assert {crawl.status for crawl in crawls} <= {"killed", "finished"}, crawls
    with engine.begin() as conn:
        status, stats = conn.execute(sa.select(Run.status, Run.stats).where(Run.spider == "nightly")).one()
    assert (status, stats["stopped_by"]) == ("killed", "SIGTERM")
    assert count(engine, RunLock) == 0, "the lock was released"
    assert not list(outbox.glob("*/*.csv")), "a stopped night writes no outbox"
    assert took < 30

    night(engine, db_url, outbox)
    assert_same_night(engine, outbox, reference)
    with engine.begin() as conn:
        # targets whose crawl was cut short were crawled again; the night's rows name the crawls that went through
        statuses = set(conn.scalars(sa.select(Run.status).join(
            NightlyTargetRun, NightlyTargetRun.crawl_run_id == Run.id)))
    assert statuses == {"finished"}


def test_sigint_stops_the_night_with_130(engine, db_url, tmp_path, reference):
    outbox = tmp_path / "outbox"
    interrupted = start_night(db_url, outbox, "--batch-size", "1")
    wait_until(interrupted, lambda: count(engine, NightlyTargetRun) >= 1, "the first batch was recorded")
    interrupted.send_signal(signal.SIGINT)
    out, err = interrupted.communicate(timeout=30)
    assert interrupted.returncode == EXIT_INTERRUPTED == 130, out + err
    assert not [crawl for crawl in night_crawls(engine) if process_alive(crawl.pid)]
    assert count(engine, RunLock) == 0
    night(engine, db_url, outbox, "--batch-size", "1")
    assert_same_night(engine, outbox, reference)
    assert date.today().isoformat() in {path.name for path in outbox.iterdir()}
