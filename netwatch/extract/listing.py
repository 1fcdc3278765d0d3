"""Page → Listing / Shop: structured data first, then the profile's selectors, then heuristics.

The one extraction path for spiders, `netwatch scan` and tests on saved pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import dateparser

from netwatch.domain.clock import utcnow_iso
from netwatch.domain.items import Listing, Review, Shop
from netwatch.extract.embedded import embedded_fields
from netwatch.extract.fields import FieldSpec, clean_text, extract_fields
from netwatch.extract.heuristics import heuristic_fields
from netwatch.extract.page import Page
from netwatch.extract.pagekind import PageKind, classify_page
from netwatch.extract.prices import parse_price
from netwatch.extract.structured import structured_sources

_GENERIC_SEGMENTS = {"product", "products", "item", "items", "detail", "details", "p", "dp", "index", "view", "pdp", "goods"}
_ID_PARAMS = ("id", "item", "itemid", "item_id", "product_id", "productid", "pid", "goods_id", "sku")
_LIST_FIELDS = {"images", "category_hints"}
_PROFILE_PRODUCT = PageKind("product", 0, 0, ["profile"])
_OTHER = PageKind("other", 0, 0, [])
_MERGED_FIELDS = ("shop_id", "title", "description", "shop_name", "images", "specs", "category_hints", "reviews")


def item_id_from_url(url: str) -> str:
    """The item id in a URL's path (never host or port): /item/8812 → 8812, /products/12.html → 12."""
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qs(parts.query).items()}
    for name in _ID_PARAMS:
        if query.get(name):
            return query[name][0]
    segments = [re.sub(r"\.(html?|php|aspx?|jsp)$", "", s) for s in parts.path.split("/") if s]
    meaningful = [s for s in segments if s.lower() not in _GENERIC_SEGMENTS]
    for segment in reversed(meaningful):
        if any(ch.isdigit() for ch in segment):
            return segment
    return meaningful[-1] if meaningful else (parts.path or "/")


