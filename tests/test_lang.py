"""The same language everywhere (#18): Chinese names by default and accepted in filters, unknown filter values
refused with the valid ones (exit 2), `leads list` in triage order at 80 columns, times in a labelled zone."""

from __future__ import annotations

from click.testing import CliRunner
from rich.cells import cell_len
from test_export import filled, read_csv  # noqa: F401  (fixtures)
from test_store_helpers import hit, listing, shop, store_url  # noqa: F401

from netwatch.cli import cli
from netwatch.ops.report import export_new_leads


def run(*args: str, env: dict | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env or {})


def test_list_is_chinese_sorted_by_severity_then_recency_and_fits_80_columns(filled):
    result = run("leads", "list", "--db", filled.url, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), max(lines, key=cell_len)  # CJK: two cells each
    assert "严重" in result.output and "禁限售商品" in result.output and "新线索" in result.output
    assert "banned_goods" not in result.output and "Asia/Shanghai" in result.output
    ids = [int(line.split()[0]) for line in lines if line.split() and line.split()[0].isdigit()]
    order = {row["lead_id"]: row for row in filled.leads(limit=None)}
    ranks = [("low", "medium", "high", "critical").index(order[lead_id]["severity"]) for lead_id in ids]
    assert ranks == sorted(ranks, reverse=True) and len(ids) == 5
    mediums = [order[lead_id]["last_seen"] for lead_id in ids if order[lead_id]["severity"] == "medium"]
    assert mediums == sorted(mediums, reverse=True) and len(mediums) == 2  # newest first within a severity
    assert "共 5 条线索" in result.output


def test_list_says_when_it_is_capped(filled):
    result = run("leads", "list", "--db", filled.url, "--limit", "2")
    assert result.exit_code == 0 and "只显示前 2 条，共 5 条" in result.output
    result = run("leads", "list", "--db", filled.url, "--limit", "2", "--lang", "en")
    assert "showing the first 2 of 5 leads" in result.output


def test_filters_accept_chinese_names_and_refuse_unknown_ones(filled, tmp_path):
    result = run("leads", "list", "--db", filled.url, "--category", "禁限售商品", "--lang", "en")
    assert result.exit_code == 0 and "1 lead(s)" in result.output
    result = run("leads", "list", "--db", filled.url, "--min-severity", "高", "--status", "新线索", "--lang", "en")
    assert result.exit_code == 0 and "2 lead(s)" in result.output
    out = tmp_path / "f.csv"
    for args in (("--category", "banend"), ("--status", "closed"), ("--min-severity", "urgent")):
        result = run("leads", "export", "--db", filled.url, "--out", str(out), *args)
        assert result.exit_code == 2, result.output
        assert "use one of" in result.output and not out.exists()
    assert "banned_goods (禁限售商品)" in run("leads", "list", "--db", filled.url, "--category", "x").output
    result = run("leads", "export", "--db", filled.url, "--out", str(out), "--category", "禁限售商品,刷单炒信")
    assert result.exit_code == 0 and "2 条线索已写入" in result.output


def test_times_are_shown_in_the_configured_zone_with_its_label(filled):
    lead_id = filled.leads(category="banned_goods")[0]["lead_id"]
    shanghai = run("leads", "show", "--db", filled.url, str(lead_id))
    assert shanghai.exit_code == 0 and "2024-05-05 08:00 (Asia/Shanghai)" in shanghai.output
    utc = run("leads", "show", "--db", filled.url, str(lead_id), env={"NETWATCH_TZ": "UTC"})
    assert "2024-05-05 00:00 (UTC)" in utc.output
    bad = run("leads", "show", "--db", filled.url, str(lead_id), env={"NETWATCH_TZ": "Mars/Olympus"})
    assert bad.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in bad.output


def test_outbox_files_are_chinese_by_default_and_english_on_request(filled, tmp_path, monkeypatch):
    run_id = filled.leads(limit=1)[0]["lead_id"] and 1
    out = tmp_path / "海淀.csv"
    assert export_new_leads(filled, out, [run_id]) == 5
    header, *rows = read_csv(out)
    assert header[0] == "线索编号" and "最近发现（Asia/Shanghai）" in header
    assert {row[header.index("状态")] for row in rows} == {"新线索"}
    monkeypatch.setenv("NETWATCH_LANG", "en")
    export_new_leads(filled, out, [run_id])
    assert read_csv(out)[0][0] == "lead_id"


def test_notes_accumulate_and_every_change_is_recorded(filled, tmp_path):
    lead_id = filled.leads(category="banned_goods")[0]["lead_id"]
    assert run("leads", "set", "--db", filled.url, str(lead_id), "--status", "已确认", "--note", "第一条").exit_code == 0
    assert run("leads", "set", "--db", filled.url, str(lead_id), "--note", "第二条", "--region", "朝阳").exit_code == 0
    events = filled.lead_events([lead_id])
    assert [(e["field"], e["old"], e["new"]) for e in events] == [
        ("status", "new", "confirmed"), ("note", None, "第一条"), ("region", "unassigned", "朝阳"),
        ("note", None, "第二条")]
    assert all(e["user"] and e["at"] for e in events)
    shown = run("leads", "show", "--db", filled.url, str(lead_id))
    assert "第一条" in shown.output and "第二条" in shown.output and "已确认" in shown.output
    out = tmp_path / "history.csv"
    assert run("leads", "history", "--db", filled.url, str(lead_id), "--out", str(out)).exit_code == 0
    header, *rows = read_csv(out)
    assert header[1] == "时间 (Asia/Shanghai)" and len(rows) == 4 and rows[0][3:] == ["状态", "新线索", "已确认"]
    refused = run("leads", "set", "--db", filled.url, str(lead_id), "--status", "已办结")
    assert refused.exit_code == 1 and "confirmed → resolved" in refused.output
    assert len(filled.lead_events([lead_id])) == 4  # a refused change records nothing
