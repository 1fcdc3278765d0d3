"""The nightly run on the demo marketplace: two nights with a changed market (exact new / recurring /
gone), the outbox and report, alarms for a broken target, and a killed run resumed without duplicates.

Crawls run in child processes (netwatch.ops.nightly spawns them), so these tests call run_nightly directly.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from netwatch.exits import EXIT_ALARMS, EXIT_OK
from netwatch.ops.nightly import run_nightly
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Base, Lead, LeadHit, ListingRow, Run
from netwatch.store.watchlist_models import NightlyTargetRun, RunLock, WatchTarget

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}


def empty_store(engine) -> None:
    """Every table emptied: the PostgreSQL schema is shared by the session's tests."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    empty_store(engine)
    yield engine
    engine.dispose()


def crawl_runs(engine, nightly_run_id: int) -> list[int]:
    with engine.begin() as conn:
        return list(conn.scalars(sa.select(NightlyTargetRun.crawl_run_id).where(
            NightlyTargetRun.nightly_run_id == nightly_run_id)))


def leads_hit_by(engine, run_ids: list[int]) -> set[int]:
    with engine.begin() as conn:
        return set(conn.scalars(sa.select(LeadHit.lead_id).where(LeadHit.run_id.in_(run_ids))))


def outbox_lead_ids(path: Path) -> list[int]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path} has no BOM: Excel would garble it"
    return [int(row.get("lead_id") or row["线索编号"]) for row in csv.DictReader(raw.decode("utf-8-sig").splitlines())]


def test_two_nights_on_a_changing_market(engine, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    outbox = tmp_path / "outbox"
    with start_mall(day=0) as mall:
        port = mall.port
        add_target(engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀",
                                     tags="nightly"))
        add_target(engine, make_spec("绿源", profile="lvyuan", url=mall.urls["lvyuan"], region="朝阳",
                                     tags="nightly"))
        add_target(engine, make_spec("not tonight", url=mall.urls["laopu"], tags="weekly"))
        first = run_nightly(db_url, outbox=outbox, settings=QUIET, day=date(2026, 3, 1))

    night1 = crawl_runs(engine, first.nightly_run_id)
    seen1 = leads_hit_by(engine, night1)
    assert first.exit_code == EXIT_OK, first.alarms
    assert sorted(t.name for t in first.targets) == ["NetMall", "绿源"]  # only the tag's targets
    assert len(seen1) > 20
    assert (first.new, first.recurring, first.gone) == (len(seen1), 0, 0)
    files1 = {region: outbox_lead_ids(path) for region, path in first.outbox_files.items()}
    assert set(files1) == {"海淀", "朝阳"}
    assert sorted(files1["海淀"] + files1["朝阳"]) == sorted(seen1)
    assert first.report_path == outbox / "2026-03-01" / "report.md"
    assert f"| 新线索 | {len(seen1)} |" in first.report_path.read_text(encoding="utf-8")

    # Next day: listings added, edited, delisted and repriced by the market, and the last shop closed.
    with start_mall(day=1, shops=11, port=port):
        second = run_nightly(db_url, outbox=outbox, settings=QUIET, day=date(2026, 3, 2), report_format="html")

    seen2 = leads_hit_by(engine, crawl_runs(engine, second.nightly_run_id))
    new, recurring, gone = seen2 - seen1, seen2 & seen1, seen1 - seen2
    assert (second.new, second.recurring, second.gone) == (len(new), len(recurring), len(gone))
    assert new and recurring and gone  # the market changed in every way the night must see
    assert second.exit_code == EXIT_OK, second.alarms
    files2 = {region: outbox_lead_ids(path) for region, path in second.outbox_files.items()}
    assert sorted(files2["海淀"] + files2["朝阳"]) == sorted(new)
    assert second.report_path.name == "report.html" and "<h2>告警与失败目标</h2>" in \
        second.report_path.read_text(encoding="utf-8")
    with engine.begin() as conn:
        # the closed shop's listings were delisted by the store; its leads are the gone ones
        delisted = conn.scalar(sa.select(sa.func.count()).select_from(ListingRow).where(ListingRow.active.is_(False)))
        assert delisted >= 10
        gone_listings = set(conn.scalars(sa.select(Lead.listing_id).where(Lead.id.in_(gone))))
        assert conn.scalar(sa.select(sa.func.count()).select_from(ListingRow).where(
            ListingRow.id.in_(gone_listings - {None}), ListingRow.active.is_(True))) == 0
        nightly_runs = conn.execute(sa.select(Run.status, Run.stats).where(Run.spider == "nightly").order_by(Run.id)).all()
    assert [status for status, _ in nightly_runs] == ["finished", "finished"]
    assert nightly_runs[1][1]["gone"] == len(gone)


