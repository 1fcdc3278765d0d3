"""Extraction on the shapes real shops take that the demo marketplace does not: prices in embedded JSON state,
decimal commas, sale vs struck-through prices, a GBK page whose meta says UTF-8, and product-vs-listing pages
told apart by score (out of stock, any language, a grid of cards)."""

from __future__ import annotations

import json

import pytest

from netwatch.extract import Page, extract_listing, parse_price
from netwatch.extract.listing import page_kind


def page(html: str, url: str = "https://shop.example/item/1", encoding: str = "utf-8") -> Page:
    return Page(url=url, body=html.encode(encoding), headers={"Content-Type": "text/html"})


@pytest.mark.parametrize("text, expected", [
    ("22,50 €", (22.5, "EUR")), ("€ 1.299,00", (1299.0, "EUR")), ("Prix : 9,90 EUR", (9.9, "EUR")),
    ("¥1,299.00", (1299.0, "CNY")), ("3.350 €", (3350.0, "EUR")),
])
def test_decimal_commas_and_currencies(text, expected):
    assert parse_price(text) == expected


def test_french_page_sale_price_and_struck_price():
    listing = extract_listing(page("""<html lang="fr"><body><h1>Les Misérables, tome 1</h1>
        <div class="prix"><s>25,00 €</s> <span class="prix-vente">22,50 €</span></div>
        <form action="/panier/ajouter"><input name="quantity" value="1"><button>Ajouter au panier</button></form>
        </body></html>"""))
    assert (listing.title, listing.price, listing.currency, listing.original_price) == (
        "Les Misérables, tome 1", 22.5, "EUR", 25.0)


def test_taobao_g_page_config_item():
    state = {"itemDO": {"title": "天然象牙手镯 老料", "itemId": 6221, "reservePrice": "3999.00",
                        "promotionPrice": "2899.00"}, "shop": {"name": "某某旗舰店"}}
    html = (f"<html><head><title>天然象牙手镯-淘宝网</title></head><body><div id=J_Title></div>"
            f"<script>var g_page_config = {json.dumps(state, ensure_ascii=False)};</script>"
            f"<a class=J_LinkBuy>立即购买</a></body></html>")
    listing = extract_listing(page(html, "https://item.taobao.com/item.htm?id=6221"))
    assert (listing.title, listing.price, listing.currency, listing.original_price) == (
        "天然象牙手镯 老料", 2899.0, "CNY", 3999.0)
    assert listing.canonical_id == "6221"


def test_taobao_search_page_state_is_a_grid_not_a_product():
    auctions = [{"raw_title": f"手镯 {n}", "view_price": f"{n}9.00", "nid": n} for n in range(1, 20)]
    html = ("<html><body><script>g_page_config = "
            + json.dumps({"mods": {"itemlist": {"data": {"auctions": auctions}}}}, ensure_ascii=False)
            + ";</script></body></html>")
    assert page_kind(page(html, "https://s.taobao.com/search?q=x")).kind == "listing"
    assert extract_listing(page(html, "https://s.taobao.com/search?q=x")) is None


def test_next_data_and_initial_state_prices():
    next_data = {"props": {"pageProps": {"product": {"name": "最好的祛斑霜", "salePrice": 128, "originalPrice": 199,
                                                     "currency": "CNY"}}}}
    html = (f'<html><body><h1>最好的祛斑霜</h1><script id="__NEXT_DATA__" type="application/json">'
            f"{json.dumps(next_data, ensure_ascii=False)}</script><button>加入购物车</button></body></html>")
    listing = extract_listing(page(html))
    assert (listing.price, listing.original_price, listing.currency) == (128.0, 199.0, "CNY")
    initial = {"goods": {"goodsName": "根治脱发 生发液", "minGroupPrice": "39.9"}}
    html = (f"<html><body><script>window.__INITIAL_STATE__={json.dumps(initial, ensure_ascii=False)}</script>"
            f"<div>已售罄</div></body></html>")
    listing = extract_listing(page(html))
    assert (listing.title, listing.price, listing.currency) == ("根治脱发 生发液", 39.9, "CNY")


def test_gbk_page_that_claims_utf8_in_its_meta():
    # A Tmall item page is mostly markup and scripts: too little Chinese for the detector alone.
    scripts = '<script>var cfg = {"a": 1, "b": "abcdef"};</script>\n' * 500
    html = (f'<html><head><meta charset="utf-8"><title>象牙手镯-tmall.com天猫</title></head><body>{scripts}'
            f'<h1>象牙手镯</h1><span class="price">￥69.90</span><button>立即购买</button></body></html>')
    listing = extract_listing(page(html, encoding="gbk"))
    assert (listing.title, listing.price) == ("象牙手镯", 69.9)


def test_out_of_stock_chinese_product_without_buy_button_is_a_product():
    html = """<html lang="zh-hans"><body><nav><a href="/">首页</a></nav>
        <div class="product_main"><h1>象牙雕刻摆件</h1><p class="price_color">¥1,280.00</p>
        <p class="availability outofstock">缺货</p><form action="/alerts/"><input name="email">
        <button>到货通知</button></form></div></body></html>"""
    kind = page_kind(page(html))
    assert kind.is_product, kind
    assert extract_listing(page(html)).price == 1280.0


def test_grid_of_cards_is_a_listing_even_with_buy_buttons():
    cards = "".join(
        f'<li><article class="product_pod"><h3><a href="/p/{n}/">商品 {n}</a></h3><p class="price_color">¥{n}9.00</p>'
        f'<form action="/basket/add/{n}/"><button>添加至购物车</button></form></article></li>' for n in range(1, 9))
    html = f"<html><body><h1>全部商品</h1><ol class=row>{cards}</ol></body></html>"
    kind = page_kind(page(html))
    assert kind.kind == "listing" and kind.cards == 8
    assert extract_listing(page(html)) is None


def test_plain_article_page_is_not_a_product():
    html = "<html><body><h1>关于我们</h1><p>本店成立于2001年，价格实惠。</p></body></html>"
    assert page_kind(page(html)).kind == "other"
