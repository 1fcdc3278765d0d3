"""A page read through a site profile: the page rule that fits its URL decides shop, listing or nothing.

The profile spider, `netwatch scan --profile` and the tests on saved pages all call `read_page`.
"""

from __future__ import annotations

from netwatch.domain.items import Listing, Shop
from netwatch.extract import Page, extract_listing, extract_shop, item_id_from_url
from netwatch.sites.profile import PageRule, SiteProfile


def read_page(
    page: Page, profile: SiteProfile, matched: tuple[PageRule, dict[str, str]] | None = None
) -> Listing | Shop | None:
    """The item on the page, or None (no rule, a rule without item, or a listing page without a title)."""
    matched = matched or profile.rule_for(page.url)
    if matched is None:
        return None
    rule, ids = matched
    if rule.item == "shop":
        return extract_shop(page, profile.key, ids.get("shop_id") or item_id_from_url(page.url), rule.fields)
    if rule.item != "listing":
        return None
    listing = extract_listing(page, profile.key, rule.fields or None, canonical_id=ids.get("item_id"),
                              require_product=False)
    if listing is None or not listing.title:
        return None
    if listing.shop_id is None and ids.get("shop_id"):
        listing.shop_id = ids["shop_id"]
    return listing
