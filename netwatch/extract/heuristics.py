"""Listing fields from pages without markup: the title heading, the price next to the buy button,
elements named "price", `itemprop` leftovers. Used after structured data, for what it left empty."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from parsel import Selector

from netwatch.extract.fields import clean_text, visible_text
from netwatch.extract.pagekind import BUY_WORDS, OUT_OF_STOCK_WORDS, PRICE_SHOWN
from netwatch.extract.prices import currency_code, parse_price

_TITLE_CANDIDATES = (
    "#productTitle", "[itemprop=name]", "h1[class*=title]", "h1[id*=title]", "h1[class*=name]", "h1",
)
# A price as shown (a currency sign before or after the number, 元) and the buy and sold-out words: shared
# with the page-kind score.
PRICE_TEXT = PRICE_SHOWN
_BUY_WORDS = re.compile(f"{BUY_WORDS.pattern}|{OUT_OF_STOCK_WORDS.pattern}|\\bbuy\\b", re.IGNORECASE)
_ORIGINAL_WORDS = re.compile(r"原价|原價|市场价|市場價|划线价|定价|was|list price|regular", re.IGNORECASE)
# Text nodes that are not the current price: struck-through, or labelled as a comparison price.
_STRUCK_CLASSES = ("old-price", "price-old", "oldprice", "was-price", "price-was", "original", "strike", "through",
                   "compare", "list-price", "listprice", "rrp", "basisprice", "a-text-price", "del-price")
# Tag tests are cheap in XPath; the class tests run in Python, once per element (an XPath testing 15 class
# names on every ancestor of every text node cost 10x the page's whole extraction).
_TEXT_NOT_STRUCK = etree.XPath(
    ".//text()[not(ancestor::del or ancestor::s or ancestor::strike or ancestor::script or ancestor::style"
    " or ancestor::option)]", smart_strings=True,
)


def _struck_by_class(element: Any, memo: dict[Any, bool]) -> bool:
    """Whether the element or an ancestor carries a comparison-price class (old-price, was-price, …)."""
    chain = []
    result = False
    while element is not None:
        if element in memo:
            result = memo[element]
            break
        chain.append(element)
        classes = str(element.get("class") or "").lower() if hasattr(element, "get") else ""
        if classes and any(name in classes for name in _STRUCK_CLASSES):
            result = True
            break
        element = element.getparent()
    for seen in chain:
        memo[seen] = result
    return result


_BUY_XPATH = (
    "//button | //input[@type='submit' or @type='button']"
    " | //a[contains(translate(@class,'BUYCART','buycart'),'buy') or contains(translate(@class,'BUYCART','buycart'),'cart')]"
    " | //*[contains(@id,'buy') or contains(@id,'cart') or contains(@id,'add-to')]"
)
_PRICE_NAMED = (
    "//*[(contains(translate(@class,'PRICE','price'),'price') or contains(translate(@id,'PRICE','price'),'price'))"
    " and not(contains(@class,'old') or contains(@class,'original') or contains(@class,'was')"
    " or contains(@class,'list') or contains(@class,'strike') or self::del or self::s)]"
)


def _price_in_texts(texts: list[str]) -> tuple[float | None, str | None]:
    for text in texts:
        if _ORIGINAL_WORDS.search(text):
            continue
        match = PRICE_TEXT.search(text)
        if match:
            amount, currency = parse_price(match.group(0))
            if amount is not None:
                return amount, currency
    return None, None


def _unstruck_texts(node: Selector) -> list[str]:
    if not isinstance(node.root, etree._Element):
        return []
    memo: dict[Any, bool] = {}
    texts = []
    for text in _TEXT_NOT_STRUCK(node.root):
        cleaned = clean_text(str(text))
        if cleaned and not _struck_by_class(text.getparent(), memo):
            texts.append(cleaned)
    return texts


def _buy_buttons(selector: Selector) -> list[Selector]:
    buttons = []
    for node in selector.xpath(_BUY_XPATH):
        label = (visible_text(node) or "") + " " + " ".join(node.xpath("@value | @title | @aria-label").getall())
        if _BUY_WORDS.search(label):
            buttons.append(node)
    return buttons


def price_near_buy_button(buttons: list[Selector]) -> tuple[float | None, str | None]:
    """The first price shown in the nearest enclosing block of a buy button (up to four levels up)."""
    for button in buttons[:3]:
        for level in range(1, 5):
            block = button.xpath("/".join([".."] * level))
            if not block:
                break
            amount, currency = _price_in_texts(_unstruck_texts(block[0]))
            if amount is not None:
                return amount, currency
    return None, None


def heuristic_title(selector: Selector) -> str | None:
    for css in _TITLE_CANDIDATES:
        for node in selector.css(css)[:5]:
            text = visible_text(node)
            if text and len(text) > 1:
                return text
    return clean_text(selector.css("title::text").get())


def heuristic_price(selector: Selector, buttons: list[Selector]) -> tuple[float | None, str | None]:
    itemprop = selector.css("[itemprop=price]")
    for node in itemprop[:3]:
        amount, currency = parse_price(node.attrib.get("content") or visible_text(node))
        if amount is not None:
            hint = selector.css("[itemprop=priceCurrency]::attr(content)").get()
            return amount, currency or currency_code(hint)
    amount, currency = price_near_buy_button(buttons)
    if amount is not None:
        return amount, currency
    for node in selector.xpath(_PRICE_NAMED)[:40]:
        amount, currency = _price_in_texts(_unstruck_texts(node))
        if amount is not None:
            return amount, currency
    return labelled_price(selector)


# "Price: £60", "售价：¥99", "Prix : 22,50 €" on pages with no price markup at all (old shops).
_PRICE_LABEL = re.compile(
    r"(?:^|[^a-z])(?:our price|sale price|price|now|售价|价格|促销价|现价|到手价|券后价|prix|preis|precio|prezzo)"
    r"\s*[:：]?\s*$",
    re.IGNORECASE,
)


def labelled_price(selector: Selector) -> tuple[float | None, str | None]:
    """A price right after a 'Price:' label: the label's text node, then the next few text nodes."""
    texts = _unstruck_texts(selector.xpath("//body")[0]) if selector.xpath("//body") else []
    for index, text in enumerate(texts[:5000]):
        shown = PRICE_TEXT.search(text)
        if not _PRICE_LABEL.search(text[: shown.start()] if shown else text):
            continue
        amount, currency = _price_in_texts([" ".join(texts[index:index + 3])])
        if amount is not None:
            return amount, currency
    return None, None


