"""Random inspections (双随机): a draw from the demo marketplace's shops (crawled on loopback into SQLite and
PostgreSQL), stratified by region, reproducible from its record, a changed population told apart, inspectors
drawn with their own region excluded, and the Chinese task list as CSV and XLSX."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from netwatch.cli import cli
from netwatch.ops.nightly import crawl_specs_locally
from netwatch.ops.sampling import Inspector, allocate, draw, export_tasks, make_sample, show_sample
from netwatch.ops.watchlist import add_target, make_spec
from netwatch.store import Store
from netwatch.store.followup_models import SampleMember
from netwatch.store.models import Base

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}
PEOPLE = [Inspector("王科", "海淀"), Inspector("张伟", "海淀"), Inspector("李娟", "朝阳"), Inspector("赵敏", "朝阳")]


def test_allocation_is_proportional_and_exact():
    assert allocate({"海淀": 40, "朝阳": 2}, 21) == {"海淀": 20, "朝阳": 1}
    assert allocate({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}  # ties: by name
    assert allocate({"a": 3}, 10) == {"a": 3}  # never more than there are
    members = [(f"p/{n}", "海淀" if n % 3 else "朝阳") for n in range(30)]
    once = draw(members, 6, "seed-1", PEOPLE, exclude_own_region=True)
    assert once == draw(list(reversed(members)), 6, "seed-1", PEOPLE, exclude_own_region=True)  # order-free
    assert once != draw(members, 6, "seed-2", PEOPLE, exclude_own_region=True)
    assert Counter(m["region"] for m in once) == {"海淀": 4, "朝阳": 2}
    for member in once:  # nobody inspects their own region
        own = {p.name for p in PEOPLE if p.region == member["region"]}
        assert member["inspectors"] not in own
    with pytest.raises(ValueError, match="only 0 inspector"):
        draw(members, 3, "s", [Inspector("王科", "海淀")], exclude_own_region=True)


@pytest.fixture
def market(db_url):
    """40 netmall shops (海淀) and two self-built sites (朝阳), crawled into a fresh store."""
    from netwatch_fixtures.mall.launch import start_mall

    with Store(db_url) as store:
        with store.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        with start_mall(shops=40, items_per_shop=2) as mall:
            add_target(store.engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀",
                                               tags="nightly"))
            for site in ("lvyuan", "zhenpin"):
                add_target(store.engine, make_spec(site, profile=site, url=mall.urls[site], region="朝阳",
                                                   tags="weekly"))
            crawled = crawl_specs_locally({n: (site, {}, {site: mall.urls[site]})
                                           for n, site in enumerate(("netmall", "lvyuan", "zhenpin"))}, db_url, QUIET)
        assert all(outcome.run_id for outcome in crawled.values()), crawled
        yield store, mall


def test_a_draw_is_reproduced_from_its_record_and_a_changed_population_is_told(market, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    store, mall = market
    sample = make_sample(store, size=21, seed="2026-双随机-1", by="测试员", inspectors=PEOPLE, exclude_own_region=True)
    assert sample["population_size"] == 42 and len(sample["members"]) == 21
    assert Counter(m["region"] for m in sample["members"]) == {"海淀": 20, "朝阳": 1}
    assert sample["reproduced"] and not sample["population_changed"]
    assert sample["created_by"] == "测试员" and len(sample["population_hash"]) == 64
    for member in sample["members"]:
        assert {p.region for p in PEOPLE if p.name == member["inspectors"]} != {member["region"]}
    again = make_sample(store, size=21, seed="2026-双随机-1", by="测试员", inspectors=PEOPLE, exclude_own_region=True)
    assert [m["member_key"] for m in again["members"]] == [m["member_key"] for m in sample["members"]]

    # filters: a region (through the watchlist) and a tag
    east = make_sample(store, size=5, region=["朝阳"], seed="x")
    assert east["population_size"] == 2 and {m["member_key"] for m in east["members"]} == \
        {"lvyuan/lvyuan", "zhenpin/zhenpin"}
    assert make_sample(store, size=3, tag=["weekly"], seed="x")["population_size"] == 2
    assert make_sample(store, size=3, platform=["netmall"], category=["licence"], seed="x")["population_size"] >= 1

    # the market changes: a shop closes (its page is still stored) — here a new one opens
    with start_mall(shops=41, items_per_shop=2, port=mall.port) as bigger:
        crawl_specs_locally({0: ("netmall", {}, {"netmall": bigger.urls["netmall"]})}, db_url, QUIET)
    later = show_sample(store, sample["id"])
    assert later["reproduced"], "the draw is re-derived from the recorded population, whatever happened since"
    assert later["population_changed"] and later["population_now"]["added"] == ["netmall/1041"]
    assert later["population_now"]["size"] == 43

    # a record tampered with no longer reproduces
    with store.engine.begin() as conn:
        conn.execute(sa.update(SampleMember).where(SampleMember.sample_id == sample["id"], SampleMember.position == 1)
                     .values(member_key="netmall/9999"))
    assert not show_sample(store, sample["id"])["reproduced"]

    csv_path, xlsx_path = tmp_path / "tasks.csv", tmp_path / "tasks.xlsx"
    assert export_tasks(store, again, csv_path) == 21 == export_tasks(store, again, xlsx_path)
    rows = list(csv.DictReader(csv_path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["序号"] == "1" and rows[0]["随机种子"] == "2026-双随机-1" and rows[0]["检查人员"]
    assert {row["所属地区"] for row in rows} == {"海淀", "朝阳"} and all(row["名称"] for row in rows)
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx_path).active
    assert sheet.title == "抽查任务" and sheet.max_row == 22 and sheet.cell(1, 7).value == "检查人员"


def test_cli_sample_and_show(market, tmp_path):
    store, _ = market
    env = {"NETWATCH_DB_URL": store.url}
    out = tmp_path / "tasks.csv"
    drawn = CliRunner().invoke(cli, ["sample", "-n", "4", "--seed", "s1", "--by", "王科", "--inspector", "李娟:朝阳",
                                     "--inspector", "王科:海淀", "--exclude-own-region", "--out", str(out)], env=env)
    assert drawn.exit_code == 0, drawn.output
    assert "从 42 个店铺中抽取 4 个" in drawn.output and "随机种子 s1" in drawn.output
    assert "复现：与记录一致" in drawn.output and "(Asia/Shanghai)" in drawn.output and out.exists()
    sample_id = drawn.output.split("抽查 ", 1)[1].split("：", 1)[0]
    shown = CliRunner().invoke(cli, ["sample", "show", sample_id, "--lang", "en"], env=env)
    assert shown.exit_code == 0 and "reproduced: matches the record" in shown.output
    assert "population: unchanged" in shown.output
    short = CliRunner().invoke(cli, ["sample", "-n", "4", "--inspector", "王科:海淀", "--exclude-own-region"], env=env)
    assert short.exit_code == 1 and "only 0 inspector(s) may inspect" in short.output
    assert CliRunner().invoke(cli, ["sample"], env=env).exit_code == 2  # -n missing
    missing = CliRunner().invoke(cli, ["sample", "show", "999"], env=env)
    assert missing.exit_code == 1 and "there is no sample 999" in missing.output
