"""The rows of `run_locks`: one row per held lock, the primary key making a second INSERT fail (works on
SQLite and PostgreSQL alike). netwatch.ops.lock decides when a holder is stale; this only reads and writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from netwatch.store.schema import translate_errors
from netwatch.store.watchlist_models import RunLock


def insert_lock(engine: Engine, values: Mapping[str, Any]) -> bool:
    """Take the lock `values["name"]` with this holder's row; False when a row (a holder) is there."""
    with translate_errors(engine, "taking the nightly lock in"):
        try:
            with engine.begin() as conn:
                conn.execute(sa.insert(RunLock).values(dict(values)))
        except IntegrityError:  # the row exists: someone holds the lock
            return False
    return True


def lock_holder(engine: Engine, name: str) -> dict[str, Any] | None:
    """The holder's row (owner, host, pid, acquired_at, heartbeat_at), or None when the lock is free."""
    with translate_errors(engine, "reading the nightly lock in"), engine.begin() as conn:
        row = conn.execute(sa.select(RunLock).where(RunLock.name == name)).mappings().one_or_none()
    return dict(row) if row is not None else None


def replace_lock(engine: Engine, stale_owner: str, values: Mapping[str, Any]) -> bool:
    """Replace the stale holder's row with ours; only one of several racing processes deletes it."""
    name = values["name"]
    with translate_errors(engine, "clearing a stale nightly lock in"):
        try:
            with engine.begin() as conn:
                deleted = conn.execute(sa.delete(RunLock).where(RunLock.name == name, RunLock.owner == stale_owner))
                if deleted.rowcount != 1:
                    return False
                conn.execute(sa.insert(RunLock).values(dict(values)))
        except IntegrityError:  # another process took it over first
            return False
    return True


def beat_lock(engine: Engine, name: str, owner: str, at: Any) -> bool:
    """Refresh the holder's heartbeat; False when the lock is no longer `owner`'s."""
    with translate_errors(engine, "refreshing the nightly lock in"), engine.begin() as conn:
        updated = conn.execute(sa.update(RunLock).where(RunLock.name == name, RunLock.owner == owner)
                               .values(heartbeat_at=at))
    return updated.rowcount == 1


def delete_lock(engine: Engine, name: str, owner: str) -> None:
    with translate_errors(engine, "releasing the nightly lock in"), engine.begin() as conn:
        conn.execute(sa.delete(RunLock).where(RunLock.name == name, RunLock.owner == owner))
