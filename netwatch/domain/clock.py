"""Time helpers every floor uses: the store keeps naive UTC datetimes, items carry ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the store's times are naive UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utcnow_iso() -> str:
    """Now as ISO 8601 text with its offset, to the second (an item's fetched_at)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
