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

from netwatch.checks.definitions import check_definition
from netwatch.domain.clock import utcnow
from netwatch.store.price_reads import PricePair, last_fetched, price_pairs
from netwatch.store.writes import Sighting

PACK = "price_history"
RULE = "comparison_above_7day_low"
WINDOW = timedelta(days=7)


def _money(value: float) -> str:
    return f"¥{value:,.2f}"


def check_price_fraud(store, run_id: int, now: datetime | None = None,  # type: ignore[no-untyped-def]
                      window: timedelta = WINDOW) -> int:
    """Flag the run's listings whose comparison price beats the low of earlier runs within `window` (seven days;
    a campaign's rules may ask for a longer one); returns new leads."""
    if now is None:
        now = last_fetched(store, run_id) or utcnow()
    lowest: dict[int, PricePair] = {}  # listing id -> the pair with the lowest earlier price
    raised: set[int] = set()  # listings whose comparison price was absent or lower within the window
    for pair in price_pairs(store, run_id, since=now - window):
        if pair.earlier_original_price is None or pair.earlier_original_price < pair.original_price - 0.005:
            raised.add(pair.listing_id)
        if pair.earlier_price < pair.original_price and (
                pair.listing_id not in lowest or pair.earlier_price < lowest[pair.listing_id].earlier_price):
            lowest[pair.listing_id] = pair
    definition = check_definition(PACK)
    rule = definition.rule(RULE)
    sightings = []
    for listing_id, pair in lowest.items():
        if listing_id not in raised:
            continue
        original, low = pair.original_price, pair.earlier_price
        days = window.days
        match = f"原价 {_money(original)} > {days}日最低价 {_money(low)}"
        context = (f"{pair.fetched_at:%Y-%m-%d %H:%M} 标示原价 {_money(original)}；此前{days}日"
                   f"（{now - window:%Y-%m-%d} 起）最低售价 {_money(low)}（{pair.earlier_at:%Y-%m-%d %H:%M}）")
        hit = {"pack": PACK, "rule": RULE, "category": definition.category, "severity": rule.severity, "field": "original_price",
               "start": 0, "end": len(match), "match": match, "context": context, "legal_basis": rule.legal_basis}
        sightings.append(Sighting("listing", listing_id, listing_id, pair.shop_ref, pair.fetched_at, [hit]))
    return store.save_leads(run_id, sightings)