def normalize_time(value: str | None) -> str | None:
    """Any shown date or time → ISO 8601 (UTC when the page gives no zone)."""
    if not value:
        return None
    try:  # most APIs send ISO 8601 already; dateparser is for the rest, and slow
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    except ValueError:
        pass
    parsed = dateparser.parse(value, settings={"TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True})
    return parsed.isoformat() if parsed else value


def make_review(fields: Mapping[str, Any]) -> Review | None:
    text = clean_text(str(fields.get("text") or "")) or None
    if not text:
        return None
    rating = fields.get("rating")
    try:
        rating = float(rating) if rating not in (None, "") else None
    except (TypeError, ValueError):
        rating = None
    review_id = fields.get("review_id")
    return Review(
        text=text,
        reviewer=None if fields.get("reviewer") is None else str(fields["reviewer"]),
        rating=rating,
        time=normalize_time(None if fields.get("time") is None else str(fields["time"])),
        review_id=None if review_id is None else str(review_id),
    )


def _merge(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """First non-empty value per field, best source first; a lower price found later is the sale price."""
    merged: dict[str, Any] = {}
    for source in sources:
        for name in _MERGED_FIELDS:
            if not merged.get(name) and source.get(name):
                merged[name] = source[name]
        if merged.get("original_price") is None and source.get("original_price"):
            merged["original_price"] = source["original_price"]
        price = source.get("price")
        if price is None:
            continue
        if merged.get("price") is None:
            merged["price"], merged["currency"] = price, source.get("currency")
            merged["original_price"] = merged.get("original_price") or source.get("original_price")
        elif price < merged["price"] and source.get("currency") in (None, merged.get("currency")):
            merged["original_price"] = merged.get("original_price") or merged["price"]
            merged["price"] = price
        merged["currency"] = merged.get("currency") or source.get("currency")
    return merged


def _coerce_selected(selected: dict[str, Any]) -> dict[str, Any]:
    """Selector strings → typed listing fields (prices parsed, lists as lists)."""
    fields = {k: v for k, v in selected.items() if v not in (None, "", [], {})}
    currency = fields.pop("currency", None)
    if "price" in fields:
        amount, found = parse_price(str(fields["price"]), currency)
        fields["price"], fields["currency"] = amount, found or currency
    elif currency:
        fields["currency"] = currency
    if "original_price" in fields:
        fields["original_price"] = parse_price(str(fields["original_price"]), currency)[0]
    for name in _LIST_FIELDS & fields.keys():
        if not isinstance(fields[name], list):
            fields[name] = [fields[name]]
    return fields


def listing_fields(page: Page, selectors: Mapping[str, FieldSpec] | None = None) -> tuple[dict[str, Any], PageKind]:
    """(merged fields, what kind of page) — profile selectors win, then markup, embedded state, heuristics."""
    chosen = [_coerce_selected(extract_fields(page.selector, selectors))] if selectors else []
    if page.is_json:  # an API answer: only the profile's json: specs can read it
        return _merge(chosen), _PROFILE_PRODUCT if chosen and chosen[0].get("title") else _OTHER
    sources = [fields for _, fields in structured_sources(page)]
    if chosen and chosen[0].get("title") and chosen[0].get("price") is not None:
        return _merge(chosen + sources), _PROFILE_PRODUCT  # the profile read the page: guessing would add nothing
    embedded = embedded_fields(page.text)
    declared_offer = any(s.get("has_offer") or s.get("price") is not None for s in sources)
    need_price = not declared_offer and not (embedded and embedded.get("price") is not None) and not any(
        s.get("price") is not None for s in chosen)
    heuristics = heuristic_fields(page.selector, with_price=need_price)
    structured_products = max((s.get("products", 1) for s in sources), default=0)
    kind = classify_page(page.selector, structured_products, embedded_cards=embedded["cards"] if embedded else 0,
                         has_embedded_product=embedded is not None, declared_offer=declared_offer,
                         buy_controls=heuristics["buy_buttons"])
    if chosen and chosen[0].get("title") and not kind.is_product:
        kind = _PROFILE_PRODUCT  # the profile's page rule says this is an item page
    merged = _merge(chosen + sources + ([embedded] if embedded else []) + [heuristics])
    return merged, kind


def page_kind(page: Page) -> PageKind:
    """Product, listing (a grid of cards) or other, as the generic spider needs to know to store or navigate."""
    return listing_fields(page)[1]


def extract_listing(
    page: Page,
    platform: str | None = None,
    selectors: Mapping[str, FieldSpec] | None = None,
    canonical_id: str | None = None,
    require_product: bool = True,
) -> Listing | None:
    """The listing on a product page, or None when the page is not one (unless require_product=False)."""
    fields, kind = listing_fields(page, selectors)
    if require_product and not (kind.is_product and fields.get("title")):
        return None
    price, original = fields.get("price"), fields.get("original_price")
    if original is not None and (price is None or original <= price):
        original = None  # a comparison price is only one above the price shown
    images = [urljoin(page.url, src) for src in fields.get("images") or []]
    category_hints = list(dict.fromkeys(str(c).strip().lower() for c in fields.get("category_hints") or [] if c))
    shop_id = fields.get("shop_id") if selectors else None
    reviews = [r for r in (make_review(x) for x in fields.get("reviews") or []) if r is not None]
    return Listing(
        url=page.url,
        canonical_id=canonical_id or item_id_from_url(page.url),
        platform=platform or page.host,
        shop_id=None if shop_id is None else str(shop_id),
        shop_name=fields.get("shop_name"),
        title=fields.get("title"),
        price=price,
        currency=fields.get("currency"),
        original_price=original,
        description=fields.get("description"),
        specs={str(k): str(v) for k, v in (fields.get("specs") or {}).items()},
        category_hints=category_hints,
        images=images,
        fetched_at=utcnow_iso(),
        content_hash=page.content_hash,
        reviews=reviews,
    )


def extract_shop(page: Page, platform: str, shop_id: str, selectors: Mapping[str, FieldSpec]) -> Shop:
    """A shop page through its profile's selectors (shops carry no standard markup)."""
    fields = extract_fields(page.selector, selectors)
    known = {name for name in Shop.__dataclass_fields__} - {"platform", "url", "fetched_at", "hits"}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"shop selectors name fields Shop does not have: {sorted(unknown)}")
    values = {k: v for k, v in fields.items() if v not in (None, "")}
    if isinstance(values.get("contact"), list):  # `all: true`: the contact block and, e.g., analytics script URLs
        values["contact"] = "\n".join(str(part) for part in values["contact"] if part) or None
    is_food = values.pop("is_food", False)
    values["is_food"] = is_food if isinstance(is_food, bool) else str(is_food).strip().lower() in {"true", "yes", "1"}
    values["shop_id"] = str(values.get("shop_id") or shop_id)
    return Shop(platform=platform, url=page.url, fetched_at=utcnow_iso(), **values)
