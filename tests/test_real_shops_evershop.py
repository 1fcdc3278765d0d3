"""A second real open-source shop engine, of another language and framework than django-oscar: EverShop (Node.js,
React, PostgreSQL), installed from the npm registry by `make test` (`npm ci` from fixtures/evershop_shop's lock
file, then `evershop build`), with its default theme. Seeded through the engine's own services with the same 40
products as the Oscar shop (Chinese and English titles, a quarter out of stock, some with violation texts) in a
fresh PostgreSQL database, served on loopback and crawled by `netwatch crawl generic`.

EverShop's category pages render their product grid in the browser (the server sends it only as JSON), so the
products are reached through its sitemap index (robots.txt `Sitemap:`, which names the site as `localhost`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess

import pytest
from conftest import PG_BASE_URL, PROJECT_DIR, _port_open, service_missing
from netwatch_fixtures.oscar_shop.seed import catalogue
from shop_helpers import crawl_generic, free_port, products_right, wait_until_serving

SHOP_DIR = PROJECT_DIR / "fixtures" / "evershop_shop"
EVERSHOP = SHOP_DIR / "node_modules" / "@evershop" / "evershop" / "dist" / "bin" / "evershop.js"
# EverShop's product page: /<category url key>/<product url key>, the product key ending in its number; or the bare
# /<product url key>, its own canonical, for a product whose category URL EverShop's background job did not write
# (which products varies from run to run: one or two of the 40 in most runs).
PRODUCT_URL = re.compile(r"^http://127\.0\.0\.1:\d+/(?:[a-z0-9-]+/)?[a-z0-9-]+-(\d+)$")
VIOLATION_WORDS = ("象牙", "根治", "最好")


@pytest.fixture(scope="session")
def evershop_database():
    """A fresh PostgreSQL database for the shop (EverShop wants its own public schema), dropped afterwards."""
    if shutil.which("node") is None:
        service_missing("Node.js is not installed (the EverShop test shop runs on it)")
    if not (EVERSHOP.is_file() and (SHOP_DIR / ".evershop" / "build").is_dir()):
        service_missing(f"EverShop is not installed and built in {SHOP_DIR}: `make test` does it when npm is present")
    if not _port_open("127.0.0.1", 5432):
        service_missing("PostgreSQL is not listening on 127.0.0.1:5432")
    import sqlalchemy as sa

    url = sa.engine.make_url(PG_BASE_URL)
    name = f"nw_evershop_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield {"DB_HOST": url.host or "127.0.0.1", "DB_PORT": str(url.port or 5432), "DB_NAME": name,
           "DB_USER": url.username or "postgres", "DB_PASSWORD": url.password or "", "DB_SSLMODE": "disable"}
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def evershop_shop(evershop_database, tmp_path_factory):
    """The shop started by `evershop start` on loopback (it migrates the empty database), then seeded: its URL."""
    folder = tmp_path_factory.mktemp("evershop")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **evershop_database, "PORT": str(port), "SUPPRESS_NO_CONFIG_WARNING": "1",
           "NODE_CONFIG": json.dumps({"shop": {"homeUrl": base_url}})}
    log = folder / "server.log"
    with log.open("w", encoding="utf-8") as handle:
        # its own process group: the server starts a subscriber and a cron child that must stop with it
        process = subprocess.Popen(["node", str(EVERSHOP), "start"], cwd=SHOP_DIR, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving("the EverShop shop", port, process, log, timeout=300)
        products = folder / "catalogue.json"
        products.write_text(json.dumps([{"number": p.number, "title": p.title, "price": str(p.price),
                                         "in_stock": p.in_stock, "category": p.category,
                                         "description": p.description} for p in catalogue()],
                                       ensure_ascii=False), encoding="utf-8")
        seeded = subprocess.run(["node", "seed.mjs", str(products)], cwd=SHOP_DIR, env=env, capture_output=True,
                                text=True, timeout=300)
        assert seeded.returncode == 0 and "seeded 40 products" in seeded.stdout, seeded.stdout + seeded.stderr
        _forget_sitemaps()
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _forget_sitemaps() -> None:
    """EverShop writes its sitemaps into the project's public/ (and notes in .evershop/sitemap/) and serves
    them until its half-hourly job: drop any from an earlier run (another port, other products), so the crawl's
    first sitemap request makes them afresh from the seeded catalogue."""
    for stale in (SHOP_DIR / "public").glob("sitemap*.xml"):
        stale.unlink()
    shutil.rmtree(SHOP_DIR / ".evershop" / "sitemap", ignore_errors=True)


@pytest.fixture(scope="session")
def evershop_crawl(evershop_shop, tmp_path_factory):
    """`netwatch crawl generic` over the shop, pipelines and store on: process, items, stats, exported leads."""
    return crawl_generic(evershop_shop, tmp_path_factory.mktemp("evershop-crawl"))


def _product_number(url: str) -> int | None:
    match = PRODUCT_URL.match(url)
    return int(match.group(1)) if match else None


def test_products_found_with_title_and_price(evershop_crawl):
    done, items, stats, _ = evershop_crawl
    assert done.returncode == 0, done.stderr[-3000:]
    expected = {product.number: product for product in catalogue()}
    found = {_product_number(item["url"]): item for item in items}
    right = products_right(expected, found)
    print(f"\nevershop: {len(right)} of {len(expected)} products found with title and price right; "
          f"{len(items)} listings stored; {stats['pages']} pages; coverage {stats['field_coverage']}")
    assert len(right) >= 39, sorted(set(expected) - set(right))
    out_of_stock = [n for n, product in expected.items() if not product.in_stock]
    assert set(out_of_stock) <= set(found), "out-of-stock (Sold out) products must be found too"


def test_no_page_but_products_is_stored(evershop_crawl):
    _, items, stats, _ = evershop_crawl
    assert items, "nothing stored"
    not_products = [item["url"] for item in items if _product_number(item["url"]) is None]
    assert not_products == [], "non-product pages (home, category, search, account) stored as listings"
    urls = [item["url"] for item in items]
    assert len(urls) == len(set(urls)) == len({item["canonical_id"] for item in items})
    assert stats["items_by_type"] == {"listing": len(items)}
    assert stats["field_coverage"]["title"] == 1.0 and stats["field_coverage"]["price"] == 1.0


def test_every_lead_is_on_a_product_page(evershop_crawl):
    _, items, _, leads = evershop_crawl
    with_violations = {p.number for p in catalogue() if any(w in p.title + p.description for w in VIOLATION_WORDS)}
    assert leads, "the seeded violation texts gave no leads"
    assert all(_product_number(lead["listing_url"]) for lead in leads), [lead["listing_url"] for lead in leads]
    hashes = {item["url"]: item["content_hash"] for item in items}
    assert all(lead["evidence_hash"] == hashes[lead["listing_url"]] for lead in leads)
    found = {_product_number(item["url"]) for item in items}
    assert {_product_number(lead["listing_url"]) for lead in leads} >= with_violations & found
