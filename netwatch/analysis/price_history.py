"""Price fraud from price history: a comparison price (原价 / 划线价) set or raised within the last seven
days and above the lowest price of those days (raising the marked price just before a discount; a false price
comparison). Title, severity and legal basis: rules/checks/price_history.yaml.

A comparison price that has stood unchanged for the whole window is not flagged: platforms explain
standing 划线价 as reference prices, and flagging every one would bury analysts; the pattern that
the rules target is the one that appears or rises before a "discount".

The store only knows listed prices, so a snapshot's price stands in for the "transaction price" of the
rule; an analyst confirms the lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from netwatch.checks.definitions import check_definition
from netwatch.store.models import Lead, ListingRow, Snapshot
from netwatch.store.writes import Sighting, upsert_leads, utcnow

PACK = "price_history"
RULE = "comparison_above_7day_low"
WINDOW = timedelta(days=7)


def _money(value: float) -> str:
    return f"¥{value:,.2f}"


def check_price_fraud(conn: sa.Connection, run_id: int, now: datetime | None = None) -> int:
    """Flag the run's listings whose comparison price beats the 7-day low of earlier runs; returns new leads."""
    current, earlier = sa.orm.aliased(Snapshot), sa.orm.aliased(Snapshot)
    if now is None:
        now = conn.scalar(sa.select(sa.func.max(Snapshot.fetched_at)).where(Snapshot.run_id == run_id)) or utcnow()
    rows = conn.execute(
        sa.select(current.listing_id, current.fetched_at, current.original_price, earlier.price,
                  earlier.fetched_at, ListingRow.shop_ref, earlier.original_price)
        .join(earlier, (earlier.listing_id == current.listing_id) & (earlier.run_id != current.run_id))
        .join(ListingRow, ListingRow.id == current.listing_id)
        .where(current.run_id == run_id, current.original_price.is_not(None), earlier.price.is_not(None),
               earlier.fetched_at < current.fetched_at, earlier.fetched_at >= now - WINDOW)
    ).all()

    lowest: dict[int, tuple] = {}  # listing id -> the row with the lowest earlier price
    raised: set[int] = set()  # listings whose comparison price was absent or lower within the window
    for row in rows:
        if row[6] is None or row[6] < row[2] - 0.005:
            raised.add(row[0])
        if row[3] < row[2] and (row[0] not in lowest or row[3] < lowest[row[0]][3]):
            lowest[row[0]] = row
    lowest = {listing_id: row for listing_id, row in lowest.items() if listing_id in raised}
    definition = check_definition(PACK)
    rule = definition.rule(RULE)
    sightings = []
    for listing_id, fetched_at, original, low, low_at, shop_ref, _ in lowest.values():
        match = f"原价 {_money(original)} > 7日最低价 {_money(low)}"
        context = (f"{fetched_at:%Y-%m-%d %H:%M} 标示原价 {_money(original)}；此前七日"
                   f"（{now - WINDOW:%Y-%m-%d} 起）最低售价 {_money(low)}（{low_at:%Y-%m-%d %H:%M}）")
        hit = {"pack": PACK, "rule": RULE, "category": definition.category, "severity": rule.severity,
               "field": "original_price", "start": 0, "end": len(match), "match": match, "context": context,
               "legal_basis": rule.legal_basis}
        sightings.append(Sighting("listing", listing_id, listing_id, shop_ref, fetched_at, [hit]))
    known = set(conn.scalars(sa.select(Lead.subject_id).where(
        Lead.subject == "listing", Lead.pack == PACK, Lead.rule == RULE, Lead.subject_id.in_(list(lowest)))))
    upsert_leads(conn, run_id, utcnow(), sightings)
    return len(set(lowest) - known)
