"""The lock that keeps two nightly runs apart: a row in `run_locks` (netwatch.store.locks), kept alive
by a heartbeat; a lock whose process is gone (same host) or whose heartbeat is too old is stale and is
taken over."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from netwatch.domain.clock import local_text, utcnow
from netwatch.domain.process import process_alive
from netwatch.domain.words import say
from netwatch.store.locks import beat_lock, delete_lock, insert_lock, lock_holder, replace_lock

log = logging.getLogger(__name__)

DEFAULT_LOCK = "nightly"
DEFAULT_STALE_AFTER = timedelta(minutes=10)
DEFAULT_HEARTBEAT_EVERY = 30.0  # seconds; must stay well below the stale timeout


class LockHeld(RuntimeError):
    """Another live process holds the lock; the message says who and since when."""


@dataclass(frozen=True)
class StaleLock:
    """Why a holder's lock was found dead: its process is gone (same host), or its heartbeat is too old."""

    pid: int
    host: str
    heartbeat_at: datetime  # naive UTC, as stored
    stale_after: timedelta
    process_gone: bool

    def text(self, lang: str = "en") -> str:
        """The note for the report and the log, in `lang`, the heartbeat's time in the configured zone."""
        if self.process_gone:
            return say("lock_cleared_gone", lang, pid=self.pid, host=self.host)
        return say("lock_cleared_silent", lang, since=local_text(self.heartbeat_at, seconds=True),
                   minutes=round(self.stale_after.total_seconds() / 60))


@dataclass(frozen=True)
class LockHolder:
    owner: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime

    def stale_reason(self, now: datetime, stale_after: timedelta) -> StaleLock | None:
        """Why this holder is dead, or None while it may be alive."""
        gone = self.host == socket.gethostname() and not process_alive(self.pid)
        if gone or now - self.heartbeat_at > stale_after:
            return StaleLock(self.pid, self.host, self.heartbeat_at, stale_after, process_gone=gone)
        return None

    def describe(self) -> str:
        return (f"process {self.pid} on {self.host}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"last heartbeat {self.heartbeat_at:%H:%M:%S} UTC")


class RunLockHandle:
    """A named lock held in the store. Use as a context manager: acquire, heartbeat, release."""

    def __init__(self, engine: Engine, name: str = DEFAULT_LOCK, *, stale_after: timedelta = DEFAULT_STALE_AFTER,
                 heartbeat_every: float = DEFAULT_HEARTBEAT_EVERY) -> None:
        self.engine, self.name = engine, name
        self.stale_after, self.heartbeat_every = stale_after, heartbeat_every
        self.owner = uuid.uuid4().hex
        self.cleared: StaleLock | None = None  # why a stale lock was cleared on acquiring, for the report
        self.lost = threading.Event()  # someone took the lock over: this process must stop writing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock, clearing a stale one; LockHeld when a live process holds it."""
        for _ in range(5):  # the holder may release between our INSERT and our SELECT
            if insert_lock(self.engine, self._values()):
                return
            holder = self._holder()
            if holder is None:
                continue
            reason = holder.stale_reason(utcnow(), self.stale_after)
            if reason is None:
                raise LockHeld(f"another nightly run holds the lock {self.name!r}: {holder.describe()}")
            if replace_lock(self.engine, holder.owner, self._values()):
                self.cleared = reason
                log.warning("lock %s: %s", self.name, reason.text("en"))
                return
        raise LockHeld(f"could not take the lock {self.name!r}: other processes keep taking it")

    def _values(self) -> dict[str, Any]:
        now = utcnow()
        return {"name": self.name, "owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "acquired_at": now, "heartbeat_at": now}

    def _holder(self) -> LockHolder | None:
        row = lock_holder(self.engine, self.name)
        if row is None:
            return None
        return LockHolder(row["owner"], row["host"], row["pid"], row["acquired_at"], row["heartbeat_at"])

    def heartbeat(self) -> bool:
        """Refresh the heartbeat; False (and `lost` set) when the lock is no longer ours."""
        if not beat_lock(self.engine, self.name, self.owner, utcnow()):
            self.lost.set()
            return False
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        delete_lock(self.engine, self.name, self.owner)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_every):
            try:
                if not self.heartbeat():
                    log.error("lock %s was taken over by another process", self.name)
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the timeout tolerates several
                log.exception("lock %s: heartbeat failed", self.name)

    def __enter__(self) -> RunLockHandle:
        self.acquire()
        self._thread = threading.Thread(target=self._beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
