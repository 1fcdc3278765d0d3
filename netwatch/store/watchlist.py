"""The rows of `watch_targets`, handed out as plain data (Target): netwatch.ops.watchlist checks and
parses targets; this reads and writes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netwatch.domain.clock import utcnow
from netwatch.store.schema import translate_errors
from netwatch.store.watchlist_models import TARGET_KINDS, WatchTarget

__all__ = ["TARGET_KINDS", "Target", "delete_target", "insert_target", "select_targets", "set_target_enabled",
           "upsert_targets"]


@dataclass(frozen=True)
class Target:
    """A watch target as stored. `tags` is stored as ",nightly,campaign-双十一," (see watchlist_models)."""

    id: int
    name: str
    kind: str  # "profile" or "url"
    profile: str | None
    url: str | None
    region: str
    tags: str
    priority: int
    enabled: bool
    created_at: datetime


_COLUMNS = [getattr(WatchTarget, field.name) for field in fields(Target)]


def _target(row: Any) -> Target:
    return Target(*(getattr(row, field.name) for field in fields(Target)))


def insert_target(engine: Engine, values: Mapping[str, Any]) -> Target | None:
    """Store a new target (values: the columns but id and created_at); None when its name is taken."""
    with translate_errors(engine, "adding a watch target to"), Session(engine, expire_on_commit=False) as session:
        if session.scalar(sa.select(WatchTarget.id).where(WatchTarget.name == values["name"])) is not None:
            return None
        row = WatchTarget(**values, created_at=utcnow())
        session.add(row)
        session.commit()
        return _target(row)


def select_targets(engine: Engine, tag: str | None = None, *, enabled_only: bool = False) -> list[Target]:
    """Targets, highest priority first; with `tag`, only those carrying it."""
    query = sa.select(*_COLUMNS).order_by(WatchTarget.priority.desc(), WatchTarget.name)
    if tag:
        query = query.where(WatchTarget.tags.contains(f",{tag},", autoescape=True))
    if enabled_only:
        query = query.where(WatchTarget.enabled.is_(True))
    with translate_errors(engine, "reading the watchlist from"), engine.connect() as conn:
        return [Target(*row) for row in conn.execute(query)]


def delete_target(engine: Engine, name: str) -> bool:
    """Take a target off the watchlist (its leads stay). False when no target has that name."""
    with translate_errors(engine, "removing a watch target from"), Session(engine) as session:
        row = session.scalar(sa.select(WatchTarget).where(WatchTarget.name == name))
        if row is None:
            return False
        session.delete(row)
        session.commit()
        return True


def set_target_enabled(engine: Engine, name: str, enabled: bool) -> bool:
    with translate_errors(engine, "updating the watchlist in"), engine.begin() as conn:
        return conn.execute(sa.update(WatchTarget).where(WatchTarget.name == name).values(enabled=enabled)).rowcount > 0


def upsert_targets(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Add or update (by name) every target, in one transaction; returns (added, updated)."""
    added = updated = 0
    with translate_errors(engine, "importing watch targets into"), Session(engine) as session:
        existing = {row.name: row for row in session.scalars(sa.select(WatchTarget))}
        for values in rows:
            row = existing.get(values["name"])
            if row is None:
                session.add(WatchTarget(**values, created_at=utcnow()))
                added += 1
            else:
                for column, value in values.items():
                    setattr(row, column, value)
                updated += 1
        session.commit()
    return added, updated
