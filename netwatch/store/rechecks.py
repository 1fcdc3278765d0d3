"""Re-checks of leads after they were found: which leads are due, what a re-check crawl saw of each lead's page,
the outcomes recorded per lead (lead_rechecks), and each lead's takedown status with the time it took.

Outcomes: present (the page still shows the violation), changed (the page is there, the violating text is
not), gone (404/410: taken down), unreachable (the site did not answer: says nothing), reappeared (a resolved
lead's violation is back: the lead is reopened, netwatch.ops.recheck).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.store.followup_models import LeadRecheck
from netwatch.store.models import Lead, LeadHit, ListingRow, ShopRow, Snapshot

OUTCOMES = ("present", "changed", "gone", "unreachable", "reappeared")
TAKEN_DOWN = ("gone", "changed")


def due(conn: sa.Connection, statuses: Sequence[str], checked_before: datetime | None) -> list[dict[str, Any]]:
    """Leads in these statuses, with the page to fetch (the listing's, else the shop's), whose last re-check (or,
    never re-checked, last status change) is before `checked_before` (None: all)."""
    last_check = sa.select(LeadRecheck.lead_id, sa.func.max(LeadRecheck.checked_at).label("at")) \
        .group_by(LeadRecheck.lead_id).subquery()
    query = (sa.select(Lead.id, Lead.subject, Lead.status, Lead.listing_id, Lead.shop_id, Lead.matched_text,
                       sa.func.coalesce(ListingRow.platform, ShopRow.platform).label("platform"),
                       sa.case((Lead.subject == "listing", ListingRow.url), else_=ShopRow.url).label("url"))
             .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
             .outerjoin(last_check, last_check.c.lead_id == Lead.id)
             .where(Lead.status.in_(list(statuses))).order_by(Lead.id))
    if checked_before is not None:
        query = query.where(sa.func.coalesce(last_check.c.at, Lead.updated_at) < checked_before)
    return [dict(row) for row in conn.execute(query).mappings() if row["url"]]


def seen_by_run(conn: sa.Connection, run_id: int, leads: Iterable[Mapping[str, Any]]) -> tuple[set[int], set[int]]:
    """(lead ids whose page the run fetched, lead ids the run hit again)."""
    leads = list(leads)
    listing_ids = {lead["listing_id"] for lead in leads if lead["subject"] == "listing"}
    shop_ids = {lead["shop_id"] for lead in leads if lead["subject"] == "shop"}
    fetched_listings = set(conn.scalars(sa.select(Snapshot.listing_id).where(
        Snapshot.run_id == run_id, Snapshot.listing_id.in_(listing_ids)))) if listing_ids else set()
    fetched_shops = set(conn.scalars(sa.select(ShopRow.id).where(
        ShopRow.last_run_id == run_id, ShopRow.id.in_(shop_ids)))) if shop_ids else set()
    fetched = {lead["id"] for lead in leads if (lead["listing_id"] in fetched_listings if lead["subject"] == "listing"
                                                else lead["shop_id"] in fetched_shops)}
    hit = set(conn.scalars(sa.select(LeadHit.lead_id).distinct().where(
        LeadHit.run_id == run_id, LeadHit.lead_id.in_([lead["id"] for lead in leads])))) if leads else set()
    return fetched, hit


def record(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """lead_rechecks rows: lead_id, run_id, outcome, lead_status, detail (checked_at: now unless given)."""
    now = utcnow()
    if rows:
        conn.execute(sa.insert(LeadRecheck), [{"checked_at": now, **row} for row in rows])


def takedowns(conn: sa.Connection, lead_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Each re-checked lead: its latest outcome, when first found, when first found taken down (gone or changed)
    and how long that took (from first found to the first re-check that saw it down)."""
    latest = sa.select(LeadRecheck.lead_id, sa.func.max(LeadRecheck.id).label("id")).group_by(LeadRecheck.lead_id)
    first_down = sa.select(LeadRecheck.lead_id, sa.func.min(LeadRecheck.checked_at).label("at")) \
        .where(LeadRecheck.outcome.in_(TAKEN_DOWN)).group_by(LeadRecheck.lead_id)
    checks = sa.select(LeadRecheck.lead_id, sa.func.count().label("checks")).group_by(LeadRecheck.lead_id)
    if lead_ids is not None:
        latest, first_down, checks = (q.where(LeadRecheck.lead_id.in_(list(lead_ids))) for q in (latest, first_down,
                                                                                                  checks))
    latest_q, down_q, checks_q = latest.subquery(), first_down.subquery(), checks.subquery()
    query = (sa.select(Lead.id.label("lead_id"), Lead.status, Lead.category, Lead.first_seen,
                       sa.func.coalesce(ListingRow.url, ShopRow.url).label("url"),
                       LeadRecheck.outcome, LeadRecheck.checked_at.label("last_checked"), LeadRecheck.detail,
                       down_q.c.at.label("taken_down_at"), checks_q.c.checks)
             .join(latest_q, latest_q.c.lead_id == Lead.id).join(LeadRecheck, LeadRecheck.id == latest_q.c.id)
             .join(checks_q, checks_q.c.lead_id == Lead.id).outerjoin(down_q, down_q.c.lead_id == Lead.id)
             .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
             .order_by(Lead.id))
    rows = []
    for row in conn.execute(query).mappings():
        row = dict(row)
        down = row["taken_down_at"]
        # still down, or down once and since back (reappeared / present): the time it took the first time
        row["time_to_takedown"] = (down - row["first_seen"]) if down is not None else None
        rows.append(row)
    return rows


def history(conn: sa.Connection, lead_id: int) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(
        sa.select(LeadRecheck.checked_at, LeadRecheck.run_id, LeadRecheck.outcome, LeadRecheck.lead_status,
                  LeadRecheck.detail).where(LeadRecheck.lead_id == lead_id).order_by(LeadRecheck.id)).mappings()]
