"""Listing fields from structured markup: schema.org (JSON-LD, microdata, RDFa) and Open Graph, via extruct.

JSON-LD blocks are read one by one (extruct drops every block of a page when one is malformed), and a
block nested deeper than MAX_JSON_DEPTH is refused before it is parsed (a hostile page's 100k-deep block
would otherwise end in a RecursionError).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import extruct

from netwatch.extract.fields import clean_text
from netwatch.extract.page import Page
from netwatch.extract.prices import currency_code, parse_price

logger = logging.getLogger(__name__)

PRODUCT_TYPES = {"Product", "IndividualProduct", "ProductModel", "ProductGroup", "SomeProducts", "Book", "Vehicle"}
_OG_PRICE_KEYS = ("product:price:amount", "og:price:amount", "product:sale_price:amount")
_OG_ORIGINAL_KEYS = ("product:original_price:amount", "og:price:standard_amount", "product:price:standard_amount")
MAX_JSON_DEPTH = 100  # real schema.org markup nests under 20 deep; _walk and json recurse per level
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _types(node: dict[str, Any]) -> set[str]:
    declared = node.get("@type") or []
    declared = declared if isinstance(declared, list) else [declared]
    return {str(t).rsplit("/", 1)[-1].rsplit("#", 1)[-1] for t in declared}


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _first(value: Any) -> Any:
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value")
    return clean_text(str(value)) if value not in (None, "", {}) else None


def _urls(value: Any) -> list[str]:
    found = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("url") or item.get("contentUrl") or item.get("@id")
        if isinstance(item, str) and item.strip():
            found.append(item.strip())
    return found


def _offer_price(offers: Any) -> tuple[float | None, str | None, float | None]:
    """(price, currency, comparison price) of the first offer that states a price."""
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        currency = _text(offer.get("priceCurrency"))
        for key in ("price", "lowPrice"):
            raw = _first(offer.get(key))
            if raw in (None, "", {}):
                continue
            amount, found_currency = parse_price(raw if isinstance(raw, (int, float)) else str(raw), currency)
            if amount is not None:
                original = None
                for spec in _walk(offer.get("priceSpecification")):
                    price_type = str(spec.get("priceType") or "")
                    if "ListPrice" in price_type or "StrikethroughPrice" in price_type:
                        original, _ = parse_price(_first(spec.get("price")))
                return amount, currency_code(currency) or found_currency, original
        # an Offer nested one level deeper (AggregateOffer.offers)
        if offer.get("offers"):
            nested = _offer_price(offer["offers"])
            if nested[0] is not None:
                return nested
    return None, None, None


def _reviews(value: Any) -> list[dict[str, Any]]:
    reviews = []
    for review in value if isinstance(value, list) else [value]:
        if not isinstance(review, dict):
            continue
        text = _text(review.get("reviewBody")) or _text(review.get("description")) or _text(review.get("name"))
        if not text:
            continue
        rating = review.get("reviewRating")
        rating_value = _first(rating.get("ratingValue")) if isinstance(rating, dict) else None
        try:
            rating_value = float(rating_value) if rating_value not in (None, "") else None
        except (TypeError, ValueError):
            rating_value = None
        reviews.append({
            "text": text,
            "reviewer": _text(review.get("author")),
            "rating": rating_value,
            "time": _text(review.get("datePublished")) or _text(review.get("dateCreated")),
            "review_id": _text(review.get("@id")) or _text(review.get("identifier")),
        })
    return reviews


def _product_fields(product: dict[str, Any]) -> dict[str, Any]:
    price, currency, original = _offer_price(product.get("offers"))
    specs = {}
    for key in ("brand", "sku", "mpn", "gtin13", "gtin", "model"):
        value = _text(product.get(key))
        if value:
            specs[key] = value
    for prop in _walk(product.get("additionalProperty")):
        name, value = _text(prop.get("name")), _text(prop.get("value"))
        if name and value:
            specs[name] = value
    offers = _first(product.get("offers"))
    seller = _text(offers.get("seller")) if isinstance(offers, dict) else None
    category = _text(product.get("category"))
    return {
        "title": _text(product.get("name")),
        "description": _text(product.get("description")),
        "images": _urls(product.get("image")),
        "price": price,
        "currency": currency,
        "original_price": original,
        "has_offer": product.get("offers") not in (None, [], {}),
        "specs": specs,
        "category_hints": [category] if category else [],
        "shop_name": seller,
        "reviews": _reviews(product.get("review") or product.get("reviews")),
    }


def _main_product(items: list[Any]) -> tuple[dict[str, Any] | None, int]:
    """The page's main product and how many named products the markup holds (many: a listing's cards)."""
    products = [node for node in _walk(items) if _types(node) & PRODUCT_TYPES]
    if not products:
        return None, 0
    with_offers = [p for p in products if p.get("offers") and p.get("name")]
    named = [p for p in products if p.get("name")]
    # a product's variants (ProductGroup.hasVariant) are one product, not a grid
    variants = sum(len(p.get("hasVariant") or []) for p in products if isinstance(p.get("hasVariant"), list))
    return (with_offers or named or products)[0], max(1, len(named) - variants)


def _opengraph_fields(graphs: list[dict[str, Any]]) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for graph in graphs:
        for key, value in graph.items():
            tags.setdefault(key, value)
    og_type = str(tags.get("@type") or tags.get("og:type") or "")
    currency = _text(tags.get("product:price:currency")) or _text(tags.get("og:price:currency"))
    price = original = None
    for key in _OG_PRICE_KEYS:
        if tags.get(key):
            price, found = parse_price(_text(tags[key]), currency)
            currency = currency_code(currency) or found
            break
    for key in _OG_ORIGINAL_KEYS:
        if tags.get(key):
            original, _ = parse_price(_text(tags[key]), currency)
            break
    return {
        "is_product": "product" in og_type.lower() or price is not None,
        "title": _text(tags.get("og:title")),
        "description": _text(tags.get("og:description")),
        "images": _urls(tags.get("og:image")),
        "price": price,
        "currency": currency_code(currency),
        "original_price": original,
        "shop_name": _text(tags.get("og:site_name")),
    }


def _too_deep(text: str) -> bool:
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def json_ld_items(html: str, encoding: str = "UTF-8") -> tuple[list[Any], list[str]]:
    """Every readable JSON-LD item of the page, and one problem per block that was skipped."""
    from extruct.jsonld import JsonLdExtractor
    from extruct.utils import parse_html

    extractor = JsonLdExtractor()
    items: list[Any] = []
    problems: list[str] = []
    for number, node in enumerate(extractor._xp_jsonld(parse_html(html.encode("utf-8"), encoding=encoding)), start=1):
        where = f"JSON-LD block {number} (line {node.sourceline})"
        if _too_deep(node.xpath("string()")):
            problems.append(f"{where}: nested deeper than {MAX_JSON_DEPTH}, skipped")
            continue
        try:
            # extruct's reader of one block (JSON, then JSON with comments), so the blocks fail one at a time
            items.extend(item for item in extractor._extract_items(node) if item)
        except (ValueError, RecursionError) as exc:
            problems.append(f"{where}: not valid JSON ({exc}), skipped")
    return items, problems


def structured_sources(page: Page) -> list[tuple[str, dict[str, Any]]]:
    """Listing fields per source, best first: JSON-LD, microdata, RDFa, Open Graph. Product sources only."""
    html = page.text
    lowered = html.lower()
    # extruct parses the whole page again for each syntax: ask only for those whose marker is there
    # (most marketplace pages have none, and skipping extruct there is most of a page's parse time).
    markers = {"json-ld": "application/ld+json", "microdata": "itemscope", "opengraph": "og:", "rdfa": "typeof="}
    syntaxes = [syntax for syntax, marker in markers.items() if marker in lowered]
    if not syntaxes:
        return []
    data: dict[str, Any] = {}
    if "json-ld" in syntaxes:
        syntaxes.remove("json-ld")
        data["json-ld"], problems = json_ld_items(html)
        for problem in problems:
            logger.warning("%s: %s", page.url, problem)
    try:
        if syntaxes:
            data.update(extruct.extract(html.encode("utf-8"), base_url=page.url, encoding="UTF-8", syntaxes=syntaxes,
                                        uniform=True, errors="log"))
    except Exception as exc:  # noqa: BLE001 - extruct raises anything on broken markup; heuristics still run
        logger.warning("structured data unreadable on %s: %s", page.url, exc)
    sources = []
    for syntax in ("json-ld", "microdata", "rdfa"):
        product, count = _main_product(data.get(syntax) or [])
        if product is not None:
            sources.append((syntax, {**_product_fields(product), "products": count}))
    og = _opengraph_fields(data.get("opengraph") or [])
    if og.pop("is_product"):
        sources.append(("opengraph", og))
    return sources
