"""What a nightly run reads and writes besides the crawls' own rows: its own run row (resumed or
abandoned), the crawl runs it started (`nightly_crawl_runs`, written as each crawl starts), what it did
per target (`nightly_target_runs`), and the leads of its crawls."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.store.models import Lead, LeadHit, ListingRow, Run, ShopRow
from netwatch.store.watchlist_models import NightlyCrawlRun, NightlyTargetRun


def unfinished_run(store, spider: str, target: str) -> tuple[int, datetime] | None:  # type: ignore[no-untyped-def]
    """The latest run of (spider, target) left running or killed: (id, started_at), or None."""
    with store.reading() as conn:
        row = conn.execute(sa.select(Run.id, Run.started_at).where(
            Run.spider == spider, Run.target == target, Run.status.in_(("running", "killed")))
            .order_by(Run.id.desc()).limit(1)).first()
    return (row.id, row.started_at) if row is not None else None


def resume_run(store, run_id: int) -> None:  # type: ignore[no-untyped-def]
    """Make the run this process's again (it goes on where a killed process left it)."""
    store._write(lambda conn: conn.execute(sa.update(Run).where(Run.id == run_id).values(
        status="running", host=socket.gethostname(), pid=os.getpid())), f"resuming run {run_id} in")


def stop_run(store, run_id: int, stats: Mapping[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """A run stopped by a signal: "killed" (the next one resumes it), with what it had done so far."""
    store._write(lambda conn: conn.execute(sa.update(Run).where(Run.id == run_id).values(
        status="killed", stats=dict(stats))), f"recording run {run_id} as stopped in")


def abandon_run(store, run_id: int) -> None:  # type: ignore[no-untyped-def]
    store._write(lambda conn: conn.execute(sa.update(Run).where(Run.id == run_id).values(
        status="abandoned", finished_at=utcnow())), f"abandoning run {run_id} in")


def done_target_ids(store, nightly_run_id: int) -> set[int]:  # type: ignore[no-untyped-def]
    """Targets the nightly run has recorded an outcome for."""
    with store.reading() as conn:
        return set(conn.scalars(sa.select(NightlyTargetRun.target_id).where(
            NightlyTargetRun.nightly_run_id == nightly_run_id, NightlyTargetRun.status != "pending")))


def record_target_runs(store, nightly_run_id: int, outcomes: Mapping[int, Mapping[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """What the nightly run did per target (target id -> nightly_target_runs columns), in one transaction;
    a target recorded before (a batch crawled again) is updated."""
    def work(conn: sa.Connection) -> None:
        now = utcnow()
        for target_id, values in outcomes.items():
            row = {**values, "finished_at": now}
            updated = conn.execute(sa.update(NightlyTargetRun).where(
                NightlyTargetRun.nightly_run_id == nightly_run_id, NightlyTargetRun.target_id == target_id)
                .values(row))
            if updated.rowcount == 0:
                conn.execute(sa.insert(NightlyTargetRun).values(
                    nightly_run_id=nightly_run_id, target_id=target_id, **row))

    store._write(work, f"recording nightly run {nightly_run_id} in")


def target_runs(store, nightly_run_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The nightly run's rows per target (target_id, crawl_run_id, status, figures, alarms)."""
    with store.reading() as conn:
        return [dict(row) for row in conn.execute(sa.select(NightlyTargetRun).where(
            NightlyTargetRun.nightly_run_id == nightly_run_id).order_by(NightlyTargetRun.id)).mappings()]


def new_lead_categories_and_sites(store, crawl_run_ids: Sequence[int]) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """(category, platform) of every lead first found by these crawl runs."""
    with store.reading() as conn:
        platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
        return [tuple(row) for row in conn.execute(
            sa.select(Lead.category, platform).select_from(Lead)
            .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
            .where(Lead.first_run_id.in_(crawl_run_ids)))]


def record_crawl_run(store, nightly_run_id: int, target_id: int | None, crawl_run_id: int) -> None:  # type: ignore[no-untyped-def]
    """The crawl run belongs to the nightly run (and crawls that target); recording it again changes nothing."""
    def work(conn: sa.Connection) -> None:
        known = conn.scalar(sa.select(NightlyCrawlRun.nightly_run_id).where(NightlyCrawlRun.crawl_run_id == crawl_run_id))
        if known is None:
            conn.execute(sa.insert(NightlyCrawlRun).values(
                crawl_run_id=crawl_run_id, nightly_run_id=nightly_run_id, target_id=target_id))

    store._write(work, f"recording crawl run {crawl_run_id} of nightly run {nightly_run_id} in")


def night_crawl_runs(store, nightly_run_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every crawl run the nightly run started, finished or not: crawl_run_id, target_id, status, host, pid."""
    with store.reading() as conn:
        return [dict(row) for row in conn.execute(
            sa.select(NightlyCrawlRun.crawl_run_id, NightlyCrawlRun.target_id, Run.status, Run.host, Run.pid)
            .join(Run, Run.id == NightlyCrawlRun.crawl_run_id)
            .where(NightlyCrawlRun.nightly_run_id == nightly_run_id).order_by(NightlyCrawlRun.crawl_run_id)).mappings()]


def night_lead_counts(store, crawl_run_ids: Sequence[int]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(new, recurring) over a night's crawl runs: leads first found by one of them, and the other leads
    they saw. Each lead once, however many of the runs saw it (a killed crawl and its re-run)."""
    if not crawl_run_ids:
        return 0, 0
    with store.reading() as conn:
        seen = sa.select(LeadHit.lead_id).where(LeadHit.run_id.in_(crawl_run_ids)).distinct().subquery()
        new = conn.scalar(sa.select(sa.func.count()).select_from(Lead).where(Lead.first_run_id.in_(crawl_run_ids)))
        recurring = conn.scalar(sa.select(sa.func.count()).select_from(Lead).join(seen, seen.c.lead_id == Lead.id)
                                .where(sa.or_(Lead.first_run_id.is_(None), Lead.first_run_id.not_in(crawl_run_ids))))
    return new, recurring
