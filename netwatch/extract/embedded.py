"""Listing fields from the JSON state a page embeds for its own scripts.

Chinese marketplaces render their item pages from a JSON object in the page (Taobao's `g_page_config`,
Tmall's `TShop.Setup(...)`, `window.__INITIAL_STATE__`, `window.rawData`, Next.js's `__NEXT_DATA__`) and
show no schema.org markup: the title and price are only there. The object is found by its variable name,
cut out by bracket matching (strings skipped), parsed as JSON, and searched for the one object that names a
product and its price. Several such objects side by side (a search page's `auctions`) are a grid of cards,
not one product.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from netwatch.extract.fields import clean_text
from netwatch.extract.prices import parse_price

logger = logging.getLogger(__name__)

# `name = {` / `name: {` / `Name({` where the page's state starts; the JSON object follows.
_STATE_START = re.compile(
    r"(?:g_page_config|__INITIAL_STATE__|__INITIAL_DATA__|__INIT_DATA|__PRELOADED_STATE__|__NUXT__|rawData"
    r"|__APOLLO_STATE__|TShop\.Setup|pageConfig)\s*(?:=|\(|:)\s*(?=\{)"
)
_NEXT_DATA = re.compile(r'<script[^>]*id=["\']__NEXT_DATA__["\'][^>]*>(.*?)</script>', re.DOTALL | re.IGNORECASE)
MAX_STATE_CHARS = 4_000_000  # a state object larger than this is not parsed (a hostile page's megabytes)
MAX_DEPTH = 60

_TITLE_KEYS = ("title", "itemTitle", "raw_title", "goodsName", "productName", "skuName", "name", "itemName")
_PRICE_KEYS = (
    "promotionPrice", "salePrice", "sale_price", "finalPrice", "currentPrice", "minGroupPrice", "view_price",
    "price", "priceText", "defaultPrice", "sellPrice", "actualPrice", "minPrice",
)
_ORIGINAL_KEYS = ("reservePrice", "originalPrice", "original_price", "marketPrice", "linePrice", "oldPrice",
                  "listPrice", "tagPrice", "normalPrice")
_CURRENCY_KEYS = ("currency", "currencyCode", "priceCurrency")


def _balanced_object(text: str, start: int) -> str | None:
    """The JSON object starting at text[start] ('{'), up to its matching '}' (strings skipped)."""
    depth, index, end = 0, start, min(len(text), start + MAX_STATE_CHARS)
    in_string, quote = False, ""
    while index < end:
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == quote:
                in_string = False
        elif char in "\"'":
            in_string, quote = True, char
        elif char == "{":
            depth += 1
            if depth > MAX_DEPTH:
                return None
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
        index += 1
    return None


def embedded_states(html: str) -> Iterator[Any]:
    """Each parseable state object of the page."""
    for match in _NEXT_DATA.finditer(html):
        try:
            yield json.loads(match.group(1))
        except ValueError:
            logger.debug("unreadable __NEXT_DATA__")
    for match in _STATE_START.finditer(html):
        blob = _balanced_object(html, match.end())
        if blob is None:
            continue
        try:
            yield json.loads(blob)
        except (ValueError, RecursionError):
            continue  # JavaScript, not JSON (unquoted keys, functions): nothing we can trust


def _walk(value: Any, depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield value, depth
        for child in value.values():
            yield from _walk(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, depth + 1)


def _first_text(node: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = node.get(key)
        if isinstance(value, str) and clean_text(value):
            return clean_text(value)
    return None


def _first_price(node: dict[str, Any], keys: tuple[str, ...], currency: str | None) -> tuple[float | None, str | None]:
    for key in keys:
        value = node.get(key)
        if isinstance(value, dict):  # {"price": {"amount": 12.5, "currency": "CNY"}}
            currency = _first_text(value, _CURRENCY_KEYS) or currency
            value = value.get("amount") or value.get("value") or value.get("priceText") or value.get("price")
        if isinstance(value, bool) or value in (None, ""):
            continue
        if isinstance(value, (int, float, str)):
            amount, found = parse_price(value if not isinstance(value, str) else value.strip(), currency)
            if amount is not None and amount > 0:
                return amount, found
    return None, None


def _product_nodes(state: Any) -> list[tuple[dict[str, Any], int]]:
    return [(node, depth) for node, depth in _walk(state)
            if _first_text(node, _TITLE_KEYS) and _first_price(node, _PRICE_KEYS, None)[0] is not None]


def embedded_fields(html: str) -> dict[str, Any] | None:
    """The main product's fields from the page's state, or None. `cards` counts product-like objects that
    sit side by side in one list (a grid)."""
    if "{" not in html:
        return None
    best: tuple[dict[str, Any], int] | None = None
    cards = 0
    for state in embedded_states(html):
        nodes = _product_nodes(state)
        if not nodes:
            continue
        cards = max(cards, _largest_sibling_group(state))
        shallowest = min(nodes, key=lambda pair: pair[1])
        if best is None or shallowest[1] < best[1]:
            best = shallowest
    if best is None:
        return None
    node = best[0]
    currency = _first_text(node, _CURRENCY_KEYS)
    price, found_currency = _first_price(node, _PRICE_KEYS, currency)
    original, _ = _first_price(node, _ORIGINAL_KEYS, currency)
    return {
        "title": _first_text(node, _TITLE_KEYS),
        "price": price,
        "currency": found_currency or ("CNY" if currency is None and _looks_chinese(html) else None),
        "original_price": original if original is not None and price is not None and original > price else None,
        "cards": cards,
    }


def _largest_sibling_group(state: Any) -> int:
    """The most product-like objects found in one list: a search or category page's cards."""
    largest = 0
    stack = [state]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            products = sum(1 for child in value if isinstance(child, dict) and _first_text(child, _TITLE_KEYS)
                           and _first_price(child, _PRICE_KEYS, None)[0] is not None)
            largest = max(largest, products)
            stack.extend(value)
    return largest


_HAN = re.compile(r"[\u4e00-\u9fff]")


def _looks_chinese(html: str) -> bool:
    return len(_HAN.findall(html[:200_000])) >= 4  # a page in Chinese: an unlabelled price is in yuan
