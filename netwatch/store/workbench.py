"""What the workbench's pages read: the lead queue with its counts per filter, a shop's leads across sites,
and the dashboard's figures. Every function takes `scope`, the regions the reader may see (None: all)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.domain.vocab import SEVERITIES
from netwatch.store.models import Lead, ListingRow, ShopRow
from netwatch.store.queries import (
    JOINED_FILTERS,
    REGION,
    UNASSIGNED,
    lead_query,
    lead_source,
    vocabulary_values,
    workbench_filters,
)
from netwatch.store.watchlist_models import NightlyTargetRun, WatchTarget

FACETS = ("status", "severity", "category", "region", "platform")
OPEN_STATUSES = ("new", "confirmed", "handed_off")
AGE_BUCKETS = ((1, "<1"), (7, "1-7"), (30, "7-30"), (None, ">30"))  # days since first seen


def _platform() -> sa.ColumnElement:
    return sa.func.coalesce(ListingRow.platform, ShopRow.platform)


def queue(conn: sa.Connection, filters: dict[str, Any], *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """One page of leads in triage order, the total, and the counts per status, severity, category, region and
    site under the same filters."""
    # The counts from the covering index ix_leads_facets: one scan for the lead's own fields, one per shop (a
    # shop's site is its leads' site; the few leads without a shop are looked up through their listing).
    counted = lead_query(joined=any(filters.get(name) for name in JOINED_FILTERS), **filters).order_by(None)
    facets: dict[str, Counter] = {name: Counter() for name in FACETS}
    total = 0
    for status, category, region, rank, count in conn.execute(counted.with_only_columns(
            Lead.status, Lead.category, Lead.region, Lead.severity_rank, sa.func.count())
            .group_by(Lead.status, Lead.category, Lead.region, Lead.severity_rank)):  # the index's order
        total += count
        for name, key in (("status", status), ("severity", SEVERITIES[rank - 1]), ("category", category),
                          ("region", region or UNASSIGNED)):
            facets[name][key] += count
    per_shop = dict(conn.execute(counted.with_only_columns(Lead.shop_id, sa.func.count()).group_by(Lead.shop_id)).all())
    shopless = per_shop.pop(None, 0)
    for start in range(0, len(per_shop), 10_000):
        chunk = list(per_shop)[start:start + 10_000]
        for shop_ref, platform in conn.execute(sa.select(ShopRow.id, ShopRow.platform).where(ShopRow.id.in_(chunk))):
            facets["platform"][platform] += per_shop[shop_ref]
    if shopless:
        with_listing = lead_query(**filters).order_by(None)
        facets["platform"].update(dict(conn.execute(with_listing.where(Lead.shop_id.is_(None)).with_only_columns(
            ListingRow.platform, sa.func.count()).group_by(ListingRow.platform)).all()))
    rows = _page(conn, filters, total, page, per_page)
    return {"rows": rows, "total": total, "facets": facets, "page": page, "per_page": per_page}


SORT_AT_MOST = 5_000  # matching leads the database may sort itself rather than walk the triage index for


def _page(conn: sa.Connection, filters: dict[str, Any], total: int, page: int, per_page: int) -> list[dict]:
    """The page's ids first, then their rows (the joins run for one page only). Many matching leads: walk
    ix_leads_triage in order and stop after the page; the status is then compared as an expression, or the
    planner would find every lead of a common status ("new") through ix_leads_facets and sort them all. Few
    matching leads: let the planner find them by the most selective index and sort those few."""
    ids = lead_query(triage_order=True, **filters).with_only_columns(Lead.id)
    if total > SORT_AT_MOST and filters.get("status"):
        page_filters = {key: value for key, value in filters.items() if key != "status"}
        statuses = vocabulary_values("status", filters["status"])
        ids = lead_query(triage_order=True, **page_filters).with_only_columns(Lead.id) \
            .where((Lead.status + "").in_(statuses))
    page_ids = ids.limit(per_page).offset((page - 1) * per_page).subquery()
    return [dict(row) for row in conn.execute(
        lead_query(triage_order=True).join(page_ids, page_ids.c.id == Lead.id)).mappings()]



def shops(conn: sa.Connection, scope: Iterable[str] | None, limit: int = 200) -> list[dict[str, Any]]:
    """Shops with leads, repeat offenders (most leads, then most open) first."""
    open_leads = sa.func.sum(sa.case((Lead.status.in_(OPEN_STATUSES), 1), else_=0))
    query = workbench_filters(lead_source([ShopRow.id, ShopRow.platform, ShopRow.shop_id, ShopRow.name,
                                           ShopRow.credit_code, sa.func.count(Lead.id).label("leads"),
                                           open_leads.label("open"), sa.func.max(Lead.severity_rank).label("worst")]),
                              scope=scope).where(ShopRow.id.is_not(None))
    query = query.group_by(ShopRow.id, ShopRow.platform, ShopRow.shop_id, ShopRow.name, ShopRow.credit_code)
    return [dict(row) for row in conn.execute(
        query.order_by(sa.desc("leads"), sa.desc("open"), ShopRow.id).limit(limit)).mappings()]


def shop_page(conn: sa.Connection, shop_ref: int, scope: Iterable[str] | None) -> dict[str, Any] | None:
    """A shop, every shop sharing its 统一社会信用代码 on any site, and all their leads the reader may see;
    the shops with the most leads first. None when the reader may see none of them."""
    shop = conn.execute(sa.select(ShopRow).where(ShopRow.id == shop_ref)).mappings().one_or_none()
    if shop is None:
        return None
    same = [ShopRow.id == shop_ref]
    if shop["credit_code"]:
        same.append(ShopRow.credit_code == shop["credit_code"])
    related = [dict(row) for row in conn.execute(sa.select(ShopRow).where(sa.or_(*same))).mappings()]
    leads = [dict(row) for row in conn.execute(
        lead_query(triage_order=True, scope=scope).add_columns(Lead.shop_id.label("shop_ref"))
        .where(Lead.shop_id.in_([row["id"] for row in related]))).mappings()]
    if not leads:
        return None
    counts = Counter(lead["shop_ref"] for lead in leads)
    related.sort(key=lambda row: (-counts[row["id"]], row["id"]))
    for row in related:
        row["leads"] = counts[row["id"]]
    return {"shop": dict(shop), "shops": related, "leads": leads}


def dashboard(conn: sa.Connection, scope: Iterable[str] | None, *, days: int = 30) -> dict[str, Any]:
    """New leads per hour (UTC, for the caller to fold into local nights), by category, site and region;
    open leads by age; the latest nightly alarms and failing targets."""
    now = utcnow()
    scoped = {"scope": scope}
    hour = sa.func.substr(sa.cast(Lead.first_seen, sa.String), 1, 13)  # "2026-12-06 13" on both databases
    recent = lead_query(**scoped).order_by(None).where(Lead.first_seen >= now - timedelta(days=days))
    per_hour = conn.execute(recent.with_only_columns(hour, sa.func.count(Lead.id)).group_by(hour)).all()
    figures: dict[str, Any] = {"per_hour": [(text, count) for text, count in per_hour]}
    for name, column in (("category", Lead.category), ("site", _platform()), ("region", REGION)):
        figures[f"by_{name}"] = dict(conn.execute(
            lead_query(**scoped).order_by(None).with_only_columns(column, sa.func.count(Lead.id))
            .group_by(column)).all())
    ages: Counter[str] = Counter()
    open_query = lead_query(status=list(OPEN_STATUSES), **scoped).order_by(None)
    for lower, (days_, name) in zip((0, 1, 7, 30), AGE_BUCKETS):
        age = open_query.where(Lead.first_seen <= now - timedelta(days=lower))
        if days_ is not None:
            age = age.where(Lead.first_seen > now - timedelta(days=days_))
        ages[name] = conn.scalar(age.with_only_columns(sa.func.count(Lead.id)))
    figures["open_by_age"] = [(name, ages[name]) for _, name in AGE_BUCKETS]
    alarms = sa.select(NightlyTargetRun.nightly_run_id, NightlyTargetRun.status, NightlyTargetRun.alarms,
                       NightlyTargetRun.finished_at, WatchTarget.name, WatchTarget.region).join(
        WatchTarget, WatchTarget.id == NightlyTargetRun.target_id).where(
        NightlyTargetRun.status.in_(("alarm", "failed"))).order_by(NightlyTargetRun.id.desc()).limit(50)
    if scope is not None:
        alarms = alarms.where(WatchTarget.region.in_(list(scope)))
    figures["alarms"] = [dict(row) for row in conn.execute(alarms).mappings()]
    return figures


def nights(per_hour: Iterable[tuple[str, int]], tz) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """dashboard()'s UTC hours folded into local dates, oldest first."""
    from datetime import UTC, datetime

    by_day: dict[date, int] = defaultdict(int)
    for text, count in per_hour:
        moment = datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(tz)
        by_day[moment.date()] += count
    if not by_day:
        return {}
    first, last = min(by_day), max(by_day)  # nights without new leads count too (as 0)
    return {(first + timedelta(days=n)).isoformat(): by_day.get(first + timedelta(days=n), 0)
            for n in range((last - first).days + 1)}