def test_alarms_for_a_dead_target_and_one_that_halved(engine, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(shops=6, items_per_shop=10) as mall:
        port = mall.port
        add_target(engine, make_spec("netmall", profile="netmall", url=mall.urls["netmall"], tags="nightly"))
        first = run_nightly(db_url, outbox=tmp_path, settings=QUIET)
    assert first.exit_code == EXIT_OK, first.alarms

    # A site gone dark (nothing listens at its address any more), and the marketplace shrank to one shop.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dark_port = probe.getsockname()[1]
    add_target(engine, make_spec("gone-dark", url=f"http://127.0.0.1:{dark_port}/", tags="nightly"))
    with start_mall(shops=1, items_per_shop=10, port=port):
        second = run_nightly(db_url, outbox=tmp_path, settings=QUIET)
    alarms = {(name, alarm.check) for name, alarm in second.alarms}
    assert ("gone-dark", "zero_items") in alarms
    assert ("netmall", "drop") in alarms
    assert second.exit_code == EXIT_ALARMS
    report = second.report_path.read_text(encoding="utf-8")
    assert "| gone-dark | 未抓到商品 |" in report and "| netmall | 商品数骤降 |" in report  # Chinese by default
    with engine.begin() as conn:
        statuses = dict(conn.execute(sa.select(WatchTarget.name, NightlyTargetRun.status).join(
            WatchTarget, WatchTarget.id == NightlyTargetRun.target_id).where(
            NightlyTargetRun.nightly_run_id == second.nightly_run_id)).all())
        assert statuses == {"netmall": "alarm", "gone-dark": "alarm"}
        assert conn.scalar(sa.select(Run.status).where(Run.id == second.nightly_run_id)) == "alarms"


def nightly_command(db_url: str, outbox: Path) -> list[str]:
    code = "import sys; from netwatch.cli.nightly import nightly; nightly(sys.argv[1:])"
    return [sys.executable, "-c", code, "--db", db_url, "--outbox", str(outbox), "--batch-size", "1",
            "-s", "LOG_LEVEL=ERROR"]


def test_killed_run_is_resumed_without_duplicates(engine, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    outbox = tmp_path / "outbox"
    with start_mall() as mall:
        for priority, key in enumerate(("netmall", "zhenpin", "lvyuan")):  # lvyuan first: it is quickest
            add_target(engine, make_spec(key, profile=key, url=mall.urls[key], region=key, tags="nightly",
                                         priority=priority))
        killed = subprocess.Popen(nightly_command(db_url, outbox))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and killed.poll() is None:
            with engine.begin() as conn:
                if conn.scalar(sa.select(sa.func.count()).select_from(NightlyTargetRun)):
                    break
            time.sleep(0.2)
        assert killed.poll() is None, "the nightly run ended before it could be killed"
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        with engine.begin() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(RunLock)) == 1  # left behind
            done_before = set(conn.scalars(sa.select(NightlyTargetRun.target_id)))
        time.sleep(1)  # the crawl child got SIGTERM with its parent; let it close its run

        resumed = subprocess.run(nightly_command(db_url, outbox), capture_output=True, text=True, timeout=400)
    assert resumed.returncode == EXIT_OK, resumed.stdout + resumed.stderr
    with engine.begin() as conn:
        nightly_runs = conn.execute(sa.select(Run.id, Run.status).where(Run.spider == "nightly")).all()
        assert len(nightly_runs) == 1 and nightly_runs[0].status == "finished"  # one night, finished by the re-run
        rows = conn.execute(sa.select(NightlyTargetRun.target_id, NightlyTargetRun.crawl_run_id)).all()
        assert len(rows) == 3
        # targets finished before the kill were not crawled again
        targets_by_run = dict(conn.execute(sa.select(Run.id, Run.target).where(Run.spider == "profile")).all())
        for target_id, crawl_run_id in rows:
            if target_id in done_before:
                target = targets_by_run[crawl_run_id]
                assert list(targets_by_run.values()).count(target) == 1
        all_leads = set(conn.scalars(sa.select(Lead.id)))
        assert conn.scalar(sa.select(sa.func.count()).select_from(RunLock)) == 0
    report = (outbox / date.today().isoformat() / "report.md").read_text(encoding="utf-8")
    assert "续跑了一次被中断的夜间巡查" in report and "清除了失效的运行锁" in report
    # every lead, including those found by the killed attempt, is in the outbox exactly once
    outboxed = [lead for path in (outbox / date.today().isoformat()).glob("*.csv") for lead in outbox_lead_ids(path)]
    assert sorted(outboxed) == sorted(all_leads) and len(all_leads) > 20
