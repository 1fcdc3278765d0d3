"""The one item path: every listing and shop, whichever door it came in by (crawl, `netwatch scan`,
`netwatch import`), goes through these steps, so all three find the same hits in the same item:

1. clean text (netwatch.domain.text.clean_text): scraped noise out; the rules read the cleaned text, and
   each hit's offsets, match and context are then shown on the text as it came in (what the page said);
2. text rules (netwatch.checks.text): a listing's title, description, specs (as "key: value" lines) and
   each review (field `review`), with its category hints as product categories; a shop's name
   (`shop_name`) and text (`shop_text`);
3. licence display (netwatch.checks.licence.check_shop) for shops, and the contact and identity details they
   display (netwatch.checks.identities, into `shop.identifiers`: the store links shops sharing one);
4. price marks (netwatch.checks.price_marks.check_listing) for listings.

Plain Python: no Scrapy. Hits are appended to `item.hits`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netwatch.checks.identities import shop_identifiers
from netwatch.checks.licence import check_shop
from netwatch.checks.price_marks import check_listing
from netwatch.checks.text import Hit, RuleEngine, default_engine
from netwatch.checks.text.engine import CONTEXT_CHARS
from netwatch.domain.items import Listing, Shop
from netwatch.domain.text import clean_text, clean_text_mapped

CHECKED_TYPES = (Listing, Shop)  # other items (ListingSeen, …) pass through unchanged


def process(item: Any, engine: RuleEngine | None = None) -> list[Hit]:
    """Run the item path over one item; returns the hits it appended to `item.hits` (for per-category
    counts), [] for an item of another type, which is left as it is. `engine`: the process default
    (netwatch.config.rules_dir()) unless given."""
    if not isinstance(item, CHECKED_TYPES):
        return []
    engine = engine or default_engine()
    if isinstance(item, Listing):
        originals = {"title": item.title, "description": item.description}
        reviews = [review.text for review in item.reviews]
        clean(item)
        hits = listing_text_hits(item, engine, originals, reviews) + check_listing(item)
    else:
        originals = {"shop_name": item.name, "shop_text": item.text}
        clean(item)
        hits = [on_original(hit, originals.get(hit.field))
                for hit in engine.check_fields({"shop_name": item.name, "shop_text": item.text})] + check_shop(item)
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


def listing_text_hits(listing: Listing, engine: RuleEngine, originals: dict[str, str | None] | None = None,
                      reviews: list[str] | None = None) -> list[Hit]:
    """The text rules' hits in a cleaned listing; `originals` (field -> text before cleaning) and `reviews`
    (review texts before cleaning) put each hit back on the text as it came in. Specs are read as the
    "key: value" lines they are joined into."""
    categories = frozenset(listing.category_hints or ())
    originals = originals or {}
    fields = {
        "title": listing.title,
        "description": listing.description,
        "specs": "\n".join(f"{key}: {value}" for key, value in (listing.specs or {}).items()),
    }
    hits = [on_original(hit, originals.get(hit.field)) for hit in engine.check_fields(fields, categories)]
    for index, review in enumerate(listing.reviews or ()):
        original = reviews[index] if reviews and index < len(reviews) else None
        hits.extend(on_original(hit, original) for hit in engine.check(review.text, "review", categories))
    return hits


def on_original(hit: Hit, original: str | None) -> Hit:
    """`hit`, found in the cleaned text of `original`, with its offsets, match and context on `original`
    (an analyst must find the words on the page: 網(wǎng)站 as it was written, not 網站)."""
    if not original:
        return hit
    cleaned, spans = clean_text_mapped(original)
    if cleaned == original or hit.end > len(spans):
        return hit
    start, end = spans[hit.start][0], spans[hit.end - 1][1]
    return replace(hit, start=start, end=end, match=original[start:end],
                   context=original[max(0, start - CONTEXT_CHARS) : end + CONTEXT_CHARS])
