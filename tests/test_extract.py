"""Extraction on its own: prices, decoding, field specs, ids, profiles — no crawl, no network."""

from __future__ import annotations

import pickle

import pytest
from parsel import Selector

from netwatch.extract import Page, decode_body, extract_field, extract_listing, item_id_from_url, parse_price
from netwatch.extract.fields import FieldSpecError, _xpath_evaluator, compile_field
from netwatch.sites import ProfileError, load_profile, profile_names


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("¥1,299.00", 1299.0, "CNY"),
        ("￥99-199", 99.0, "CNY"),  # a range: the lowest price is the one shown first
        ("99元", 99.0, "CNY"),
        ("原价 ¥2,599.00", 2599.0, "CNY"),
        ("3.350 €", 3350.0, "EUR"),  # European thousands separator
        ("1.299,00 €", 1299.0, "EUR"),
        ("$29.99", 29.99, "USD"),
        ("RMB 88", 88.0, "CNY"),
        ("£51.77", 51.77, "GBP"),
        ("暂无报价", None, None),
    ],
)
def test_parse_price(text, amount, currency):
    assert parse_price(text) == (amount, currency)


def test_parse_price_uses_the_currency_hint():
    assert parse_price("168.00", "CNY") == (168.0, "CNY")


TEXT = "象牙白瓷茶壶 熊胆粉 一经售出概不退换 ￥360.00"


def test_gbk_page_declared_correctly_decodes():
    body = f'<html><head><meta charset="gbk"></head><body>{TEXT}</body></html>'.encode("gbk")
    text, encoding = decode_body(body, "text/html; charset=gbk")
    assert TEXT in text and encoding == "gb18030"


def test_gb18030_page_labelled_utf8_is_detected():
    body = f'<html><head><meta charset="utf-8"></head><body><p>{TEXT} 高仿 复刻 Rolex</p></body></html>'.encode("gb18030")
    text, encoding = decode_body(body, "text/html; charset=utf-8")
    assert TEXT in text
    assert encoding in {"gb18030", "gbk", "gb2312"}


def test_utf8_page_labelled_gbk_is_detected():
    body = f'<html><head><meta charset="gbk"></head><body><p>{TEXT}，正品保障，假一赔十</p></body></html>'.encode()
    text, encoding = decode_body(body, "text/html; charset=gbk")
    assert TEXT in text and encoding == "utf-8"


def test_meta_charset_is_used_without_a_header():
    body = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>{TEXT}</body></html>'
    assert TEXT in decode_body(body.encode("gbk"))[0]


@pytest.mark.parametrize(
    ("url", "item_id"),
    [
        ("http://127.0.0.1:8123/item/100001", "100001"),
        ("http://127.0.0.2:8123/products/12.html", "12"),
        ("https://www.amazon.com/Lighting-Fixture/dp/B07G2L3JMM", "B07G2L3JMM"),
        ("https://shop.example.cn/goods.php?id=778", "778"),
        ("https://www.overstock.com/Home-Garden/Plates-Set-of-6/29099468/product.html", "29099468"),
    ],
)
def test_item_id_comes_from_the_path_never_the_port(url, item_id):
    assert item_id_from_url(url) == item_id


HTML = Selector(text="""<html><body data-shop-type="food"><h1 class="t"> 标题 <b>一</b> </h1>
<a class="seller" href="/shop/1007?x=1">店</a><img class="g" src="/a.jpg"><img class="g" src="/b.jpg">
<table class="specs"><tr><th>产地</th><td>云南</td></tr><tr><th>重量</th><td>850g</td></tr></table>
<script>var x = "not text";</script></body></html>""")


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ("css:h1.t", "标题 一"),
        ("xpath://h1/b/text()", "一"),
        ("css:h1.missing", None),
        ({"css": "img.g::attr(src)", "all": True}, ["/a.jpg", "/b.jpg"]),
        ({"css": "a.seller::attr(href)", "re": r"/shop/(\d+)"}, "1007"),
        ({"css": "body::attr(data-shop-type)", "equals": "food"}, True),
        ({"css": "body::attr(data-shop-type)", "equals": "cosmetics"}, False),
        ({"exists": "css:div.licence"}, False),
        ({"rows": "css:table.specs tr", "key": "css:th", "value": "css:td"}, {"产地": "云南", "重量": "850g"}),
        ("const:food", "food"),
        ("css:body", "标题 一 店 产地 云南 重量 850g"),  # visible text: no script
    ],
)
def test_field_specs(spec, value):
    assert extract_field(HTML, spec) == value


def test_a_compiled_field_reads_like_its_spec():
    for spec in ({"rows": "css:table.specs tr", "key": "css:th", "value": "css:td"}, "css:h1.t", "xpath://h1/b/text()"):
        field = compile_field(spec)
        assert field(HTML) == extract_field(HTML, field) == extract_field(HTML, spec)
    assert compile_field("css:h1.t") is compile_field("css:h1.t")  # string specs are compiled once


def test_a_loaded_profile_survives_pickling():
    # distributed crawls pickle requests into Redis, with the page rule a review request carries
    profile = load_profile("netmall", "http://127.0.0.1:8000")
    copy = pickle.loads(pickle.dumps(profile))
    assert copy == profile
    item_rule = copy.pages[-1]
    assert item_rule.fields["title"](HTML) is None and item_rule.fields["specs"](HTML) == {"产地": "云南", "重量": "850g"}
    assert item_rule.reviews.entries(Selector(text='{"reviews": [{"content": "好"}]}', type="json")) == [{"content": "好"}]


