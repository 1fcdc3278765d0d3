"""One item path, three doors: the same saved pages crawled (a real `netwatch crawl generic` of a loopback
server, into a SQLite store), scanned (`netwatch scan FILE --url URL --json`) and imported (`netwatch import`
of the same listings' fields) give the same hits, listing by listing.

The pages (fixtures/pages/parity/) hold a JSON-LD review "五星好评返5元" (cash for praise), a banned-goods
title, and specs with a banned material and an absolute term.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from netwatch.analysis.price_history import PACK as PRICE_HISTORY_PACK
from netwatch.analysis.reviews import PACK as REVIEW_SIGNALS_PACK
from netwatch.cli import cli

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "parity"
# Leads the store raises after a run (over its price history and its shops' reviews), not on the item path.
POST_RUN_PACKS = {PRICE_HISTORY_PACK, REVIEW_SIGNALS_PACK}

# The listings as a platform dump would hold them: the fields the pages show.
LISTINGS = {
    "review": {"title": "纯棉短袖T恤 男款", "description": "透气舒适，，夏季百搭。", "price": "59.00", "category": "服装",
               "reviews": ["五星好评返5元，联系客服领取", "布料挺厚实，尺码偏大一点"]},
    "banned": {"title": "天然 象@牙 手镯 老料", "description": "传世老料，包浆自然。", "price": "3800", "category": "general"},
    "specs": {"title": "复古手镯", "description": "手工打磨，送礼佳品。", "price": "1280", "category": "general",
              "specs": {"材质": "象牙", "工艺": "全网最低价  手工"}},
}
# What each page must give (so that three empty answers cannot pass).
EXPECTED = {
    "review": ("fake_reviews", "cash_for_praise", "review", "五星好评返"),
    "banned": ("banned_goods", "protected_wildlife", "title", "象@牙"),
    "specs": ("banned_goods", "protected_wildlife", "specs", "象牙"),
}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(PAGES)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def url_of(site: str, name: str) -> str:
    return f"{site}/item/{name}.html"


def stored_hits(db_url: str) -> dict[str, set[tuple[str, str, str, str]]]:
    """Listing URL -> its (pack, rule, field, match) in the store, over every run."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT l.url, ld.pack, ld.rule, h.field, h.match FROM leads ld"
                " JOIN lead_hits h ON h.lead_id = ld.id JOIN listings l ON l.id = ld.listing_id"
                " WHERE ld.subject = 'listing'")).all()
    finally:
        engine.dispose()
    found: dict[str, set[tuple[str, str, str, str]]] = {}
    for url, pack, rule, field, match in rows:
        if pack not in POST_RUN_PACKS:
            found.setdefault(url, set()).add((pack, rule, field, match))
    return found


def run_stats(db_url: str) -> dict:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            (stats,) = conn.execute(sa.text("SELECT stats FROM runs")).one()
    finally:
        engine.dispose()
    return json.loads(stats) if isinstance(stats, str) else stats


@pytest.fixture(scope="module")
def crawled(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    db_url = f"sqlite:///{tmp / 'crawl.db'}"
    stats_file = tmp / "stats.json"
    done = subprocess.run(
        [sys.executable, "-c", "from netwatch.cli import main; main()", "crawl", "generic",
         "-a", f"start_url={site}/index.html", "--stats", str(stats_file), "--progress", "0",
         "-s", "LOG_LEVEL=WARNING"],
        env={**os.environ, "NETWATCH_DB_URL": db_url}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (summary,) = json.loads(stats_file.read_text(encoding="utf-8"))
    assert summary["items"] == len(LISTINGS), summary  # Scrapy exits 0 on an empty crawl
    return stored_hits(db_url), run_stats(db_url)


def scanned(site: str) -> dict[str, set[tuple[str, str, str, str]]]:
    found = {}
    for name in LISTINGS:
        url = url_of(site, name)
        result = CliRunner().invoke(cli, ["scan", str(PAGES / "item" / f"{name}.html"), "--url", url, "--json"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert [listing["url"] for listing in payload["listings"]] == [url]
        found[url] = {(h["pack"], h["rule"], h["field"], h["match"]) for h in payload["hits"]}
    return {url: hits for url, hits in found.items() if hits}


def imported(site: str, tmp: Path) -> dict[str, set[tuple[str, str, str, str]]]:
    db_url = f"sqlite:///{tmp / 'import.db'}"
    listings, reviews = tmp / "listings.jsonl", tmp / "reviews.jsonl"
    with listings.open("w", encoding="utf-8") as out:
        for name, fields in LISTINGS.items():
            # Every row with every column, as a dump has them (the import reads the columns off the first row).
            row = {"canonical_id": name, "url": url_of(site, name), "specs": {},
                   **{k: v for k, v in fields.items() if k != "reviews"}}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    with reviews.open("w", encoding="utf-8") as out:
        for name, fields in LISTINGS.items():
            for text in fields.get("reviews", []):
                out.write(json.dumps({"canonical_id": name, "url": url_of(site, name), "review": text},
                                     ensure_ascii=False) + "\n")
    for path, kind in ((listings, "listings"), (reviews, "reviews")):
        result = CliRunner().invoke(cli, ["import", str(path), "--kind", kind, "--platform", "parity", "--db", db_url],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return stored_hits(db_url)


def test_crawl_scan_and_import_find_the_same_hits(site, crawled, tmp_path):
    crawl_hits, stats = crawled
    doors = {"crawl": crawl_hits, "scan": scanned(site), "import": imported(site, tmp_path)}
    for name, hit in EXPECTED.items():
        assert hit in crawl_hits.get(url_of(site, name), set()), (name, crawl_hits)
    assert doors["scan"] == doors["crawl"], "scan differs from crawl"
    assert doors["import"] == doors["crawl"], "import differs from crawl"
    # The crawl counts what the path found under the stat names the store and the reports read.
    assert stats["netwatch/match/items"] == len(LISTINGS)
    # (not fake_reviews: the review pass adds its own leads to that count after the crawl)
    for category, packs in (("banned_goods", {"banned_goods"}), ("false_advertising", {"ad_absolute_terms", "cure_claims"})):
        assert stats[f"netwatch/hits/{category}"] == sum(
            1 for hits in crawl_hits.values() for pack, *_ in hits if pack in packs), category
