"""Campaign watches in the store: the campaigns (a watch tag, a date window, a schedule, tightened rules) and
what a campaign's runs found: its nightly-style runs of the tag within the window, their crawls' leads by
category and by shop."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.store.followup_models import Campaign
from netwatch.store.models import Lead, LeadHit, ListingRow, Run, ShopRow
from netwatch.store.schema import StoreError
from netwatch.store.watchlist_models import NightlyCrawlRun


def save(conn: sa.Connection, values: Mapping[str, Any]) -> None:
    """Add the campaign, or update the one of that name."""
    known = conn.scalar(sa.select(Campaign.id).where(Campaign.name == values["name"]))
    if known is None:
        conn.execute(sa.insert(Campaign).values(**values, created_at=utcnow()))
    else:
        conn.execute(sa.update(Campaign).where(Campaign.id == known).values(**values))


def get(conn: sa.Connection, name: str) -> dict[str, Any]:
    row = conn.execute(sa.select(Campaign).where(Campaign.name == name)).mappings().one_or_none()
    if row is None:
        raise StoreError(f"no campaign {name!r}: add it with `netwatch campaign add`")
    return dict(row)


def all_campaigns(conn: sa.Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(sa.select(Campaign).order_by(Campaign.starts_on, Campaign.name))
            .mappings()]


def runs_between(conn: sa.Connection, run_target: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The nightly runs of this target (`tag:<tag>`) started within [start, end) (naive UTC)."""
    return [dict(row) for row in conn.execute(
        sa.select(Run.id, Run.started_at, Run.status).where(
            Run.spider == "nightly", Run.target == run_target, Run.started_at >= start, Run.started_at < end)
        .order_by(Run.id)).mappings()]


def leads_of_runs(conn: sa.Connection, nightly_run_ids: list[int]) -> list[dict[str, Any]]:
    """Each lead the runs' crawls hit, once per run: run, lead, category, platform, shop, first found by it."""
    if not nightly_run_ids:
        return []
    platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
    query = (sa.select(NightlyCrawlRun.nightly_run_id, Lead.id.label("lead_id"), Lead.category,
                       platform.label("platform"), ShopRow.name.label("shop_name"), ShopRow.shop_id,
                       (Lead.first_run_id == LeadHit.run_id).label("new"))
             .select_from(LeadHit).join(NightlyCrawlRun, NightlyCrawlRun.crawl_run_id == LeadHit.run_id)
             .join(Lead, Lead.id == LeadHit.lead_id)
             .outerjoin(ListingRow, ListingRow.id == Lead.listing_id).outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
             .where(NightlyCrawlRun.nightly_run_id.in_(nightly_run_ids)).distinct()
             .order_by(NightlyCrawlRun.nightly_run_id, Lead.id))
    return [dict(row) for row in conn.execute(query).mappings()]
