"""Seller networks: shops linked when they display the same identifier (a phone number, a WeChat id, a
统一社会信用代码, an ICP filing, an analytics id…), grouped transitively (union-find): A shares a phone with B
and B a credit code with C, so A, B and C are one group, and each link is listed as evidence.

The identifiers are those the shop's page showed when last crawled (netwatch.checks.identities reads them, the
batch write replaces a shop's set). Groups are recomputed once after each run (netwatch.analysis.post_run).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from netwatch.domain.items import Shop
from netwatch.store.bulk import Upsert, upsert_values
from netwatch.store.followup_models import SellerGroup, ShopIdentifier
from netwatch.store.models import Lead, ShopRow

IDENTIFIERS = Upsert(ShopIdentifier.__table__, ("shop_ref", "kind", "value", "shown"), ("shop_ref", "kind", "value"),
                     constants=("seen_at", "run_id"))


def write_identifiers(conn: sa.Connection, run_id: int, now: datetime, shops: Mapping[tuple[str, str], Shop],
                      shop_ids: Mapping[tuple, int]) -> None:
    """A shop page seen now says what the shop displays now: its identifiers replace the stored ones."""
    refs = sorted(shop_ids[key] for key in shops if key in shop_ids)
    if not refs:
        return
    conn.execute(sa.delete(ShopIdentifier).where(ShopIdentifier.shop_ref.in_(refs)))
    rows = [(shop_ids[key], kind, value[:200], shown) for key, shop in sorted(shops.items()) if key in shop_ids
            for kind, value, shown in dict.fromkeys(tuple(i) for i in shop.identifiers)]
    # the store's batch upsert (netwatch.store.bulk): several times faster than an ORM insert of dicts
    upsert_values(conn, IDENTIFIERS, rows, constants={"seen_at": now, "run_id": run_id})


def _union_find(links: Mapping[tuple[str, str], list[int]]) -> dict[int, int]:
    """shop ref -> the smallest shop ref of its group, for every shop sharing an identifier with another."""
    parent: dict[int, int] = {}

    def find(ref: int) -> int:
        parent.setdefault(ref, ref)
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]  # path halving
            ref = parent[ref]
        return ref

    for refs in links.values():
        first = find(refs[0])
        for other in refs[1:]:
            root = find(other)
            if root != first:
                first, root = min(first, root), max(first, root)
                parent[root] = first
    return {ref: find(ref) for ref in list(parent)}


def shared_identifiers(conn: sa.Connection) -> dict[tuple[str, str], list[int]]:
    """(kind, value) -> the shops displaying it, for identifiers at least two shops display."""
    shared = sa.select(ShopIdentifier.kind, ShopIdentifier.value).group_by(ShopIdentifier.kind, ShopIdentifier.value) \
        .having(sa.func.count(sa.distinct(ShopIdentifier.shop_ref)) > 1).subquery()
    links: dict[tuple[str, str], list[int]] = defaultdict(list)
    for kind, value, ref in conn.execute(
            sa.select(ShopIdentifier.kind, ShopIdentifier.value, ShopIdentifier.shop_ref)
            .join(shared, sa.and_(shared.c.kind == ShopIdentifier.kind, shared.c.value == ShopIdentifier.value))
            .order_by(ShopIdentifier.kind, ShopIdentifier.value, ShopIdentifier.shop_ref)):
        links[(kind, value)].append(ref)
    return dict(links)


def refresh_groups(conn: sa.Connection) -> int:
    """Rewrite seller_groups from the stored identifiers; returns how many groups there are."""
    groups = _union_find(shared_identifiers(conn))
    conn.execute(sa.delete(SellerGroup))
    if groups:
        conn.execute(sa.insert(SellerGroup), [{"shop_ref": ref, "group_id": group} for ref, group in sorted(groups.items())])
    return len(set(groups.values()))


def group_details(conn: sa.Connection, group_id: int) -> dict[str, Any]:
    """A group's shops (with their leads per platform) and the identifiers linking them, each with the shops
    showing it and how they showed it."""
    refs = list(conn.scalars(sa.select(SellerGroup.shop_ref).where(SellerGroup.group_id == group_id)
                             .order_by(SellerGroup.shop_ref)))
    shops = [dict(row) for row in conn.execute(
        sa.select(ShopRow.id, ShopRow.platform, ShopRow.shop_id, ShopRow.name, ShopRow.url)
        .where(ShopRow.id.in_(refs)).order_by(ShopRow.id)).mappings()]
    leads = dict(conn.execute(sa.select(Lead.shop_id, sa.func.count()).where(Lead.shop_id.in_(refs))
                              .group_by(Lead.shop_id)).all())
    for shop in shops:
        shop["leads"] = leads.get(shop["id"], 0)
    evidence: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(sa.select(ShopIdentifier.kind, ShopIdentifier.value, ShopIdentifier.shop_ref,
                                      ShopIdentifier.shown, ShopIdentifier.seen_at)
                            .where(ShopIdentifier.shop_ref.in_(refs))
                            .order_by(ShopIdentifier.kind, ShopIdentifier.value, ShopIdentifier.shop_ref)).mappings():
        evidence[(row["kind"], row["value"])].append(
            {"shop_ref": row["shop_ref"], "shown": row["shown"], "seen_at": row["seen_at"]})
    links = [{"kind": kind, "value": value, "shops": showing}
             for (kind, value), showing in evidence.items() if len(showing) > 1]
    return {"group_id": group_id, "shops": shops, "links": links}


def all_groups(conn: sa.Connection) -> list[dict[str, Any]]:
    return [group_details(conn, group_id) for group_id in
            conn.scalars(sa.select(SellerGroup.group_id).distinct().order_by(SellerGroup.group_id))]


def group_of(conn: sa.Connection, shop_ref: int) -> int | None:
    return conn.scalar(sa.select(SellerGroup.group_id).where(SellerGroup.shop_ref == shop_ref))


def find_shops(conn: sa.Connection, spec: str) -> list[dict[str, Any]]:
    """Shops a user named: `platform/shop_id`, a shops.id, or (part of) a name."""
    columns = (ShopRow.id, ShopRow.platform, ShopRow.shop_id, ShopRow.name)
    if "/" in spec:
        platform, _, shop_id = spec.partition("/")
        where = sa.and_(ShopRow.platform == platform, ShopRow.shop_id == shop_id)
    elif spec.isdigit():
        where = ShopRow.id == int(spec)
    else:
        where = ShopRow.name.contains(spec, autoescape=True)
    return [dict(row) for row in conn.execute(sa.select(*columns).where(where).order_by(ShopRow.id)).mappings()]
