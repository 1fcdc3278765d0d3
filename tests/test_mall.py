"""The demo marketplace over real HTTP on loopback: sites, encodings, APIs, faults, evolution, ground truth."""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from html import unescape

import pytest
from click.testing import CliRunner
from netwatch_fixtures.mall import CATEGORIES, SITES, MallConfig, creditcode, manifest, market
from netwatch_fixtures.mall.launch import start_mall

from netwatch.cli import cli

TRAP_WORDS = ["象牙白", "最近", "最后", "第一次", "第一天", "建议最好", "可开发票", "本品不能代替药物", "quoted law",
              "medical device", "很好"]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_text(mall, site: str, path: str) -> str:
    status, headers, body = fetch(mall.urls[site] + path)
    assert status == 200, f"{site}{path}: {status}"
    encoding = {"laopu": "gbk", "globalgoods": "gb18030"}.get(site, "utf-8")
    return unescape(body.decode(encoding))


def json_of(url: str) -> dict:
    status, _, body = fetch(url)
    assert status == 200, f"{url}: {status}"
    return json.loads(body)


def list_items(mall) -> dict[str, tuple[str, str]]:
    """item id -> (title, list price) over every shop's item list, following next links (JS shop via its API)."""
    found: dict[str, tuple[str, str]] = {}
    base = mall.urls["netmall"]
    for shop_id in range(market.SHOP_ID_BASE, market.SHOP_ID_BASE + mall.config.shops):
        page = 1
        while True:
            data = json_of(f"{base}/api/shop/{shop_id}/items?page={page}")
            found.update({item["id"]: (item["title"], item["price"]) for item in data["items"]})
            if page >= data["pages"]:
                break
            page += 1
    return found


def test_every_site_answers(mall):
    assert set(mall.urls) == set(SITES)
    for site, base in mall.urls.items():
        status, headers, body = fetch(base + "/")
        assert status == 200 and body, site
        assert "/products/?page=1" in body.decode("latin-1") or site == "netmall"
        status, _, robots = fetch(base + "/robots.txt")
        assert status == 200 and b"Disallow: /cart" in robots and b"Sitemap:" in robots
        status, _, sitemap = fetch(base + "/sitemap.xml")
        assert status == 200 and sitemap.count(b"<loc>") >= 3
    assert b"Disallow: /admin/" in fetch(mall.urls["netmall"] + "/robots.txt")[2]
    directory = get_text(mall, "netmall", "/shops?page=1")
    assert directory.count('class="shop-link"') == 12


def test_same_seed_same_bytes_other_seed_differs(mall):
    paths = ["/", "/shops?page=1", "/shop/1001", "/shop/1002/items?page=1", "/item/100001", "/item/400005",
             "/api/reviews?item=800002&page=2", "/api/shop/1007/items?page=1", "/__mall__/manifest.json"]
    with start_mall() as again, start_mall(seed=2) as other:
        for path in paths:
            assert fetch(mall.urls["netmall"] + path)[2] == fetch(again.urls["netmall"] + path)[2], path
        for site in SITES[1:]:
            assert fetch(mall.urls[site] + "/products/2.html")[2] == fetch(again.urls[site] + "/products/2.html")[2]
        assert fetch(mall.urls["netmall"] + "/shop/1013")[0] == 404
        changed = [path for path in paths[2:5] if fetch(mall.urls["netmall"] + path)[2] != fetch(other.urls["netmall"] + path)[2]]
        assert changed, "seed 2 served the same pages as seed 1"


def test_gbk_and_mislabelled_encodings(mall):
    status, headers, body = fetch(mall.urls["laopu"] + "/products/1.html")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=gbk"
    assert b'<meta charset="gbk">' in body
    assert "虎骨酒" in body.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")

    status, headers, body = fetch(mall.urls["globalgoods"] + "/products/1.html")
    assert headers["Content-Type"] == "text/html; charset=utf-8" and b'<meta charset="utf-8">' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the label lies: the body is GB18030
    text = body.decode("gb18030")
    assert "复刻" in text and 'property="product:price:amount" content="1680.00"' in text


