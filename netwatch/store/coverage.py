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


def _seen_in(run_id: int, *columns: sa.ColumnElement, where: sa.ColumnElement[bool] | None = None) -> sa.CompoundSelect:
    """SQL: `columns` of the listings seen in the run, fetched (a snapshot) or last marked seen by it; two
    selects, so that each uses its index (snapshots.run_id, listings.last_run_id)."""
    where = sa.true() if where is None else where
    fetched = sa.select(*columns).join(Snapshot, Snapshot.listing_id == ListingRow.id).where(
        Snapshot.run_id == run_id, where)
    return sa.union(fetched, sa.select(*columns).where(ListingRow.last_run_id == run_id, where))


def coverage(conn: sa.Connection, run_id: int, *, partial: bool) -> Coverage:
    rows = conn.execute(_seen_in(run_id, ListingRow.platform, ListingRow.shop_ref)).all()
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
    earlier = conn.scalars(sa.select(Run.id).where(
        Run.spider == run["spider"], same_target(run["target"]), Run.id < run["id"], Run.status == "finished")
        .order_by(Run.id.desc())).all()
    in_scope = covered.covers(ListingRow.platform, ListingRow.shop_ref)
    # Newest first: the previous run is nearly always the one just before.
    previous = next((candidate for candidate in earlier if conn.execute(
        _seen_in(candidate, ListingRow.id, where=in_scope).limit(1)).first() is not None), None)
    if previous is None:
        return 0
    seen_now = sa.select(LeadHit.lead_id).where(LeadHit.run_id == run["id"])
    platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
    return conn.scalar(
        sa.select(sa.func.count(sa.distinct(LeadHit.lead_id))).select_from(LeadHit)
        .join(Lead, Lead.id == LeadHit.lead_id)
        .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
        .where(LeadHit.run_id == previous, LeadHit.lead_id.not_in(seen_now), covered.covers(platform, Lead.shop_id)))
