"""Lead exports and the `netwatch leads` / `netwatch runs` commands, on both databases."""

from __future__ import annotations

import csv
import json
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from test_store_helpers import hit, listing, shop, store_url  # noqa: F401  (store_url is a fixture)

from netwatch.cli import cli
from netwatch.ops.export import HEADERS_ZH, export_leads
from netwatch.store import Store, StoreError
from netwatch.store.queries import LEAD_COLUMNS


@pytest.fixture
def filled(store_url):
    """Five leads: two sites, three categories, one with a formula-like title and matched text."""
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [
            shop("s1"),
            listing(1, hits=[hit("最佳")], title="=HYPERLINK(\"http://evil\",\"点我\")", fetched_at="2024-05-01T00:00:00Z"),
            listing(2, hits=[hit("-1+1", rule="minus", severity="high")], fetched_at="2024-05-03T00:00:00Z"),
            listing(3, hits=[hit("象牙", pack="banned", rule="ivory", category="banned_goods", severity="critical")],
                    fetched_at="2024-05-05T00:00:00Z"),
            listing(4, platform="lvyuan", shop="t1", hits=[hit("@SUM(A1)", rule="at")], fetched_at="2024-05-05T00:00:00Z"),
            listing(5, hits=[hit("好评返现", pack="reviews", rule="cashback", category="fake_reviews", severity="low")],
                    fetched_at="2024-05-06T00:00:00Z"),
        ])
        store.finish_run(run, {"response_received_count": 7}, "finished")
        yield store


def read_csv(path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1  # one BOM, at the start
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_csv_has_bom_columns_and_neutralised_formulas(filled, tmp_path):
    out = tmp_path / "leads.csv"
    assert export_leads(filled, out, chunk_size=2) == 5  # several chunks, one header
    header, *rows = read_csv(out)
    assert header == LEAD_COLUMNS and len(rows) == 5
    by_title = {row[header.index("title")]: row for row in rows}
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in by_title
    matched = {row[header.index("matched_text")] for row in rows}
    assert {"'-1+1", "'@SUM(A1)", "最佳", "象牙"} <= matched
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row
               if cell not in ("-1", "-2.5"))
    first = by_title["'=HYPERLINK(\"http://evil\",\"点我\")"]
    assert first[header.index("shop_name")] == "店铺s1" and first[header.index("price")] == "100.0"
    # stored in UTC, written in the display zone (NETWATCH_TZ, default Asia/Shanghai: 8 hours ahead)
    assert first[header.index("first_seen")] == "2024-05-01 08:00:00"
    export_leads(filled, out, tz=ZoneInfo("UTC"))
    header, *rows = read_csv(out)
    assert "2024-05-01 00:00:00" in {row[header.index("first_seen")] for row in rows}
    # a zone with daylight saving time is converted in Python (summer time: UTC+2), the others by the database
    export_leads(filled, out, tz=ZoneInfo("Europe/Berlin"))
    header, *rows = read_csv(out)
    assert "2024-05-01 02:00:00" in {row[header.index("first_seen")] for row in rows}


def test_chinese_headers_and_values(filled, tmp_path):
    out = tmp_path / "线索.csv"
    export_leads(filled, out, lang="zh", category="banned_goods")
    header, *rows = read_csv(out)
    assert header[:7] == ["线索编号", "平台", "店铺名称", "店铺链接", "统一社会信用代码", "商品链接", "商品标题"]
    assert {"价格", "违法类型", "命中规则", "法律依据", "命中内容", "状态", "所属地区"} <= set(header)
    assert {"首次发现（Asia/Shanghai）", "最近发现（Asia/Shanghai）"} <= set(header)  # times labelled with their zone
    assert set(HEADERS_ZH) == set(LEAD_COLUMNS)
    (row,) = rows
    assert row[header.index("违法类型")] == "禁限售商品" and row[header.index("状态")] == "新线索"
    assert row[header.index("严重程度")] == "严重"


def test_filters(filled, tmp_path):
    out = tmp_path / "f.csv"
    assert export_leads(filled, out, site="lvyuan") == 1
    assert export_leads(filled, out, min_severity="high") == 2
    assert export_leads(filled, out, category=["banned_goods", "fake_reviews"]) == 2
    assert export_leads(filled, out, since="2024-05-05") == 3
    lead_id = filled.leads(category="fake_reviews")[0]["lead_id"]
    filled.set_status([lead_id], "dismissed")
    assert export_leads(filled, out, status="new") == 4
    assert export_leads(filled, out, status=["dismissed"]) == 1
    assert export_leads(filled, out, site="nowhere") == 0
    assert read_csv(out) == [LEAD_COLUMNS]  # an empty export still has its header
    with pytest.raises(StoreError, match="unknown severity"):
        export_leads(filled, out, min_severity="urgent")
    with pytest.raises(StoreError, match="not a date"):
        export_leads(filled, out, since="yesterday")


def test_jsonl_and_xlsx(filled, tmp_path):
    assert export_leads(filled, tmp_path / "l.jsonl", "jsonl", chunk_size=2) == 5
    records = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 5 and {record["platform"] for record in records} == {"netmall", "lvyuan"}
    assert export_leads(filled, tmp_path / "l.xlsx", "xlsx", lang="zh") == 5
    sheet = load_workbook(tmp_path / "l.xlsx").active
    rows = list(sheet.values)
    assert rows[0][0] == "线索编号" and len(rows) == 6
    assert all(not (isinstance(cell, str) and cell.startswith("=")) for row in rows for cell in row)


