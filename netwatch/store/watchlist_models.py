"""Tables of the nightly operation: the watchlist, the lock that keeps two nightly runs apart, and what
each nightly run did per target (the history the crawl-health alarms compare against).

They live on the store's Base so one Alembic history (revision `w001`) creates them beside the leads.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from netwatch.store.models import Base

TARGET_KINDS = ("profile", "url")


class WatchTarget(Base):
    """A site profile or a generic start URL the bureau watches, with the district its leads go to."""

    __tablename__ = "watch_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "profile" or "url"
    profile: Mapped[str | None] = mapped_column(sa.String(200))  # site profile name, for kind "profile"
    url: Mapped[str | None] = mapped_column(sa.Text)  # start URL (kind "url") or the profile's base URL override
    region: Mapped[str] = mapped_column(sa.String(100), default="unassigned")
    # Stored as ",nightly,campaign-双十一," so one LIKE '%,tag,%' selects by tag on SQLite and PostgreSQL.
    tags: Mapped[str] = mapped_column(sa.String(2000), default=",")
    priority: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_watch_targets_enabled_priority", "enabled", "priority"),)


class RunLock(Base):
    """One row per held lock. The row is the lock: the primary key makes a second INSERT fail."""

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(64))  # a random token of the holding process
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class NightlyTargetRun(Base):
    """What one nightly run did for one target: the crawl's run id, its figures and its alarms."""

    __tablename__ = "nightly_target_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    nightly_run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("watch_targets.id", ondelete="CASCADE"), index=True)
    crawl_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("runs.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending, ok, alarm, failed
    items: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    finish_reason: Mapped[str | None] = mapped_column(sa.String(100))
    alarms: Mapped[dict | None]  # {"alarms": [{"check", "message"}]}
    finished_at: Mapped[datetime | None]

    __table_args__ = (sa.UniqueConstraint("nightly_run_id", "target_id", name="uq_nightly_target_runs_run_target"),)


class NightlyCrawlRun(Base):
    """A crawl run a nightly run started, recorded as soon as the crawl's store run starts: a killed
    batch's crawls belong to the night too (their leads go to its outbox). Revision 0005."""

    __tablename__ = "nightly_crawl_runs"

    crawl_run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id"), primary_key=True, autoincrement=False)
    nightly_run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    # the target it crawled (None once the target is taken off the watchlist)
    target_id: Mapped[int | None] = mapped_column(sa.ForeignKey("watch_targets.id", ondelete="SET NULL"))
