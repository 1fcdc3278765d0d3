"""The one item path: every listing and shop, whichever door it came in by (crawl, `netwatch scan`,
`netwatch import`), goes through these steps, so all three find the same hits in the same item:

1. clean text (netwatch.domain.text.clean_text): scraped noise out, offsets then refer to the cleaned text;
2. text rules (netwatch.checks.text): a listing's title, description, specs (as "key: value" lines) and
   each review (field `review`), with its category hints as product categories; a shop's name
   (`shop_name`) and text (`shop_text`);
3. licence display (netwatch.checks.licence.check_shop) for shops, and the contact and identity details they
   display (netwatch.checks.identities, into `shop.identifiers`: the store links shops sharing one);
4. price marks (netwatch.checks.price_marks.check_listing) for listings.

Plain Python: no Scrapy. Hits are appended to `item.hits`.
"""

from __future__ import annotations

from typing import Any

from netwatch.checks.identities import shop_identifiers
from netwatch.checks.licence import check_shop
from netwatch.checks.price_marks import check_listing
from netwatch.checks.text import Hit, RuleEngine, default_engine
from netwatch.domain.items import Listing, Shop
from netwatch.domain.text import clean_text

CHECKED_TYPES = (Listing, Shop)  # other items (ListingSeen, …) pass through unchanged


def process(item: Any, engine: RuleEngine | None = None) -> list[Hit]:
    """Run the item path over one item; returns the hits it appended to `item.hits` (for per-category
    counts), [] for an item of another type, which is left as it is. `engine`: the process default
    (netwatch.config.rules_dir()) unless given."""
    if not isinstance(item, CHECKED_TYPES):
        return []
    engine = engine or default_engine()
    clean(item)
    if isinstance(item, Listing):
        hits = listing_text_hits(item, engine) + check_listing(item)
    else:
        hits = engine.check_fields({"shop_name": item.name, "shop_text": item.text}) + check_shop(item)
        item.identifiers = [tuple(identifier) for identifier in shop_identifiers(item)]
    item.hits.extend(hits)
    return hits


def clean(item: Listing | Shop) -> None:
    if isinstance(item, Listing):
        item.title = clean_text(item.title)
        item.description = clean_text(item.description)
        item.shop_name = clean_text(item.shop_name)
        item.specs = {clean_text(k) or k: clean_text(v) or "" for k, v in item.specs.items()}
        for review in item.reviews:
            review.text = clean_text(review.text) or ""
    else:
        item.name = clean_text(item.name)
        item.text = clean_text(item.text)
        item.licence_text = clean_text(item.licence_text)
        item.contact = clean_text(item.contact)


def listing_text_hits(listing: Listing, engine: RuleEngine) -> list[Hit]:
    categories = frozenset(listing.category_hints or ())
    fields = {
        "title": listing.title,
        "description": listing.description,
        "specs": "\n".join(f"{key}: {value}" for key, value in (listing.specs or {}).items()),
    }
    hits = engine.check_fields(fields, categories)
    for review in listing.reviews or ():
        hits.extend(engine.check(review.text, "review", categories))
    return hits