def heuristic_original_price(selector: Selector) -> float | None:
    """A struck-through price, or one labelled 原价 / was."""
    for node in selector.xpath("//del | //s | //strike")[:10]:
        match = PRICE_TEXT.search(visible_text(node) or "")
        if match:
            return parse_price(match.group(0))[0]
    for text in selector.xpath("//body//text()[contains(., '原价') or contains(., '原價') or contains(., '市场价')]").getall()[:5]:
        match = PRICE_TEXT.search(text)
        if match:
            return parse_price(match.group(0))[0]
    return None


_DESCRIPTION_CANDIDATES = (
    "[itemprop=description]", "#description", ".description", ".product-description", ".desc", ".intro", "#desc",
)


def heuristic_description(selector: Selector) -> str | None:
    for css in _DESCRIPTION_CANDIDATES:
        for node in selector.css(css)[:2]:
            text = visible_text(node)
            if text:
                return text
    return clean_text(selector.css("meta[name=description]::attr(content)").get())


def heuristic_fields(selector: Selector, with_price: bool = True) -> dict[str, Any]:
    buttons = _buy_buttons(selector)
    price, currency = heuristic_price(selector, buttons) if with_price else (None, None)
    return {
        "title": heuristic_title(selector),
        "price": price,
        "currency": currency,
        "original_price": heuristic_original_price(selector),
        "has_buy_button": bool(buttons),
        "buy_buttons": len(buttons),
        "description": heuristic_description(selector),
    }
