"""A real open-source shop engine, django-oscar (installed from PyPI by the dev extra), seeded with 40 products
(Chinese and English, a quarter out of stock, some with violation texts), served on loopback in its Chinese and
its English interface with its default theme, and crawled by `netwatch crawl generic` as a new user would.

What must hold per interface language: at least 39 of the 40 products found with title and price right, no page
that is not a product stored as a listing (catalogue, category, facet, review-form pages), and every lead's URL
a product page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("oscar", reason="django-oscar is in the dev extra: make test installs it")

from netwatch_fixtures.oscar_shop.seed import catalogue  # noqa: E402 - after the skip: it names Oscar's settings
from shop_helpers import crawl_generic, free_port, products_right, wait_until_serving  # noqa: E402

LANGUAGES = ("zh-hans", "en-gb")
# Oscar's product page: /catalogue/<slug>_<id>/ and nothing after it.
PRODUCT_URL = re.compile(r"^http://127\.0\.0\.1:\d+/catalogue/[^/]+_(\d+)/$")


def _oscar_env(db: Path, language: str = "en-gb") -> dict[str, str]:
    return {**os.environ, "OSCAR_TEST_DB": str(db), "OSCAR_TEST_LANGUAGE": language,
            "DJANGO_SETTINGS_MODULE": "netwatch_fixtures.oscar_shop.settings"}


@pytest.fixture(scope="session")
def oscar_seeded(tmp_path_factory):
    """One seeded shop (database and search index) that each interface language gets a copy of."""
    folder = tmp_path_factory.mktemp("oscar-seed")
    subprocess.run([sys.executable, "-m", "netwatch_fixtures.oscar_shop.seed"], env=_oscar_env(folder / "shop.db"),
                   check=True, capture_output=True, timeout=600)
    return folder


@pytest.fixture(scope="session", params=LANGUAGES)
def oscar_shop(request, oscar_seeded, tmp_path_factory):
    """The shop served by Django's server on loopback, in one interface language: its base URL."""
    language = request.param
    folder = tmp_path_factory.mktemp(f"oscar-{language}")
    shutil.copytree(oscar_seeded, folder, dirs_exist_ok=True)
    port = free_port()
    log = folder / "server.log"
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            env=_oscar_env(folder / "shop.db", language), stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_until_serving("the Oscar shop", port, process, log)
        yield language, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def oscar_crawl(oscar_shop, tmp_path_factory):
    """`netwatch crawl generic` over the shop, pipelines and store on: items, stats, exported leads, stderr."""
    language, base_url = oscar_shop
    tmp = tmp_path_factory.mktemp(f"oscar-crawl-{language}")
    done, items, stats, leads = crawl_generic(base_url, tmp)
    return language, done, items, stats, leads


def test_products_found_with_title_and_price(oscar_crawl):
    language, done, items, stats, _ = oscar_crawl
    assert done.returncode == 0, done.stderr[-3000:]
    expected = {product.number: product for product in catalogue()}
    found = {}
    for item in items:
        match = PRODUCT_URL.match(item["url"])
        if match:
            found[int(match.group(1))] = item
    right = products_right(expected, found)
    print(f"\noscar {language}: {len(right)} of {len(expected)} products found with title and price right; "
          f"{len(items)} listings stored; coverage {stats['field_coverage']}")
    assert len(right) >= 39, sorted(set(expected) - set(right))
    out_of_stock = [n for n, product in expected.items() if not product.in_stock]
    assert set(out_of_stock) <= set(found), "out-of-stock products must be found too"


def test_no_page_but_products_is_stored(oscar_crawl):
    language, _, items, stats, _ = oscar_crawl
    not_products = [item["url"] for item in items if not PRODUCT_URL.match(item["url"])]
    assert not_products == [], f"{language}: non-product pages stored as listings"
    urls = [item["url"] for item in items]
    assert len(urls) == len(set(urls)) == len({item["canonical_id"] for item in items})
    assert stats["items_by_type"] == {"listing": len(items)}
    assert stats["field_coverage"]["title"] == 1.0 and stats["field_coverage"]["price"] == 1.0


def test_every_lead_is_on_a_product_page(oscar_crawl):
    language, _, items, _, leads = oscar_crawl
    with_violations = {p.number for p in catalogue() if any(w in p.title + p.description for w in ("象牙", "根治", "最好"))}
    assert leads, f"{language}: the seeded violation texts gave no leads"
    assert all(PRODUCT_URL.match(lead["listing_url"]) for lead in leads), [lead["listing_url"] for lead in leads]
    # the evidence is the product page's own hash (not a review form's that shows the same product)
    hashes = {item["url"]: item["content_hash"] for item in items}
    assert all(lead["evidence_hash"] == hashes[lead["listing_url"]] for lead in leads)
    lead_products = {int(PRODUCT_URL.match(lead["listing_url"]).group(1)) for lead in leads}
    found = {int(m.group(1)) for m in (PRODUCT_URL.match(item["url"]) for item in items) if m}
    assert lead_products >= with_violations & found
