"""Random inspections (双随机) in the store: the population a draw is made from, and the draws kept with what
re-deriving them takes (netwatch.ops.sampling draws; this module reads and records)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from netwatch.store.followup_models import Sample, SampleMember
from netwatch.store.models import Lead, ListingRow, ShopRow
from netwatch.store.schema import StoreError

KINDS = ("shops", "listings")


def population(conn: sa.Connection, kind: str, platforms: Sequence[str] | None,
               categories: Sequence[str] | None) -> list[dict[str, Any]]:
    """The shops (or active listings) of these platforms (None: all), with a lead in one of these categories
    if given; each as {key, platform, name, url}, sorted by key."""
    if kind not in KINDS:
        raise StoreError(f"unknown kind {kind!r}: use shops or listings")
    table = ShopRow if kind == "shops" else ListingRow
    ident = ShopRow.shop_id if kind == "shops" else ListingRow.canonical_id
    name = ShopRow.name if kind == "shops" else ListingRow.title
    query = sa.select(table.platform, ident.label("ident"), name.label("name"), table.url)
    if kind == "listings":
        query = query.where(ListingRow.active.is_(True))
    if platforms is not None:
        query = query.where(table.platform.in_(list(platforms)))
    if categories:
        subject = Lead.shop_id if kind == "shops" else Lead.listing_id
        query = query.where(table.id.in_(sa.select(subject).where(Lead.category.in_(list(categories)))))
    rows = [{"key": f"{row.platform}/{row.ident}", "platform": row.platform, "name": row.name, "url": row.url}
            for row in conn.execute(query)]
    return sorted(rows, key=lambda row: row["key"])


def save(conn: sa.Connection, values: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> int:
    sample_id = conn.scalar(sa.insert(Sample).values(**values).returning(Sample.id))
    if members:
        conn.execute(sa.insert(SampleMember), [{"sample_id": sample_id, "position": n, **member}
                                               for n, member in enumerate(members, start=1)])
    return sample_id


def load(conn: sa.Connection, sample_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(Sample).where(Sample.id == sample_id)).mappings().one_or_none()
    if row is None:
        raise StoreError(f"there is no sample {sample_id}")
    sample = dict(row)
    sample["members"] = [dict(member) for member in conn.execute(
        sa.select(SampleMember.position, SampleMember.member_key, SampleMember.region, SampleMember.inspectors)
        .where(SampleMember.sample_id == sample_id).order_by(SampleMember.position)).mappings()]
    return sample


def describe_members(conn: sa.Connection, kind: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """key -> {name, url} of the members still in the store (for the task list)."""
    wanted = set(keys)
    return {row["key"]: row for row in population(conn, kind, sorted({key.split("/", 1)[0] for key in keys}), None)
            if row["key"] in wanted}
