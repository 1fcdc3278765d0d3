"""A page read through a site profile: the page rule that fits its URL decides shop, listing or nothing; a list
page's rule may carry what it shows beside each link to the listing (`carried_links`, `list_fields`); a listing's
rule may name its review API (`review_api_url`, `read_reviews`, `next_review_url`).

The profile spider, `netwatch scan --profile`, `netwatch rescan` (from the archive) and the tests on saved pages
all read pages through here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from parsel import Selector
from w3lib.url import add_or_replace_parameter

from netwatch.domain.items import Listing, Review, Shop
from netwatch.domain.text import clean_text
from netwatch.extract import (
    Page,
    extract_field,
    extract_fields,
    extract_listing,
    extract_shop,
    item_id_from_url,
    make_review,
    parse_price,
)
from netwatch.sites.profile import PageRule, ReviewApi, SiteProfile


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


def carried_links(page: Page, rule: PageRule, join: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """Absolute URL -> the fields a list page shows beside its link (rule.carry); `join` makes a link absolute."""
    if rule.carry is None:
        return {}
    carried = {}
    for entry in page.selector.css(rule.carry.each):
        href = extract_field(entry, rule.carry.link)
        if href:
            carried[join(href)] = extract_fields(entry, rule.carry.fields)
    return carried


def list_fields(carry: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(list price, list title) as a list page shows them: the values stored and compared."""
    return parse_price(carry.get("list_price"))[0], clean_text(carry.get("list_title"))


def review_api_url(page: Page, rule: PageRule, ids: Mapping[str, str], join: Callable[[str], str]) -> str | None:
    """The first page of a listing's review API: named by the page, or the rule's fallback."""
    if rule.reviews is None:
        return None
    api = extract_field(page.selector, rule.reviews.api)
    if not api and rule.reviews.fallback_url:
        api = rule.reviews.fallback_url.format(**ids)
    return join(api) if api else None


def read_reviews(api: ReviewApi, text: str) -> tuple[list[Review], int | None]:
    """The reviews of one review-API page and the API's page count (None: not given); ValueError: not JSON."""
    document = Selector(root=json.loads(text), type="json")
    reviews = [review for entry in api.entries(document)
               if (review := make_review({field: entry.get(key) for field, key in api.fields.items()})) is not None]
    pages = api.page_count(document) if api.page_count else None
    return reviews, int(pages) if pages is not None else None


def next_review_url(api: ReviewApi, url: str, page_number: int, pages: int | None) -> str | None:
    """The review API's page after `page_number` (at `url`), or None after the last."""
    if pages is None or page_number >= pages:
        return None
    return add_or_replace_parameter(url, api.page_param, str(page_number + 1))