def test_markup_of_each_site(mall):
    item = get_text(mall, "netmall", "/item/400001")
    for marker in ['class="item-title"', 'class="price">¥299.00', 'class="original-price">原价 ¥399.00', 'class="description"',
                   'table class="specs"', 'class="seller" href="/shop/1004"', 'img class="gallery"',
                   'data-category="cosmetics"', 'data-api="/api/reviews?item=400001&page=1"', 'aside class="related"']:
        assert marker in item, marker
    assert '"@type": "Product"' in get_text(mall, "lvyuan", "/products/1.html")
    assert 'itemtype="https://schema.org/Product"' in get_text(mall, "zhenpin", "/products/1.html")
    shop = get_text(mall, "netmall", "/shop/1001")
    assert 'data-shop-type="food"' in shop and 'class="food-licence">JY' in shop


def test_review_api_pagination(mall):
    base = mall.urls["netmall"]
    first = json_of(f"{base}/api/reviews?item=800002&page=1")  # the burst listing
    assert first["pages"] == -(-first["total"] // 10) and first["total"] >= 60
    reviews = []
    for page in range(1, first["pages"] + 1):
        data = json_of(f"{base}/api/reviews?item=800002&page={page}")
        assert data["page"] == page and len(data["reviews"]) <= 10
        reviews += data["reviews"]
    assert len(reviews) == first["total"] == len({r["id"] for r in reviews})
    assert {"id", "user", "rating", "time", "content"} <= reviews[0].keys()
    times = [r["time"] for r in reviews]
    assert times == sorted(times, reverse=True)  # newest first
    burst = [t for t in times if t.startswith("2026-02-27T")]
    assert len(burst) >= 30
    assert fetch(f"{base}/api/reviews?item=800002&page={first['pages'] + 1}")[0] == 404
    status, _, body = fetch(f"{base}/api/reviews?item=800002&page=x")
    assert status == 400 and b"page" in body


def test_review_signals_planted(mall):
    base = mall.urls["netmall"]

    def all_reviews(item: int) -> list[dict]:
        first = json_of(f"{base}/api/reviews?item={item}&page=1")
        return [r for page in range(1, first["pages"] + 1)
                for r in json_of(f"{base}/api/reviews?item={item}&page={page}")["reviews"]]

    duplicate = all_reviews(800001)
    near = [r for r in duplicate if "质量非常好" in r["content"]]
    assert len({r["user"] for r in near}) >= 6
    very_good = [r for r in all_reviews(100003) if r["content"] == "很好"]
    assert len(very_good) == 2 and very_good[0]["user"] != very_good[1]["user"]
    run = [r for r in all_reviews(400005) if r["rating"] == 5 and len(r["content"]) <= 3]
    assert len(run) >= 12
    assert any("好评返5元" in r["content"] for r in all_reviews(800003))


def test_js_shop_renders_from_its_api(mall):
    base = mall.urls["netmall"]
    page = get_text(mall, "netmall", "/shop/1007/items?page=1")
    assert 'data-render="js"' in page and '<div id="app">' in page
    assert "item-link" not in page and "/item/" not in page
    script_src = re.search(r'<script src="(/static/[^"]+)"', page).group(1)
    status, headers, script = fetch(base + script_src)
    assert status == 200 and "javascript" in headers["Content-Type"] and b"/api/shop/" in script
    data = json_of(f"{base}/api/shop/1007/items?page=1")
    assert len(data["items"]) == 10
    assert all(fetch(base + item["url"])[0] == 200 for item in data["items"][:3])
    assert "item-link" in get_text(mall, "netmall", "/shop/1001/items?page=1")


def test_faults(mall):
    base = mall.urls["netmall"]
    faults = mall.manifest["faults"]
    stale = faults["stale_404"]
    assert fetch(base + stale)[0] == 404
    assert f'href="{stale}"' in get_text(mall, "netmall", "/shop/1010/items?page=1")  # the list still links it
    with start_mall() as fresh:  # the session's mall may have served its one 500 to another test already
        assert [fetch(fresh.urls["netmall"] + faults["error_once"])[0] for _ in range(3)] == [500, 200, 200]
    assert [fetch(base + faults["error_always"])[0] for _ in range(2)] == [500, 500]
    for start, target in (("/loop/a", "/loop/b"), ("/loop/b", "/loop/a")):
        connection = http.client.HTTPConnection("127.0.0.1", mall.port, timeout=10)
        connection.request("GET", start)
        answer = connection.getresponse()
        assert answer.status == 302 and answer.getheader("Location") == target
        connection.close()
    for path in ("/big", faults["big_item"]):
        connection = http.client.HTTPConnection("127.0.0.1", mall.port, timeout=60)
        connection.request("GET", path)
        answer = connection.getresponse()
        assert answer.status == 200 and answer.getheader("Content-Length") is None  # streamed
        size = 0
        while chunk := answer.read(1 << 20):
            size += len(chunk)
        connection.close()
        assert size > 8 * 1024 * 1024, path
    malformed = get_text(mall, "netmall", faults["malformed"])
    assert 'class="item-title"' in malformed and "</html>" not in malformed
    assert fetch(base + "/item/notanumber")[0] == 404


def test_day_one_differs_from_day_zero_in_the_stated_ways():
    with start_mall(day=0) as day0:
        before = list_items(day0)
        fraud = [e for e in day0.manifest["entries"] if e["categories"] == ["price_fraud"] and e["from_day"] == 1]
        fraud_day0 = get_text(day0, "netmall", fraud[0]["path"])
        port = day0.port
    with start_mall(day=1, port=port) as day1:  # nightly runs restart the mall on the same port
        assert day1.port == port
        after = list_items(day1)
        added = after.keys() - before.keys()
        delisted = before.keys() - after.keys()
        assert added and delisted
        assert all(fetch(f"{day1.urls['netmall']}/item/{i}")[0] == 404 for i in delisted)
        assert all(fetch(f"{day1.urls['netmall']}/item/{i}")[0] == 200 for i in added)
        common = before.keys() & after.keys()
        assert any(before[i][0] != after[i][0] for i in common), "no title edited"
        assert any(before[i][1] != after[i][1] for i in common), "no price changed"
        fraud_day1 = get_text(day1, "netmall", fraud[0]["path"])
        assert 'class="original-price"' not in fraud_day0
        assert 'class="original-price"' in fraud_day1 and "限时特惠" in fraud_day1
        old_price = float(re.search(r'class="price">¥([\d,.]+)', fraud_day0).group(1).replace(",", ""))
        raised = float(re.search(r"原价 ¥([\d,.]+)", fraud_day1).group(1).replace(",", ""))
        assert raised > old_price
        assert day1.manifest["day"] == 1


def test_manifest_covers_every_category_and_trap(mall):
    served = mall.manifest
    assert served == json.loads(json.dumps(manifest(MallConfig()), ensure_ascii=False))
    entries = served["entries"]
    assert {c for e in entries for c in e["categories"]} == set(CATEGORIES)
    assert all(set(e["categories"]) <= set(CATEGORIES) for e in entries)
    traps = [e for e in entries if not e["categories"]]
    for word in TRAP_WORDS:
        assert any(word in e["note"] for e in traps), f"no trap for {word}"
    for site in SITES[1:]:
        mine = [e for e in entries if e["site"] == site]
        assert any(e["categories"] for e in mine) and any(not e["categories"] for e in mine), site
    keys = [(e["site"], e["path"]) for e in entries]
    assert len(keys) == len(set(keys))


def test_planted_text_appears_where_the_manifest_says(mall):
    plants = market.plants()
    texts = {(("netmall", f"/item/{market.item_id(s, k)}")): item for s, spec in enumerate(plants["netmall_shops"])
             for k, item in enumerate(spec.get("items", []))}
    texts |= {(key, f"/products/{n + 1}.html"): item for key, site in plants["sites"].items()
              for n, item in enumerate(site["products"])}
    listed = list_items(mall)
    for entry in mall.manifest["entries"]:
        page = get_text(mall, entry["site"], entry["path"])
        if entry["kind"] == "listing" and entry["site"] == "netmall":
            assert entry["id"] in listed, f"{entry['path']} is not on its shop's item list"
        if entry["kind"] == "listing":
            planted = texts[(entry["site"], entry["path"])]
            assert planted["title"] in page and planted["description"] in page, entry
        elif entry["site"] == "netmall":
            code = re.search(r'class="credit-code">([0-9A-Z]+)<', page)
            if "invalid" in entry["note"] or "wrong check" in entry["note"]:
                assert code and not creditcode.is_valid(code.group(1))
            if "no business-licence" in entry["note"]:
                assert 'class="licence"' not in page
            if "food licence" in entry["note"]:
                assert 'data-shop-type="food"' in page and code and 'class="food-licence"' not in page
            if "unfair_terms" in entry["categories"]:
                assert "概不退换" in page or "最终解释权" in page
        else:
            assert 'class="licence"' not in page
    for evasion in ["象@牙", "象 牙", "象🐘牙", "象\u200b牙", "象(xiàng)牙(yá)", "ＮＯ．１", "電子煙"]:
        assert any(evasion in texts[(e["site"], e["path"])]["title"] + texts[(e["site"], e["path"])]["description"]
                   for e in mall.manifest["entries"] if e["kind"] == "listing"), evasion


def test_credit_codes():
    assert creditcode.is_valid("91350100M000100Y43")  # the standard's worked example
    assert not creditcode.is_valid("91350100M000100Y44")
    shops = [market.shop(MallConfig(), i) for i in range(12)]
    assert sum(1 for s in shops if s.credit_code and creditcode.is_valid(s.credit_code)) == 10
    assert [s.licence for s in shops if s.licence != "valid"] == ["invalid", "missing"]
    assert all(re.fullmatch(r"JY\d{14}", s.food_licence) for s in shops if s.food_licence)


def test_large_market_keeps_plants_rare_and_complete():
    cfg = MallConfig(shops=400, items_per_shop=25)
    truth = manifest(cfg)
    listings = [e for e in truth["entries"] if e["kind"] == "listing"]
    assert 0.01 < len(listings) / (400 * 25) < 0.06
    assert {c for e in truth["entries"] for c in e["categories"]} == set(CATEGORIES)
    assert truth == manifest(MallConfig(shops=400, items_per_shop=25))


def test_cli_manifest(tmp_path):
    out = tmp_path / "truth.json"
    result = CliRunner().invoke(cli, ["mall", "manifest", "--day", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    truth = json.loads(out.read_text(encoding="utf-8"))
    assert truth["day"] == 2 and truth["entries"]
    bad = CliRunner().invoke(cli, ["mall", "manifest", "--shops", "0"])
    assert bad.exit_code != 0 and "--shops" in bad.output


@pytest.mark.browser
def test_js_shop_renders_in_a_browser(mall):
    from netwatch.config import chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("no Debian chromium found (apt-get install chromium-headless-shell)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page()
            page.goto(mall.urls["netmall"] + "/shop/1007/items?page=1")
            page.wait_for_selector("li.product a.item-link", timeout=15000)
            hrefs = page.eval_on_selector_all("li.product a.item-link", "links => links.map(a => a.getAttribute('href'))")
            prices = page.eval_on_selector_all("li.product span.list-price", "spans => spans.map(s => s.textContent)")
        finally:
            browser.close()
    api = json_of(mall.urls["netmall"] + "/api/shop/1007/items?page=1")
    assert hrefs == [item["url"] for item in api["items"]]
    assert prices[0] == "¥159.00"


def test_item_pages_carry_an_etag_and_answer_304_to_it(mall):
    url = mall.urls["netmall"] + "/item/100001"
    status, headers, body = fetch(url)
    assert status == 200 and body and headers["ETag"].startswith('"')
    request = urllib.request.Request(url, headers={"If-None-Match": headers["ETag"]})
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("expected 304 Not Modified")
    except urllib.error.HTTPError as error:
        assert error.code == 304 and error.read() == b"" and error.headers["ETag"] == headers["ETag"]
    other = urllib.request.Request(url, headers={"If-None-Match": '"stale"'})
    with urllib.request.urlopen(other, timeout=30) as answer:
        assert answer.status == 200 and answer.read() == body
