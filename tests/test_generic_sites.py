"""The generic spider on small shops served by a plain HTTP server on loopback: sitemaps as shops publish them
(robots.txt's Sitemap: line, a sitemap index, a gzipped url set, URLs written with another name of the same host:
127.0.0.1 for a site started as localhost), and canonical URLs (one listing per product page, whatever URL led
to it; listing pages never stored)."""

from __future__ import annotations

import gzip
import json
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_spiders import crawl

PRODUCTS = {1: ("象牙手镯 老料", 2899.0), 2: ("Organic Green Tea", 12.5), 3: ("最好的祛斑霜", 128.0)}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def serve(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def product_page(title: str, price: float, head: str = "") -> str:
    product = {"@context": "https://schema.org", "@type": "Product", "name": title,
               "offers": {"@type": "Offer", "price": price, "priceCurrency": "CNY"}}
    return (f'<html><head>{head}<script type="application/ld+json">{json.dumps(product, ensure_ascii=False)}</script>'
            f"</head><body><h1>{title}</h1><p>¥{price}</p><button>加入购物车</button></body></html>")


@pytest.fixture
def sitemap_shop(tmp_path):
    site = tmp_path / "site"
    (site / "p").mkdir(parents=True)
    server = serve(site)
    alias = f"http://127.0.0.1:{server.server_port}"  # the sitemap's host name; the crawl starts at localhost
    (site / "index.html").write_text("<html><body><h1>小店</h1><p>欢迎</p></body></html>", encoding="utf-8")
    (site / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {alias}/sitemap_index.xml\n", encoding="utf-8")
    (site / "sitemap_index.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{alias}/products.xml.gz</loc></sitemap>"
        "<sitemap><loc>http://elsewhere.example/other.xml</loc></sitemap></sitemapindex>", encoding="utf-8")
    urls = "".join(f"<url><loc>{alias}/p/{n}.html</loc></url>" for n in PRODUCTS)
    (site / "products.xml.gz").write_bytes(gzip.compress(
        ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         f"{urls}<url><loc>http://elsewhere.example/p/9.html</loc></url></urlset>").encode()))
    for number, (title, price) in PRODUCTS.items():
        (site / "p" / f"{number}.html").write_text(product_page(title, price), encoding="utf-8")
    yield f"http://localhost:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_gzipped_sitemap_behind_an_index_on_a_host_alias(sitemap_shop, tmp_path):
    code, items, stats, log = crawl(tmp_path / "crawl", "generic", "-a", f"start_url={sitemap_shop}/")
    assert code == 0, log[-3000:]
    assert {(item["title"], item["price"]) for item in items} == set(PRODUCTS.values())
    (summary,) = stats
    assert "bad_sitemap" not in summary["errors_by_kind"]
    assert summary["field_coverage"] == {"title": 1.0, "price": 1.0, "shop": 0.0}
    table = log[log.index("抓取汇总"):]  # Chinese by default
    assert "字段覆盖率" in table and all(re.search(rf"│ {cell}\s*│", table) for cell in ("商品标题 100%", "价格 100%",
                                                                                 "店铺 0%")), table


def test_canonical_url_decides_the_listing_and_listing_pages_are_not_stored(tmp_path):
    site = tmp_path / "site"
    (site / "p").mkdir(parents=True)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        cards = "".join(f'<li><a href="/p/{n}.html?from=list">{t}</a> <span>¥{p}</span></li>'
                        for n, (t, p) in PRODUCTS.items())
        # The catalogue, and a copy of it sorted whose canonical is the catalogue: links followed, nothing stored.
        (site / "index.html").write_text(
            f'<html><head><link rel="canonical" href="{base}/"></head><body><h1>全部商品</h1><ul>{cards}</ul>'
            '<a href="/sorted.html">按价格</a></body></html>', encoding="utf-8")
        (site / "sorted.html").write_text(
            f'<html><head><link rel="canonical" href="/"></head><body><h1>全部商品</h1><ul>{cards}</ul></body></html>',
            encoding="utf-8")
        for number, (title, price) in PRODUCTS.items():
            (site / "p" / f"{number}.html").write_text(
                product_page(title, price, f'<meta property="og:url" content="{base}/p/{number}.html">'),
                encoding="utf-8")
        code, items, stats, log = crawl(tmp_path / "crawl", "generic", "-a", f"start_url={base}/")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, log[-3000:]
    assert sorted(item["url"] for item in items) == [f"{base}/p/{n}.html" for n in sorted(PRODUCTS)]
    assert {item["canonical_id"] for item in items} == {str(n) for n in PRODUCTS}


class CanonicalAliasHandler(QuietHandler):
    """A shop engine whose canonical URL is an alias that redirects back to the product page."""

    def do_GET(self):  # noqa: N802 - http.server's name
        match = re.fullmatch(r"/product\?id=(\d+)", self.path)
        if match:
            self.send_response(301)
            self.send_header("Location", f"/p/{match.group(1)}.html")
            self.end_headers()
            return
        super().do_GET()


def test_a_canonical_that_redirects_back_keeps_the_product(tmp_path):
    site = tmp_path / "site"
    (site / "p").mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(CanonicalAliasHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        links = "".join(f'<li><a href="/p/{n}.html">{t}</a></li>' for n, (t, _) in PRODUCTS.items())
        (site / "index.html").write_text(f"<html><body><h1>全部商品</h1><ul>{links}</ul></body></html>",
                                         encoding="utf-8")
        for number, (title, price) in PRODUCTS.items():
            (site / "p" / f"{number}.html").write_text(
                product_page(title, price, head=f'<link rel="canonical" href="/product?id={number}">'), encoding="utf-8")
        code, items, stats, log = crawl(tmp_path / "crawl", "generic", "-a", f"start_url={base}/")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, log[-3000:]
    # every product once, under the page's own URL (its canonical only leads back to it)
    assert sorted((item["url"], item["title"], item["price"]) for item in items) == sorted(
        (f"{base}/p/{n}.html", title, price) for n, (title, price) in PRODUCTS.items())


def test_rescan_reads_a_generic_crawls_archive_as_the_crawl_did(tmp_path):
    """`netwatch rescan` over a generic crawl's archive stores the listings the crawl stored, under the same
    URLs: a tracking variant is not a second listing, a canonical that led back keeps its page."""
    import sqlite3
    import subprocess
    import sys

    site = tmp_path / "site"
    (site / "p").mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(CanonicalAliasHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    archive = tmp_path / "archive"
    try:
        links = "".join(f'<li><a href="/p/{n}.html">{t}</a></li>' for n, (t, _) in PRODUCTS.items())
        (site / "index.html").write_text(f'<html><body><h1>全部商品</h1><ul>{links}<li><a href="/p/4.html?ref=home">'
                                         "杯子</a></li></ul></body></html>", encoding="utf-8")
        for number, (title, price) in PRODUCTS.items():  # canonicals that redirect back (see above)
            (site / "p" / f"{number}.html").write_text(
                product_page(title, price, head=f'<link rel="canonical" href="/product?id={number}">'), encoding="utf-8")
        (site / "p" / "4.html").write_text(product_page("陶瓷马克杯", 19.9, head='<link rel="canonical" href="/p/4.html">'),
                                           encoding="utf-8")
        code, items, _, log = crawl(tmp_path / "crawl", "generic", "-a", f"start_url={base}/", "-s",
                                    f"NETWATCH_ARCHIVE_DIR={archive}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, log[-3000:]
    crawled = sorted(item["url"] for item in items)
    assert crawled == sorted([*(f"{base}/p/{n}.html" for n in PRODUCTS), f"{base}/p/4.html"])
    db = tmp_path / "rescan.db"
    done = subprocess.run([sys.executable, "-m", "netwatch.cli", "rescan", "--since", "2000-01-01", "--store",
                           "--archive", str(archive), "--db", f"sqlite:///{db}"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        rescanned = sorted(url for (url,) in conn.execute("SELECT url FROM listings"))
        hits = {match for (match,) in conn.execute("SELECT match FROM lead_hits")}
    assert rescanned == crawled and {"象牙", "最好"} <= hits
