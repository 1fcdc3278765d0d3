"""Tables of what follows a lead (issue #19): the identifiers shops display and the seller groups they make,
re-check outcomes, random-inspection draws (双随机) and campaign watches. One Alembic revision (0008).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from netwatch.store.models import Base


class ShopIdentifier(Base):
    """A contact or identity detail a shop's page displayed when last crawled (netwatch.checks.identities)."""

    __tablename__ = "shop_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_ref: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    value: Mapped[str] = mapped_column(sa.String(200))  # normalised
    shown: Mapped[str] = mapped_column(sa.Text)  # as displayed: the evidence
    seen_at: Mapped[datetime]
    run_id: Mapped[int]  # runs.id that saw it (no foreign key, as elsewhere)

    __table_args__ = (
        sa.UniqueConstraint("shop_ref", "kind", "value", name="uq_shop_identifiers_shop_kind_value"),
        sa.Index("ix_shop_identifiers_kind_value", "kind", "value"),
    )


class SellerGroup(Base):
    """A shop's seller group: shops linked, directly or through others, by a shared identifier. Rewritten
    after each run that stored shops; group_id is the smallest shops.id of the group. Lone shops have no row."""

    __tablename__ = "seller_groups"

    shop_ref: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    group_id: Mapped[int] = mapped_column(index=True)


class LeadRecheck(Base):
    """One re-check of a lead's page: still there, changed (the violating text gone), gone (404, delisted),
    unreachable (the site did not answer: says nothing about the lead), reappeared (a resolved lead's text back)."""

    __tablename__ = "lead_rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None]  # the re-check's crawl run (runs.id)
    checked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(sa.String(20))
    lead_status: Mapped[str] = mapped_column(sa.String(20))  # the lead's status when it was re-checked
    detail: Mapped[str | None] = mapped_column(sa.Text)


class Sample(Base):
    """A random-inspection draw (双随机) with what it takes to re-derive it and to tell a changed population."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # shops or listings
    filters: Mapped[dict]
    size: Mapped[int]
    seed: Mapped[str] = mapped_column(sa.String(100))
    population_size: Mapped[int]
    population_hash: Mapped[str] = mapped_column(sa.String(64))  # sha256 of the sorted member keys
    population: Mapped[dict]  # {"members": [[key, region], …]}: the draw is re-derived from it
    inspectors: Mapped[dict | None]  # {"names": [[name, region], …], "exclude_own_region": bool, "per_task": n}
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(200))


class SampleMember(Base):
    __tablename__ = "sample_members"

    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_key: Mapped[str] = mapped_column(sa.String(2200))  # platform/shop_id or platform/canonical_id
    region: Mapped[str] = mapped_column(sa.String(100))
    inspectors: Mapped[str | None] = mapped_column(sa.String(1000))  # "、"-joined names


class Campaign(Base):
    """A promotion period watched harder: a watch tag crawled on its own schedule within a date window, with
    tightened price rules."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    tag: Mapped[str] = mapped_column(sa.String(200))
    starts_on: Mapped[datetime]  # local dates at 00:00, in the configured zone
    ends_on: Mapped[datetime]  # inclusive: the window ends at the end of this day
    every_hours: Mapped[int]
    rules: Mapped[dict | None]  # e.g. {"max_discount": 0.5}
    created_at: Mapped[datetime]
