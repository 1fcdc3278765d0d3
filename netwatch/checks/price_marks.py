"""Price-mark checks that one crawl can make (明码标价和禁止价格欺诈规定 第二十条(一)): the price a list
or front page shows must not be lower than the price on the detail page — a bait price.

Checks that need price history (a comparison price above the seven-day low, 第十六条/第十九条)
run in the store, which keeps the snapshots (netwatch.analysis.price_history).
"""

from __future__ import annotations

from netwatch.domain.items import Listing
from netwatch.checks.text import Hit

PACK = "price_marks"
CATEGORY = "price_fraud"
BASIS_BAIT = "明码标价和禁止价格欺诈规定 第二十条(一); 第十九条(二)"
# Rounding on list pages ("¥99" for 99.00) is not a bait price; a cent's difference is.
TOLERANCE = 0.005


def check_listing(listing: Listing) -> list[Hit]:
    if listing.list_price is None or listing.price is None:
        return []
    if listing.list_price >= listing.price - TOLERANCE:
        return []
    match = f"列表页 ¥{listing.list_price:.2f} < 详情页 ¥{listing.price:.2f}"
    return [Hit(pack=PACK, rule="list_price_below_detail_price", category=CATEGORY, severity="high",
                field="price", start=0, end=len(match), match=match,
                context=f"{listing.title or ''} — {listing.url}", legal_basis=BASIS_BAIT)]
