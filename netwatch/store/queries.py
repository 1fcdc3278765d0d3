"""The lead table as analysts see it: one row per lead with its listing and shop, and the filters that
`netwatch leads list` and the exports share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa

from netwatch.domain.clock import to_utc
from netwatch.domain.vocab import SEVERITY_RANK, UnknownValue, canonical
from netwatch.store.followup_models import SellerGroup
from netwatch.store.models import Lead, LeadHit, ListingRow, ShopRow
from netwatch.store.schema import StoreError

UNASSIGNED = "unassigned"  # a lead no watch target's region claims (ad-hoc crawls, imports), as the outbox says
# A lead's region: set when a nightly run hands it to its target's region (the outbox) or by a hand-off.
REGION = sa.func.coalesce(Lead.region, UNASSIGNED)


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
        REGION.label("region"),
        ListingRow.content_hash.label("evidence_hash"),
        SellerGroup.group_id.label("group_id"),  # the shop's seller group (netwatch.store.networks), if any
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
        return to_utc(datetime(value.year, value.month, value.day))
    try:
        return to_utc(datetime.fromisoformat(value))  # a date as the analyst means it: in the display zone
    except ValueError:
        raise StoreError(f"--since {value!r} is not a date (use YYYY-MM-DD)") from None


def vocabulary_values(kind: str, value: str | Iterable[str] | None) -> list[str]:
    """Filter values of a category, severity or status by their English or Chinese names, as stored."""
    try:
        return [canonical(kind, text) for text in _as_list(value)]
    except UnknownValue as exc:
        raise StoreError(str(exc)) from None


# Triage order: the worst first, then the most recently seen (the lead queue, `leads list`).
TRIAGE_ORDER = (Lead.severity_rank.desc(), Lead.last_seen.desc(), Lead.id.desc())


def lead_source(columns: Iterable[sa.ColumnElement], *, joined: bool = True) -> sa.Select:
    """SELECT columns FROM leads with their listing and shop (the joins lead filters may need); joined=False:
    the leads alone, for counts whose filters need no join (SQLite would join every row all the same)."""
    if not joined:
        return sa.select(*columns).select_from(Lead)
    return (
        sa.select(*columns)
        .select_from(Lead)
        .outerjoin(ListingRow, ListingRow.id == Lead.listing_id)
        .outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
        .outerjoin(SellerGroup, SellerGroup.shop_ref == Lead.shop_id)
    )


def lead_query(*, since=None, status=None, category=None, site=None, min_severity=None,
               first_run_ids: Iterable[int] | None = None, triage_order: bool = False, joined: bool = True,
               **more) -> sa.Select:
    """Leads with their listing and shop, in lead id order (triage_order: severity, then recency), filtered as
    the command line asks; first_run_ids: only the leads first found by these runs (a nightly run's new leads;
    an empty list: none). Categories, severities and statuses may be given by their Chinese names. `more`:
    the workbench's filters (see workbench_filters)."""
    query = lead_source(_lead_columns(), joined=joined).order_by(*(TRIAGE_ORDER if triage_order else (Lead.id,)))
    query = workbench_filters(query, **more)
    if since is not None:
        query = query.where(Lead.last_seen >= _as_datetime(since))
    if statuses := vocabulary_values("status", status):
        query = query.where(Lead.status.in_(statuses))
    if categories := vocabulary_values("category", category):
        query = query.where(Lead.category.in_(categories))
    if sites := _as_list(site):
        platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
        query = query.where(platform.in_(sites))
    if min_severity is not None:
        [min_severity] = vocabulary_values("severity", min_severity)
        query = query.where(Lead.severity_rank >= SEVERITY_RANK[min_severity])
    if first_run_ids is not None:
        query = query.where(Lead.first_run_id.in_(list(first_run_ids)))
    return query


JOINED_FILTERS = ("site", "shop", "text")  # the filters that read the listing or the shop


def workbench_filters(query: sa.Select, *, severity=None, region=None, scope: Iterable[str] | None = None,
                      shop: str | None = None, assignee: str | None = None, until=None, text: str | None = None,
                      lead_ids: Iterable[int] | None = None) -> sa.Select:
    """The lead queue's filters on a lead_source query. scope: the regions a user may see (None: all)."""
    if severities := vocabulary_values("severity", severity):  # by rank: the indexes hold the rank
        query = query.where(Lead.severity_rank.in_([SEVERITY_RANK[name] for name in severities]))
    if regions := _as_list(region):
        query = query.where(REGION.in_(regions))
    if scope is not None:
        query = query.where(REGION.in_(list(scope)))
    if shop:
        query = query.where(sa.or_(ShopRow.name == shop, ShopRow.shop_id == shop, ShopRow.credit_code == shop))
    if assignee:
        query = query.where(Lead.assignee == assignee)
    if until is not None:
        query = query.where(Lead.last_seen < _as_datetime(until))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(*(column.like(pattern, escape="\\") for column in
                                     (ListingRow.title, Lead.matched_text, ShopRow.name, Lead.context))))
    if lead_ids is not None:
        query = query.where(Lead.id.in_(list(lead_ids)))
    return query
