"""What a run covered, which bounds what its not seeing something can mean: listings delisted, leads gone.

A run covers the platforms it stored listings of (fetched, or skipped as unchanged); a partial crawl (a
profile crawl from `-a start_url`, e.g. one shop: statistic PARTIAL_CRAWL) covers only those listings'
shops. A run delists only covered listings last seen by an earlier run of the same spider and target, and
seen before this run started: a crawl of another site, or of another shop, leaves them alone, and so does a
run going on at the same time (a listing it saw after this run started is not this run's to delist).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.store.models import Lead, LeadHit, ListingRow, Run, ShopRow, Snapshot


@dataclass(frozen=True)
class Coverage:
    platforms: frozenset[str]
    shops: frozenset[tuple[str, int | None]] | None  # (platform, shops.id or None); None: the whole platforms

    def covers(self, platform: sa.ColumnElement, shop_ref: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """SQL: a row of this platform (and shop) is covered."""
        if self.shops is None:
            return platform.in_(sorted(self.platforms)) if self.platforms else sa.false()
        clauses = []
        for name in sorted(self.platforms):
            refs = sorted(ref for key, ref in self.shops if key == name and ref is not None)
            of_shops = [shop_ref.in_(refs)] if refs else []
            if (name, None) in self.shops:
                of_shops.append(shop_ref.is_(None))
            clauses.append(sa.and_(platform == name, sa.or_(*of_shops)))
        return sa.or_(*clauses) if clauses else sa.false()


def _seen_by(run_id: sa.ColumnElement | int) -> sa.ColumnElement[bool]:
    """SQL: the listing was seen in the run (a snapshot: fetched; or last marked seen by it)."""
    return sa.or_(ListingRow.id.in_(sa.select(Snapshot.listing_id).where(Snapshot.run_id == run_id)),
                  ListingRow.last_run_id == run_id)


def coverage(conn: sa.Connection, run_id: int, *, partial: bool) -> Coverage:
    rows = conn.execute(sa.select(ListingRow.platform, ListingRow.shop_ref).distinct().where(_seen_by(run_id))).all()
    return Coverage(frozenset(platform for platform, _ in rows),
                    frozenset((platform, shop_ref) for platform, shop_ref in rows) if partial else None)


def same_target(target: str | None) -> sa.ColumnElement[bool]:
    return Run.target.is_(None) if target is None else Run.target == target


def delist_unseen(conn: sa.Connection, run_id: int, *, partial: bool) -> int:
    """Mark delisted the covered listings earlier runs of the same spider and target saw, before this run
    started, and this run did not; returns how many."""
    run = conn.execute(sa.select(Run.spider, Run.target, Run.started_at).where(Run.id == run_id)).one()
    covered = coverage(conn, run_id, partial=partial)
    if not covered.platforms:
        return 0
    earlier_runs = sa.select(Run.id).where(Run.spider == run.spider, same_target(run.target), Run.id != run_id)
    return conn.execute(sa.update(ListingRow).where(
        ListingRow.active.is_(True), ListingRow.last_run_id.in_(earlier_runs),
        covered.covers(ListingRow.platform, ListingRow.shop_ref), ListingRow.last_seen < run.started_at,
    ).values(active=False, delisted_at=utcnow())).rowcount


def gone_leads(conn: sa.Connection, run: sa.RowMapping, *, partial: bool) -> int:
    """Covered leads the previous finished run of the same spider and target that covered any of the same
    ground hit, and this (finished) run did not."""
    if run["status"] != "finished":
        return 0
    covered = coverage(conn, run["id"], partial=partial)
    if not covered.platforms:
        return 0
    covered_listing_seen = sa.exists().where(_seen_by(Run.id), covered.covers(ListingRow.platform,
                                                                              ListingRow.shop_ref))
    previous = conn.scalar(sa.select(sa.func.max(Run.id)).where(
        Run.spider == run["spider"], same_target(run["target"]), Run.id < run["id"], Run.status == "finished",
        covered_listing_seen))
    if previous is None:
        return 0
    seen_now = sa.select(LeadHit.lead_id).where(LeadHit.run_id == run["id"])
    platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
    return conn.scalar(
        sa.select(sa.func.count(sa.distinct(LeadHit.lead_id))).select_from(LeadHit)
        .join(Lead, Lead.id == LeadHit.lead_id)
        .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
        .where(LeadHit.run_id == previous, LeadHit.lead_id.not_in(seen_now), covered.covers(platform, Lead.shop_id)))