def test_export_into_a_missing_directory_is_a_clear_error(filled, tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        export_leads(filled, tmp_path / "no" / "leads.csv")


def test_cli_list_show_set_export_and_runs(filled, tmp_path):
    runner = CliRunner()
    db = ["--db", filled.url]
    result = runner.invoke(cli, ["leads", "list", *db, "--category", "banned_goods", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "商品3" in result.output and "1 lead(s)" in result.output and "critical" in result.output

    lead_id = filled.leads(category="banned_goods")[0]["lead_id"]
    result = runner.invoke(cli, ["leads", "show", *db, str(lead_id), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "banned/ivory" in result.output and "price history" in result.output and "店铺s1" in result.output

    result = runner.invoke(cli, ["leads", "set", *db, str(lead_id), "--status", "resolved"])
    assert result.exit_code != 0 and "new → resolved" in result.output
    result = runner.invoke(cli, ["leads", "set", *db, str(lead_id), "--status", "已确认", "--assignee", "李四",
                                 "--lang", "en"])
    assert result.exit_code == 0 and "1 lead(s) changed" in result.output
    assert filled.lead(lead_id)["assignee"] == "李四" and filled.lead(lead_id)["status"] == "confirmed"

    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["leads", "export", *db, "--out", str(out), "--lang", "zh", "--status", "confirmed"])
    assert result.exit_code == 0, result.output
    assert len(read_csv(out)) == 2

    result = runner.invoke(cli, ["runs", *db, "--last", "5", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "netmall" in result.output and "finished" in result.output


def test_cli_bad_database_exits_non_zero_with_a_message(tmp_path):
    result = CliRunner().invoke(cli, ["leads", "list", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/test"])
    assert result.exit_code == 1 and "unreachable" in result.output


def test_leads_first_found_by_given_runs(filled, tmp_path):
    """The nightly outbox's filter: a region's new leads are those its runs found first."""
    later = filled.start_run("netmall")
    filled.save_batch(later, [listing(1, hits=[hit("最佳")]), listing(6, hits=[hit("全网第一", rule="first")])])
    out = tmp_path / "new.csv"
    assert export_leads(filled, out, first_run_ids=[later]) == 1
    header, row = read_csv(out)
    assert header == LEAD_COLUMNS and row[header.index("matched_text")] == "全网第一"
    assert export_leads(filled, out, first_run_ids=[later - 1, later]) == 6
    assert export_leads(filled, out, first_run_ids=[]) == 0 and read_csv(out) == [LEAD_COLUMNS]


@pytest.fixture
def awkward(store_url):
    """Leads whose cells a spreadsheet would break: an all-digit credit code, a control character from a page,
    plain negative numbers and a phone number that starts like a formula."""
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [
            shop("d1", credit_code="911101085513853000"),
            listing(6, shop="d1", title="\x1b[31m象牙手镯", hits=[hit("-1", rule="minus_one")]),
            listing(7, shop="d1", title="-2.5", hits=[hit("+86 138 0000 0000", rule="phone")]),
        ])
        store.finish_run(run, {}, "finished")
        yield store


def test_csv_keeps_long_digits_negative_numbers_and_guards_formulas(awkward, tmp_path):
    out = tmp_path / "leads.csv"
    assert export_leads(awkward, out) == 2
    header, *rows = read_csv(out)
    cell = {(row[header.index("title")], name): row[header.index(name)] for row in rows for name in header}
    assert cell[("-2.5", "credit_code")] == '="911101085513853000"'  # text in Excel, WPS and LibreOffice
    assert cell[("-2.5", "matched_text")] == "'+86 138 0000 0000"
    assert {row[header.index("matched_text")] for row in rows} == {"-1", "'+86 138 0000 0000"}


def test_xlsx_export_survives_control_characters(awkward, tmp_path):
    out = tmp_path / "leads.xlsx"
    assert export_leads(awkward, out, "xlsx") == 2
    header, *rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    titles = {row[header.index("title")] for row in rows}
    assert titles == {"\ufffd[31m象牙手镯", "-2.5"}
    assert {row[header.index("credit_code")] for row in rows} == {"911101085513853000"}


def test_a_real_spreadsheet_reads_the_csv_digits_as_text(awkward, tmp_path):
    """LibreOffice (Debian's, headless) opens the export as a person would, formulas evaluated: the credit
    code keeps its 18 digits (as plain digits it became 9.11101085513853e+17), "-1" is the number -1."""
    import shutil
    import subprocess

    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (Debian package libreoffice-calc-nogui) is not installed; `make test` installs it")
    out = tmp_path / "leads.csv"
    export_leads(awkward, out)
    # comma, double quote, UTF-8 (76), from line 1, ..., evaluate formulas (the 13th token) as Excel does
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
                    "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"), str(out)],
                   check=True, capture_output=True, timeout=180)
    header, *rows = list(load_workbook(tmp_path / "lo" / "leads.xlsx", data_only=True).active.iter_rows(values_only=True))
    assert {row[header.index("credit_code")] for row in rows} == {"911101085513853000"}
    # the guarded phone number stays text (LibreOffice shows the guard's apostrophe; Excel hides it)
    assert {row[header.index("matched_text")] for row in rows} == {-1, "'+86 138 0000 0000"}