def test_exslt_functions_in_field_specs():
    page = Selector(text='<html><body><a href="/a">1</a><a href="/a">2</a><a href="/b">3</a></body></html>')
    assert extract_field(page, {"xpath": "set:distinct(//a/@href)", "all": True}) == ["/a", "/b"]
    assert extract_field(page, {"xpath": "//a[re:test(@href, 'b$')]", "all": True}) == ["3"]


def test_a_reused_xpath_evaluator_does_not_grow():
    # lxml with libxml2 2.13+ logs an entry, never cleared, on each call of an evaluator that maps EXSLT sets:
    # reused for every page, it would grow the crawl's memory page after page.
    plain = _xpath_evaluator("//h1/text()")
    for _ in range(3):
        plain()(HTML.root)
    assert plain() is plain() and len(plain().error_log) == 0
    with_sets = _xpath_evaluator("set:distinct(//h1/text())")
    assert with_sets() is not with_sets()


def test_json_field_specs():
    document = Selector(text='{"pages": 3, "reviews": [{"id": 1}, {"id": 2}]}', type="json")
    assert extract_field(document, "json:pages") == 3
    assert extract_field(document, {"json": "reviews[].id", "all": True}) == [1, 2]


def test_bad_field_spec_is_named():
    with pytest.raises(FieldSpecError, match="h1.t"):
        extract_field(HTML, "h1.t")


def test_every_shipped_profile_loads():
    names = profile_names()
    assert {"netmall", "lvyuan", "zhenpin", "laopu", "globalgoods"} <= set(names)
    for name in names:
        profile = load_profile(name, base_url="http://127.0.0.9:8000")
        assert profile.start_urls and profile.pages
        assert profile.allowed_domains == ("127.0.0.9",)  # the host only: the port never restricts


def test_netmall_profile_routes_urls_to_page_rules():
    profile = load_profile("netmall", base_url="http://127.0.0.1:8000")
    rule, ids = profile.rule_for("http://127.0.0.1:8000/item/100001")
    assert (rule.item, ids) == ("listing", {"item_id": "100001"})
    rule, ids = profile.rule_for("http://127.0.0.1:8000/shop/1007")
    assert (rule.item, ids) == ("shop", {"shop_id": "1007"})
    rule, _ = profile.rule_for("http://127.0.0.1:8000/shop/1007/items?page=2")
    assert rule.render_when and rule.item == "none"
    assert profile.rule_for("http://127.0.0.1:8000/admin/") is None


def test_profile_needs_a_base_url(tmp_path):
    with pytest.raises(ProfileError, match="netmall.yaml.*base_url"):
        load_profile("netmall")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("key: x\nstart_urls: [http://a/]\npages: [{match: '('}]", r"pages\[0\]\.match: invalid regex"),
        ("key: x\nstart_urls: [http://a/]\nrobots: {obey: false}\npages: [{match: a}]", "without a stated robots.reason"),
        ("key: x\npages: [{match: a}]", "missing `start_urls`"),
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: product}]", r"pages\[0\]\.item"),
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: shop}]", "a shop page needs selectors"),
        ("key: [unclosed", "not valid YAML"),
        # selectors are compiled when the profile loads: a broken one is named there, not mid-crawl
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: listing, fields: {title: 'css:h1[['}}]",
         r"pages\[0\]\.fields\.title: field spec 'css:h1\[\['"),
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: listing, fields: {price: 'xpath://span['}}]",
         r"pages\[0\]\.fields\.price"),
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: listing, fields: {title: 'h1.t'}}]",
         r"fields\.title: field spec 'h1\.t' must start with css:"),
        ("key: x\nstart_urls: [http://a/]\npages: [{match: a, item: listing, reviews: "
         "{api: 'css:div::attr(data-api)', items: 'reviews[', fields: {text: content}}}]", r"pages\[0\]\.reviews"),
    ],
)
def test_bad_profiles_are_reported_with_file_and_field(tmp_path, body, message):
    path = tmp_path / "broken.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ProfileError, match=message) as raised:
        load_profile(path)
    assert str(path) in str(raised.value)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError, match="netmall"):
        load_profile("no-such-site")


def test_page_without_product_is_not_a_listing():
    page = Page(url="http://127.0.0.2:8000/products/?page=1", body="""<html><body><h1>全部商品</h1><ul>
        <li><a class="product-link" href="/products/1.html">龙井</a> ¥168.00</li></ul></body></html>""".encode())
    assert extract_listing(page) is None


def test_struck_price_is_the_comparison_price_never_the_price():
    page = Page(url="http://x/products/9.html", body="""<html><body><h1>竹编果篮</h1>
        <p>售价：<del>原价 ¥80.00</del> <b>¥35.00</b> <input type="button" value="立即购买"></p></body></html>""".encode())
    listing = extract_listing(page)
    assert (listing.price, listing.original_price, listing.currency) == (35.0, 80.0, "CNY")


def test_json_api_pages_are_read_with_json_specs():
    body = '{"item": {"name": "明前龙井", "price": "¥168.00", "tags": ["food"]}}'.encode()
    page = Page(url="http://127.0.0.9:8000/api/item/7", body=body, headers={"Content-Type": "application/json"})
    selectors = {"title": "json:item.name", "price": "json:item.price", "category_hints": {"json": "item.tags", "all": True}}
    listing = extract_listing(page, "site", selectors, require_product=False)
    assert (listing.title, listing.price, listing.currency, listing.category_hints) == ("明前龙井", 168.0, "CNY", ["food"])
    assert listing.canonical_id == "7" and listing.platform == "site"
