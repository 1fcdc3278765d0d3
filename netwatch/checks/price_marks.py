"""Price-mark checks that one crawl can make: the price a list or front page shows must not be lower than the
price on the detail page — a bait price. Title, severity and legal basis: rules/checks/price_marks.yaml.

Checks that need price history (a comparison price above the seven-day low) run in the store, which keeps the
snapshots (netwatch.analysis.price_history).
"""

from __future__ import annotations

from netwatch.checks.definitions import check_definition
from netwatch.checks.text import Hit
from netwatch.domain.items import Listing

PACK = "price_marks"
RULE = "list_price_below_detail_price"
# Rounding on list pages ("¥99" for 99.00) is not a bait price; a cent's difference is.
TOLERANCE = 0.005


def check_listing(listing: Listing) -> list[Hit]:
    if listing.list_price is None or listing.price is None:
        return []
    if listing.list_price >= listing.price - TOLERANCE:
        return []
    match = f"列表页 ¥{listing.list_price:.2f} < 详情页 ¥{listing.price:.2f}"
    definition = check_definition(PACK)
    rule = definition.rule(RULE)
    return [Hit(pack=PACK, rule=RULE, category=definition.category, severity=rule.severity,
                field="price", start=0, end=len(match), match=match,
                context=f"{listing.title or ''} — {listing.url}", legal_basis=rule.legal_basis)]
