"""The lead table as analysts see it: one row per lead with its listing and shop, and the filters that
`netwatch leads list` and the exports share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa

from netwatch.domain.vocab import LEAD_STATUSES, SEVERITY_RANK
from netwatch.store.models import Lead, LeadHit, ListingRow, ShopRow
from netwatch.store.schema import StoreError


def _lead_columns() -> list[sa.ColumnElement]:
    """The lead table's columns, in the export's order. A lead's shop_id is the shop itself or the listing's shop."""
    return [
        Lead.id.label("lead_id"),
        sa.func.coalesce(ListingRow.platform, ShopRow.platform).label("platform"),
        ShopRow.name.label("shop_name"),
        ShopRow.url.label("shop_url"),
        ShopRow.credit_code.label("credit_code"),
        ListingRow.url.label("listing_url"),
        ListingRow.title.label("title"),
        ListingRow.price.label("price"),
        ListingRow.original_price.label("original_price"),
        Lead.category.label("category"),
        (Lead.pack + "/" + Lead.rule).label("rule"),
        Lead.legal_basis.label("legal_basis"),
        Lead.matched_text.label("matched_text"),
        Lead.context.label("context"),
        Lead.severity.label("severity"),
        Lead.first_seen.label("first_seen"),
        Lead.last_seen.label("last_seen"),
        Lead.times_seen.label("times_seen"),
        Lead.status.label("status"),
        Lead.assignee.label("assignee"),
        Lead.note.label("note"),
        ListingRow.content_hash.label("evidence_hash"),
        _sighting_record(Lead.first_run_id).label("evidence_first"),
        _sighting_record(Lead.last_run_id).label("evidence_latest"),
    ]


def _sighting_record(run_id: sa.ColumnElement) -> sa.ScalarSelect:
    """The WARC record (file#offset+length sha256:…) the lead was found on in that run, if archived."""
    return (sa.select(LeadHit.warc_file + "#" + sa.cast(LeadHit.warc_offset, sa.String) + "+"
                      + sa.cast(LeadHit.warc_length, sa.String) + " " + LeadHit.warc_sha256)
            .where(LeadHit.lead_id == Lead.id, LeadHit.run_id == run_id, LeadHit.warc_file.is_not(None))
            .order_by(LeadHit.field, LeadHit.start).limit(1).scalar_subquery())


LEAD_COLUMNS = [column.name for column in _lead_columns()]


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    """Filter values as given on a command line: repeated, or comma-separated, or both."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


def _as_datetime(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise StoreError(f"--since {value!r} is not a date (use YYYY-MM-DD)") from None


def lead_query(*, since=None, status=None, category=None, site=None, min_severity=None,
               first_run_ids: Iterable[int] | None = None) -> sa.Select:
    """Leads with their listing and shop, in lead id order, filtered as the command line asks; first_run_ids:
    only the leads first found by these runs (a nightly run's new leads; an empty list: none)."""
    query = (
        sa.select(*_lead_columns())
        .select_from(Lead)
        .outerjoin(ListingRow, ListingRow.id == Lead.listing_id)
        .outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
        .order_by(Lead.id)
    )
    if since is not None:
        query = query.where(Lead.last_seen >= _as_datetime(since))
    statuses = _as_list(status)
    unknown = sorted(set(statuses) - set(LEAD_STATUSES))
    if unknown:
        raise StoreError(f"unknown status {', '.join(unknown)}: use one of {', '.join(LEAD_STATUSES)}")
    if statuses:
        query = query.where(Lead.status.in_(statuses))
    if categories := _as_list(category):
        query = query.where(Lead.category.in_(categories))
    if sites := _as_list(site):
        platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
        query = query.where(platform.in_(sites))
    if min_severity is not None:
        if min_severity not in SEVERITY_RANK:
            raise StoreError(f"unknown severity {min_severity!r}: use one of {', '.join(SEVERITY_RANK)}")
        query = query.where(Lead.severity_rank >= SEVERITY_RANK[min_severity])
    if first_run_ids is not None:
        query = query.where(Lead.first_run_id.in_(list(first_run_ids)))
    return query
