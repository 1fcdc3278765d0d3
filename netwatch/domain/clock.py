"""Time helpers every floor uses: the store keeps naive UTC datetimes, items carry ISO 8601 text, and people
read times in a configurable zone (NETWATCH_TZ, default Asia/Shanghai), always labelled with it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the store's times are naive UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utcnow_iso() -> str:
    """Now as ISO 8601 text with its offset, to the second (an item's fetched_at)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


DEFAULT_ZONE = "Asia/Shanghai"


def zone(name: str | None = None) -> ZoneInfo:
    """The time zone times are shown in: `name`, else NETWATCH_TZ, else Asia/Shanghai (the analysts' own)."""
    name = name or os.environ.get("NETWATCH_TZ") or DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (NETWATCH_TZ): use a name such as Asia/Shanghai or UTC") from None


def local(stored: datetime | None, tz: ZoneInfo | str | None = None) -> datetime | None:
    """A stored naive-UTC time in the display zone (`tz`: a zone or its name)."""
    if stored is None:
        return None
    return stored.replace(tzinfo=UTC).astimezone(tz if isinstance(tz, ZoneInfo) else zone(tz))


def local_text(stored: datetime | None, tz: ZoneInfo | str | None = None, *, seconds: bool = False,
               labelled: bool = True) -> str:
    """A stored naive-UTC time as an analyst reads it: "2026-12-06 21:00 (Asia/Shanghai)" (`tz`: a zone or its name)."""
    if stored is None:
        return ""
    tz = tz if isinstance(tz, ZoneInfo) else zone(tz)
    text = local(stored, tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} ({tz.key})" if labelled else text


def to_utc(day_or_time: datetime, tz: ZoneInfo | None = None) -> datetime:
    """A naive time meant in the display zone (a date an analyst typed) as the store's naive UTC."""
    return day_or_time.replace(tzinfo=tz or zone()).astimezone(UTC).replace(tzinfo=None)
