"""The store's side of the evidence: which WARC record each lead sighting was found on (lead_hits), for
`netwatch evidence`, `leads show`, the export, and the screenshots taken after a crawl."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from netwatch.domain.vocab import SEVERITY_RANK
from netwatch.store.models import Lead, LeadHit, ListingRow, Run, ShopRow

_RECORD = (LeadHit.warc_file, LeadHit.warc_offset, LeadHit.warc_length, LeadHit.warc_sha256)


def sightings(conn: sa.Connection, lead_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One row per (lead, run, record): the lead's sightings with the record each was found on, oldest first.
    lead_ids None: every lead's."""
    query = (sa.select(LeadHit.lead_id, LeadHit.run_id, Run.started_at, *_RECORD)
             .join(Run, Run.id == LeadHit.run_id).distinct()
             .order_by(LeadHit.lead_id, LeadHit.run_id, LeadHit.warc_file, LeadHit.warc_offset))
    if lead_ids is not None:
        query = query.where(LeadHit.lead_id.in_(sorted(set(lead_ids))))
    return [dict(row) for row in conn.execute(query).mappings()]


def first_and_latest(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """The record of the sighting that raised the lead (its first run) and of the latest one, from one lead's
    sightings(); None where that sighting was not archived."""
    archived = [row for row in rows if row["warc_file"]]
    if not rows:
        return {"first": None, "latest": None}
    first_run, last_run = rows[0]["run_id"], rows[-1]["run_id"]
    first = next((row for row in archived if row["run_id"] == first_run), None)
    latest = next((row for row in reversed(archived) if row["run_id"] == last_run), None)
    return {"first": first, "latest": latest}


def pointer_text(row: dict[str, Any] | None) -> str:
    """A record pointer as one line: file#offset+length sha256."""
    if not row or not row.get("warc_file"):
        return ""
    return f"{row['warc_file']}#{row['warc_offset']}+{row['warc_length']} {row['warc_sha256']}"


def new_serious_leads(conn: sa.Connection, run_id: int, min_severity: str, limit: int,
                      capture: str | None = None) -> list[dict[str, Any]]:
    """The leads a run raised first at `min_severity` or worse, worst first, with the page each was found on
    and the texts matched (what a screenshot shows and highlights). capture: only those found on a page of
    that capture (its stamp: the pages one crawl process archived)."""
    page_url = sa.func.coalesce(ListingRow.url, ShopRow.url)
    query = (sa.select(Lead.id, Lead.severity, Lead.matched_text, page_url.label("url"))
             .select_from(Lead).outerjoin(ListingRow, ListingRow.id == Lead.listing_id)
             .outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
             .where(Lead.first_run_id == run_id, Lead.severity_rank >= SEVERITY_RANK[min_severity])
             .order_by(Lead.severity_rank.desc(), Lead.id).limit(limit))
    if capture is not None:
        query = query.where(sa.exists().where(LeadHit.lead_id == Lead.id, LeadHit.run_id == run_id,
                                              LeadHit.warc_file.like(f"%/{capture}-%")))
    found = []
    for row in conn.execute(query).mappings():
        matches = sorted(set(conn.scalars(sa.select(LeadHit.match).where(LeadHit.lead_id == row["id"],
                                                                           LeadHit.run_id == run_id))))
        found.append({"lead_id": row["id"], "severity": row["severity"], "url": row["url"], "matches": matches})
    return found


def serious_lead_records(conn: sa.Connection, run_id: int, min_severity: str) -> list[str]:
    """The WARC files holding the pages of the leads a run raised first at `min_severity` or worse."""
    return sorted(conn.scalars(
        sa.select(LeadHit.warc_file).distinct().join(Lead, Lead.id == LeadHit.lead_id)
        .where(LeadHit.run_id == run_id, Lead.first_run_id == run_id, LeadHit.warc_file.is_not(None),
               Lead.severity_rank >= SEVERITY_RANK[min_severity])))


def run_hits(conn: sa.Connection, run_id: int) -> list[dict[str, Any]]:
    """Every hit a run recorded (a rescan's findings), with its lead's subject, rule and the record it was found
    on, in lead order."""
    listing_or_shop = Lead.subject == "listing"
    rows = conn.execute(
        sa.select(Lead.id.label("lead_id"), Lead.subject,
                  sa.case((listing_or_shop, ListingRow.platform), else_=ShopRow.platform).label("platform"),
                  sa.case((listing_or_shop, ListingRow.canonical_id), else_=ShopRow.shop_id).label("id"),
                  sa.case((listing_or_shop, ListingRow.url), else_=ShopRow.url).label("url"),
                  Lead.pack, Lead.rule, Lead.category, Lead.severity, LeadHit.field, LeadHit.match, *_RECORD)
        .select_from(LeadHit).join(Lead, Lead.id == LeadHit.lead_id)
        .outerjoin(ListingRow, ListingRow.id == Lead.listing_id)
        .outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
        .where(LeadHit.run_id == run_id)
        .order_by(Lead.id, LeadHit.field, LeadHit.start)).mappings()
    return [dict(row) for row in rows]
