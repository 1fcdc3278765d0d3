"""End to end: what `make demo` runs (netwatch demo), checked against the demo marketplace's ground truth.

Every planted violation must come out as a lead of exactly its categories, and no trap may be
flagged: exact sets per category, not "more than zero".
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest
import sqlalchemy as sa
from netwatch_fixtures.mall import manifest
from netwatch_fixtures.mall.market import MallConfig

from netwatch.checks.text import CATEGORIES


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    db = f"sqlite:///{work / 'netwatch.db'}"
    out = work / "leads.csv"
    env = {**os.environ, "NETWATCH_ARCHIVE_DIR": str(work / "archive"),  # the evidence archive beside the store
           "NETWATCH_SCREENSHOTS": "1"}
    done = subprocess.run([sys.executable, "-m", "netwatch.cli", "demo", "--db", db, "--out", str(out), "--lang", "zh"],
                          cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return db, out, done.stdout


def flagged(db_url: str) -> dict[tuple[str, str, str], set[str]]:
    """(site, kind, id) -> categories of its leads, read straight from the store's tables."""
    engine = sa.create_engine(db_url)
    result: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for site, ident, category in conn.execute(sa.text(
                "SELECT l.platform, l.canonical_id, d.category FROM leads d JOIN listings l ON l.id = d.listing_id "
                "WHERE d.subject = 'listing'")):
            result[(site, "listing", ident)].add(category)
        for site, ident, category in conn.execute(sa.text(
                "SELECT s.platform, s.shop_id, d.category FROM leads d JOIN shops s ON s.id = d.shop_id "
                "WHERE d.subject = 'shop'")):
            result[(site, "shop", ident)].add(category)
    engine.dispose()
    return result


def expected(day: int = 0) -> tuple[dict[tuple[str, str, str], set[str]], set[tuple[str, str, str]]]:
    truth = manifest(MallConfig(day=day))
    wanted = {(e["site"], e["kind"], e["id"]): {c for c in e["categories"]}
              for e in truth["entries"] if e["from_day"] <= day and e["categories"]}
    traps = {(e["site"], e["kind"], e["id"]) for e in truth["entries"] if e["trap"]}
    return wanted, traps


def test_manifest_covers_every_category():
    truth = manifest(MallConfig())
    assert {c for e in truth["entries"] for c in e["categories"]} == set(CATEGORIES)
    assert any(e["trap"] for e in truth["entries"])


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_each_category_flags_exactly_the_planted_entities(demo_run, category):
    db, _, _ = demo_run
    got = {key for key, cats in flagged(db).items() if category in cats}
    wanted, _ = expected()
    want = {key for key, cats in wanted.items() if category in cats}
    assert sorted(got - want) == [], f"false {category} leads"
    assert sorted(want - got) == [], f"missed {category} plants"


def test_no_trap_is_flagged(demo_run):
    db, _, _ = demo_run
    _, traps = expected()
    leads = flagged(db)
    assert {trap: leads[trap] for trap in traps if trap in leads} == {}


def test_demo_delists_nothing(demo_run):
    """The demo crawls its five sites at once: none of them may mark another's listings delisted."""
    db, _, _ = demo_run
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        by_site = dict(conn.execute(sa.text(
            "SELECT platform, sum(CASE WHEN active THEN 0 ELSE 1 END) FROM listings GROUP BY platform")).all())
    engine.dispose()
    assert len(by_site) == 5 and set(by_site.values()) == {0}, by_site


def test_csv_export_and_summary(demo_run):
    db, out, stdout = demo_run
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        assert len(rows) == conn.scalar(sa.text("SELECT count(*) FROM leads"))
    engine.dispose()
    for column in ("线索编号", "商品链接", "违法类型", "命中规则", "法律依据", "命中内容", "首次发现（Asia/Shanghai）"):
        assert column in rows[0]
    assert str(out) in stdout.replace("\n", "") or out.name in stdout
    assert "抓取页面" in stdout and "商品" in stdout and "禁限售商品" in stdout  # the summary in Chinese
    # it ends with how to open the workbench
    assert stdout.rstrip().splitlines()[-2:] == [f"  netwatch serve --db {db} --port 8800", "  http://127.0.0.1:8800/"]


def test_every_demo_lead_has_its_evidence(demo_run):
    """#15: every lead points to an archived record, every new critical or high lead's page has screenshots,
    and pages the browser rendered are archived as rendered."""
    db, out, _ = demo_run
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert rows and all(row["首次发现证据（WARC 记录）"].count("sha256:") == 1 for row in rows)
    archive = out.parent / "archive"
    pages = {page["url"] for path in archive.glob("*/*.screens.json")
             for page in json.loads(path.read_text(encoding="utf-8"))["pages"]}
    serious = {row["商品链接"] or row["店铺链接"] for row in rows if row["严重程度"] in ("严重", "高")}
    assert serious and serious <= pages
    entries = [json.loads(line) for path in archive.glob("*/*.index.jsonl") for line in path.read_text().splitlines()]
    assert any(entry["rendered"] for entry in entries)
    done = subprocess.run([sys.executable, "-m", "netwatch.cli", "evidence", "verify", "--all", "--db", db],
                          cwd=out.parent, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NETWATCH_ARCHIVE_DIR": str(archive)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_second_day_finds_the_comparison_price_raised_before_a_discount(tmp_path):
    """Day 0 then day 1 into one store: the 原价 raised on day 1 above the week's low becomes a lead."""
    db = f"sqlite:///{tmp_path / 'netwatch.db'}"
    for day in (0, 1):
        done = subprocess.run([sys.executable, "-m", "netwatch.cli", "demo", "--db", db, "--day", str(day),
                               "--out", str(tmp_path / f"day{day}.csv")],
                              cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    got = {key for key, cats in flagged(db).items() if "price_fraud" in cats}
    want = set()
    for day in (0, 1):
        wanted, _ = expected(day)
        want |= {key for key, cats in wanted.items() if "price_fraud" in cats}
    assert any(e["from_day"] == 1 and "price_fraud" in e["categories"] for e in manifest(MallConfig(day=1))["entries"])
    assert got == want
