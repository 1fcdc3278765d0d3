"""The lead store's tables (SQLAlchemy 2 ORM). Times are naive UTC datetimes on both databases.

The Alembic migrations in `migrations/versions/` create exactly these tables; a test compares them.
Columns holding a runs.id, and a lead's copies of its listing and shop ids, have no foreign key: runs,
shops and listings are never deleted and the batch writes check the run first or write ids they have just
written, while on PostgreSQL each key costs a trigger per written row (see migration 0002). Leads carry
only the indexes that queries use (unique key, first_run_id, last_seen): each one more costs a write per lead.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict: sa.JSON}


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    spider: Mapped[str] = mapped_column(sa.String(200))
    target: Mapped[str | None] = mapped_column(sa.String(2000))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(40), default="running")
    stats: Mapped[dict | None]
    # Where the crawl runs, so a later run on the same host can tell a killed run from a live one.
    host: Mapped[str | None] = mapped_column(sa.String(255))
    pid: Mapped[int | None]

    __table_args__ = (sa.Index("ix_runs_spider_target", "spider", "target"),)


class ShopRow(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(200))
    shop_id: Mapped[str] = mapped_column(sa.String(500))
    url: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    licence_text: Mapped[str | None] = mapped_column(sa.Text)
    credit_code: Mapped[str | None] = mapped_column(sa.String(100))
    food_licence: Mapped[str | None] = mapped_column(sa.String(100))
    contact: Mapped[str | None] = mapped_column(sa.Text)
    is_food: Mapped[bool] = mapped_column(default=False)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    last_run_id: Mapped[int | None]  # runs.id; runs are never deleted, so no foreign key (see migration 0002)

    __table_args__ = (sa.UniqueConstraint("platform", "shop_id", name="uq_shops_platform_shop"),)


class ListingRow(Base):
    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(200))
    canonical_id: Mapped[str] = mapped_column(sa.String(2000))
    shop_ref: Mapped[int | None] = mapped_column(sa.ForeignKey("shops.id"), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.Text)
    price: Mapped[float | None]
    original_price: Mapped[float | None]
    currency: Mapped[str | None] = mapped_column(sa.String(10))
    content_hash: Mapped[str | None] = mapped_column(sa.String(128))
    list_price: Mapped[float | None]  # what its list page showed (incremental crawls re-fetch when it changes)
    list_title: Mapped[str | None] = mapped_column(sa.Text)
    fetched_at: Mapped[datetime | None]  # when its own page was last fetched (last_seen counts list-page sightings)
    etag: Mapped[str | None] = mapped_column(sa.String(200))  # the page's ETag when last fetched
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    last_run_id: Mapped[int | None] = mapped_column(index=True)  # runs.id
    active: Mapped[bool] = mapped_column(default=True)
    delisted_at: Mapped[datetime | None]

    __table_args__ = (sa.UniqueConstraint("platform", "canonical_id", name="uq_listings_platform_canonical"),)


class Snapshot(Base):
    """A listing as one run saw it: the price history the price-fraud check reads."""

    __tablename__ = "listing_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(index=True)  # runs.id
    fetched_at: Mapped[datetime]
    price: Mapped[float | None]
    original_price: Mapped[float | None]
    content_hash: Mapped[str | None] = mapped_column(sa.String(128))
    # The WARC record of the listing's page as this run fetched it (the evidence of leads derived after the run)
    warc_file: Mapped[str | None] = mapped_column(sa.Text)
    warc_offset: Mapped[int | None] = mapped_column(sa.BigInteger)
    warc_length: Mapped[int | None]
    warc_sha256: Mapped[str | None] = mapped_column(sa.String(80))

    __table_args__ = (
        sa.UniqueConstraint("listing_id", "run_id", name="uq_snapshots_listing_run"),
        sa.Index("ix_snapshots_listing_fetched", "listing_id", "fetched_at"),
    )


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"))
    review_key: Mapped[str] = mapped_column(sa.String(200))  # the site's review id, else a hash of its content
    reviewer: Mapped[str | None] = mapped_column(sa.Text)
    rating: Mapped[float | None]
    time: Mapped[str | None] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.Text)
    first_run_id: Mapped[int | None]  # runs.id

    __table_args__ = (sa.UniqueConstraint("listing_id", "review_key", name="uq_reviews_listing_key"),)


class Lead(Base):
    """One suspected violation: a (listing or shop, pack, rule), however many runs flag it."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(10))  # "listing" or "shop"
    subject_id: Mapped[int]  # listings.id or shops.id, as subject says
    listing_id: Mapped[int | None]  # listings.id: the subject's listing, copied (no foreign key, see above)
    shop_id: Mapped[int | None]  # shops.id: the shop itself or the listing's shop
    pack: Mapped[str] = mapped_column(sa.String(200))
    rule: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[str] = mapped_column(sa.String(100))
    severity: Mapped[str] = mapped_column(sa.String(20))
    severity_rank: Mapped[int]
    legal_basis: Mapped[str | None] = mapped_column(sa.Text)
    matched_text: Mapped[str | None] = mapped_column(sa.Text)  # the distinct matches of the latest run, " | "-joined
    context: Mapped[str | None] = mapped_column(sa.Text)
    dismissed_text: Mapped[str | None] = mapped_column(sa.Text)  # matched_text when dismissed
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)
    times_seen: Mapped[int] = mapped_column(default=1)
    first_run_id: Mapped[int] = mapped_column(index=True)  # runs.id
    last_run_id: Mapped[int]  # runs.id
    status: Mapped[str] = mapped_column(sa.String(20), default="new")
    assignee: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime]
    # the region the lead was handed to (revision 0007); None: its watch target's region (queries.REGION)
    region: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (
        sa.UniqueConstraint("subject", "subject_id", "pack", "rule", name="uq_leads_subject_rule"),
        # the workbench's lead queue (revision 0007): its triage order read from an index, its counts per
        # filter from a covering index instead of the wide rows
        sa.Index("ix_leads_triage", "severity_rank", "last_seen"),
        sa.Index("ix_leads_facets", "status", "category", "region", "severity_rank", "shop_id"),
    )


class LeadHit(Base):
    """Where a run found a lead's text: the evidence behind each sighting."""

    __tablename__ = "lead_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(index=True)  # runs.id
    field: Mapped[str] = mapped_column(sa.String(100))
    start: Mapped[int]
    end: Mapped[int]
    match: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[str | None] = mapped_column(sa.Text)
    # The WARC record of the page this sighting was found on (netwatch.domain.capture.RecordPointer), if archived
    warc_file: Mapped[str | None] = mapped_column(sa.Text)
    warc_offset: Mapped[int | None] = mapped_column(sa.BigInteger)
    warc_length: Mapped[int | None]
    warc_sha256: Mapped[str | None] = mapped_column(sa.String(80))

    __table_args__ = (
        sa.UniqueConstraint("lead_id", "run_id", "field", "start", "end", name="uq_lead_hits_position"),
    )
