"""Time and process helpers every floor uses: the store keeps naive UTC datetimes, items carry ISO text."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the store's times are naive UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utcnow_iso() -> str:
    """Now as ISO 8601 text with its offset, to the second (an item's fetched_at)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def process_alive(pid: int) -> bool:
    """Whether a process of this host with that id still runs (a run's or a lock's holder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
