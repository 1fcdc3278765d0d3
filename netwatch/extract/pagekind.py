"""Is this page one product, a grid of products (a listing or category page), or neither? A score, not one button.

A product page of any shop engine shows some of: product structured data, a price next to its main heading,
a form with a quantity, variant or add-to-cart control (in any language), buy words (立即购买, 添加至购物车,
Add to basket) or — when out of stock — their absence words (缺货, 到货通知, Sold out, Notify me). A listing
shows the same things many times over: several cards each with a link, a price and maybe its own buy button.
Each signal adds to a score; a page is a product when the score reaches PRODUCT_SCORE and the page is not a
grid. Sellers of banned goods mark items out of stock to stay listed, so out-of-stock words count as much as
buy words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from parsel import Selector

from netwatch.extract.fields import visible_text

PRODUCT_SCORE = 4
GRID_CARDS = 3  # this many priced cards side by side make a listing

BUY_WORDS = re.compile(
    r"立即购买|马上购买|立即抢购|加入购物车|添加至购物车|添加到购物车|放入购物车|加入購物車|立即購買|購買|购买"
    r"|buy now|buy it now|add to (?:cart|bag|basket|trolley)|add to shopping|in den warenkorb|ajouter au panier"
    r"|añadir al carrito|aggiungi al carrello|カートに入れる|장바구니",
    re.IGNORECASE,
)
OUT_OF_STOCK_WORDS = re.compile(
    r"缺货|到货通知|已售罄|售罄|已下架|暂时无货|无货|库存不足|暂无库存|有货时|补货提醒|提醒我|暫時缺貨|售完|"
    r"sold out|notify me|out of stock|currently unavailable|back in stock|épuisé|ausverkauft|agotado",
    re.IGNORECASE,
)
_QUANTITY_INPUT = (
    "//form//input[contains(translate(@name,'QUANTITY','quantity'),'quantity') or @name='qty' or @name='num'"
    " or @name='amount' or (@type='number' and not(contains(@name,'price')))]"
    " | //form//select[contains(@name,'variant') or contains(@name,'option') or contains(@name,'size')"
    " or contains(@name,'color') or contains(@name,'attribute')]"
)
_CART_FORM = (
    "//form[contains(@action,'cart') or contains(@action,'basket') or contains(@action,'bag')"
    " or contains(@action,'购物车') or contains(@id,'add_to') or contains(@class,'add-to') or contains(@class,'add_to')]"
)
# An element that states the stock ("库存 20 件", "In stock", "缺货"): shop engines name it so in any language.
_STOCK_STATUS = (
    "//*[contains(@class,'availability') or contains(@class,'instock') or contains(@class,'outofstock')"
    " or contains(@class,'in-stock') or contains(@class,'out-of-stock') or contains(@class,'stock-status')"
    " or @itemprop='availability' or contains(@id,'availability')]"
)
_CONTROLS = (
    "//button | //input[@type='submit' or @type='button'] | //a[contains(@class,'btn') or contains(@class,'button')"
    " or contains(translate(@class,'BUYCART','buycart'),'buy') or contains(translate(@class,'BUYCART','buycart'),'cart')]"
)
# A price as shown: a currency sign before or after the number, or 元.
PRICE_SHOWN = re.compile(
    r"(?:[¥￥$£€]|RMB|CNY|US\$|HK\$|EUR)\s*\d[\d,.\s]*\d|(?:[¥￥$£€])\s*\d|\d[\d,.]*\s*(?:元|€|EUR\b|zł|kr\b)",
    re.IGNORECASE,
)
_NOT_HIDDEN = "not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::option)"


@dataclass
class PageKind:
    kind: str  # "product", "listing" or "other"
    score: int
    cards: int
    reasons: list[str] = field(default_factory=list)

    @property
    def is_product(self) -> bool:
        return self.kind == "product"


def _controls_matching(selector: Selector, words: re.Pattern[str]) -> int:
    count = 0
    for node in selector.xpath(_CONTROLS):
        label = " ".join(filter(None, [visible_text(node), *node.xpath("@value | @title | @aria-label").getall()]))
        if label and words.search(label):
            count += 1
    return count


def _prices_in(node: Selector) -> int:
    return sum(len(PRICE_SHOWN.findall(t)) for t in node.xpath(f".//text()[{_NOT_HIDDEN}]").getall())


def price_near_heading(selector: Selector) -> bool:
    """A price within the main heading's block, a block that is not itself a grid of prices."""
    headings = selector.xpath("//h1")
    if len(headings) != 1:
        return False
    for level in range(1, 5):
        block = headings[0].xpath("/".join([".."] * level))
        if not block:
            return False
        prices = _prices_in(block[0])
        if prices:
            return prices < GRID_CARDS + 3 or _cards(block[0]) < GRID_CARDS
    return False


