"""Time helpers every floor uses: the store keeps naive UTC datetimes, items carry ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"  # where the analysts are; NETWATCH_TZ (netwatch.config.time_zone) changes it


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the store's times are naive UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utcnow_iso() -> str:
    """Now as ISO 8601 text with its offset, to the second (an item's fetched_at)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def local_text(value: datetime | None, zone: str = DEFAULT_ZONE) -> str:
    """A stored (naive UTC) time as the analyst's clock shows it, to the minute, labelled with its zone."""
    if value is None:
        return "—"
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") + f" ({zone})"
