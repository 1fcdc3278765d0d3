"""The nightly lock on SQLite and PostgreSQL: one holder at a time, stale locks (dead process, silent
heartbeat) cleared, a live lock refused with who holds it, `netwatch nightly` exiting 3 meanwhile."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from netwatch.cli.nightly import nightly
from netwatch.exits import EXIT_ERROR, EXIT_LOCKED
from netwatch.ops.nightly import LockHeld, RunLockHandle
from netwatch.ops.watchlist import open_engine
from netwatch.store.watchlist_models import RunLock


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(RunLock))
    yield engine
    engine.dispose()


def plant_lock(engine, *, host: str, pid: int, heartbeat_age: timedelta, name: str = "nightly") -> None:
    """A lock row as another process would have left it."""
    beat = datetime.now(UTC).replace(tzinfo=None) - heartbeat_age
    with engine.begin() as conn:
        conn.execute(sa.insert(RunLock).values(name=name, owner="someone-else", host=host, pid=pid,
                                               acquired_at=beat, heartbeat_at=beat))


def holder(engine):
    with engine.begin() as conn:
        return conn.execute(sa.select(RunLock.owner, RunLock.pid)).all()


def test_one_holder_at_a_time(engine):
    with RunLockHandle(engine) as first:
        assert holder(engine) == [(first.owner, os.getpid())]
        with pytest.raises(LockHeld, match=rf"process {os.getpid()} on {socket.gethostname()}"):
            RunLockHandle(engine).acquire()
        # another lock name is independent
        with RunLockHandle(engine, "campaign"):
            assert len(holder(engine)) == 2
    assert holder(engine) == []
    with RunLockHandle(engine) as again:
        assert again.cleared is None


def test_lock_of_a_dead_process_is_cleared(engine):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    plant_lock(engine, host=socket.gethostname(), pid=dead_pid, heartbeat_age=timedelta(seconds=1))
    with RunLockHandle(engine) as lock:
        assert lock.cleared and f"process {dead_pid}" in lock.cleared.text("en")
        assert f"进程 {dead_pid} 已不存在" in lock.cleared.text("zh")
        assert holder(engine) == [(lock.owner, os.getpid())]


def test_lock_without_heartbeat_is_cleared_but_a_live_one_is_not(engine):
    # A process on another machine: its pid cannot be checked, only its heartbeat.
    plant_lock(engine, host="worker-7.bureau", pid=1, heartbeat_age=timedelta(minutes=3))
    with pytest.raises(LockHeld, match="worker-7.bureau"):
        RunLockHandle(engine, stale_after=timedelta(minutes=10)).acquire()
    with RunLockHandle(engine, stale_after=timedelta(minutes=2)) as lock:
        assert "no heartbeat since" in lock.cleared.text("en")
        assert "起没有心跳（超过 2 分钟）" in lock.cleared.text("zh") and "(Asia/Shanghai)" in lock.cleared.text("zh")


def test_heartbeat_keeps_the_lock_alive_and_notices_a_takeover(engine):
    with RunLockHandle(engine, heartbeat_every=0.2) as lock:
        with engine.begin() as conn:
            first_beat = conn.scalar(sa.select(RunLock.heartbeat_at))
        time.sleep(1.0)
        with engine.begin() as conn:
            assert conn.scalar(sa.select(RunLock.heartbeat_at)) > first_beat
            # someone judged us stale and took over
            conn.execute(sa.update(RunLock).values(owner="intruder"))
        deadline = time.monotonic() + 5
        while not lock.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.lost.is_set()
    assert holder(engine) == [("intruder", os.getpid())]  # releasing never deletes another owner's lock


def test_two_racing_takeovers_leave_one_holder(engine):
    plant_lock(engine, host="gone.bureau", pid=1, heartbeat_age=timedelta(hours=1))
    winners, losers = [], []
    for _ in range(2):
        lock = RunLockHandle(engine)
        try:
            lock.acquire()
            winners.append(lock)
        except LockHeld:
            losers.append(lock)
    assert len(winners) == 1 and len(losers) == 1
    assert holder(engine) == [(winners[0].owner, os.getpid())]


def test_nightly_command_exits_5_while_another_run_holds_the_lock(engine, db_url, tmp_path):
    with RunLockHandle(engine):
        result = CliRunner().invoke(nightly, ["--db", db_url, "--outbox", str(tmp_path / "outbox")])
    assert result.exit_code == EXIT_LOCKED, result.output
    assert "another nightly run holds the lock" in result.output
    assert not (tmp_path / "outbox").exists()


def test_nightly_command_with_nothing_to_crawl_fails_clearly(engine, db_url, tmp_path):
    result = CliRunner().invoke(nightly, ["--db", db_url, "--tag", "no-such-tag", "--outbox", str(tmp_path)])
    assert result.exit_code == EXIT_ERROR
    assert "no enabled watch targets tagged 'no-such-tag'" in result.output
    assert holder(engine) == []  # the lock was released