_LINKS = etree.XPath("descendant-or-self::a[@href]")
# Text whose own element is not a script, style or option (an ancestor test per text node costs more than
# the rest of the grid search).
_TEXTS = etree.XPath(
    "descendant-or-self::text()[not(parent::script or parent::style or parent::noscript or parent::option)]",
    smart_strings=True,
)


def _holders(nodes: Any, top: Any) -> set[Any]:
    """Every element at or below `top` that contains one of the nodes (one walk up per node, shared ancestors once)."""
    stop = top.getparent()
    marked: set[Any] = set()
    for node in nodes:
        element = node if isinstance(node, etree._Element) else node.getparent()
        while element is not None and element is not stop and element not in marked:
            marked.add(element)
            element = element.getparent()
    return marked


def _grid(selector: Selector) -> list[Any]:
    """The cards of the largest grid below the selector's element: siblings that each hold a link and a price
    (lxml elements). Linear in the page: links and prices mark their ancestors once."""
    top = selector.root
    if not isinstance(top, etree._Element):
        return []
    linked = _holders(_LINKS(top), top)
    priced = _holders((t for t in _TEXTS(top) if PRICE_SHOWN.search(t)), top)
    best: list[Any] = []
    for parent in linked & priced:
        cards = [child for child in parent if child in linked and child in priced]
        if len(cards) > len(best):
            best = cards
    return best


def _cards(selector: Selector) -> int:
    return len(_grid(selector))


def grid_links(selector: Selector) -> list[str]:
    """Each card's first link: where a listing page's products are (followed before anything else)."""
    cards = _grid(selector)
    if len(cards) < GRID_CARDS:
        return []
    return [links[0].get("href") for card in cards if (links := _LINKS(card))]


def classify_page(selector: Selector, structured_products: int, embedded_cards: int = 0,
                  has_embedded_product: bool = False, declared_offer: bool = False,
                  buy_controls: int | None = None) -> PageKind:
    """structured_products: product items in the page's structured data (JSON-LD, microdata, RDFa, OG);
    buy_controls: the page's buy or sold-out buttons when the caller has counted them already."""
    reasons: list[str] = []
    score = 0
    buy = _controls_matching(selector, BUY_WORDS) if buy_controls is None else buy_controls
    sold_out_text = visible_text(selector) or ""
    cards = max(_cards(selector), embedded_cards)
    if structured_products == 1:
        score += 4 if declared_offer else 3  # a product with an offer is a product page by itself
        reasons.append("structured data")
    if has_embedded_product and embedded_cards < GRID_CARDS:
        score += 3
        reasons.append("embedded state")
    if 0 < buy < GRID_CARDS:
        score += 2
        reasons.append("buy button")
    if OUT_OF_STOCK_WORDS.search(sold_out_text):
        score += 2
        reasons.append("out-of-stock words")
    if selector.xpath(_QUANTITY_INPUT):
        score += 1
        reasons.append("quantity/variant input")
    stock = len(selector.xpath(_STOCK_STATUS))
    if 0 < stock < GRID_CARDS:
        score += 1
        reasons.append("stock status")
    forms = len(selector.xpath(_CART_FORM))
    if 0 < forms < GRID_CARDS:
        score += 1
        reasons.append("cart form")
    if price_near_heading(selector):
        score += 2
        reasons.append("price by heading")
    main_product = "price by heading" in reasons or structured_products == 1 or "embedded state" in reasons
    grid = cards >= GRID_CARDS and (not main_product or buy >= GRID_CARDS or forms >= GRID_CARDS)
    grid = grid or structured_products >= GRID_CARDS
    if grid and not (structured_products == 1 and "price by heading" in reasons):
        return PageKind("listing", score, cards, [*reasons, f"{cards} cards"])
    if score >= PRODUCT_SCORE:
        return PageKind("product", score, cards, reasons)
    return PageKind("other", score, cards, reasons)


def canonical_url(selector: Selector, url: str) -> str | None:
    """The URL the page names as its own: <link rel=canonical>, else og:url; absolute, fragment dropped."""
    for query in ("//link[translate(@rel,'CANONICAL','canonical')='canonical']/@href",
                  "//meta[@property='og:url']/@content"):
        value = (selector.xpath(query).get() or "").strip()
        if value:
            parts = urlsplit(urljoin(url, value))
            if parts.scheme in ("http", "https"):
                return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return None
