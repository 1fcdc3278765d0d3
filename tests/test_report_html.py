"""The nightly report as a management document (#18): HTML with SVG charts, tonight's critical and high leads,
new leads per region linked to the region's file, alarms in colour; Chinese by default. And the outbox gives
each target's new leads to its region, which the workbench then shows to that region's analysts."""

from __future__ import annotations

from collections import Counter
from datetime import date

from test_export import filled  # noqa: F401  (fixture: five leads of run 1)
from test_store_helpers import store_url  # noqa: F401

from netwatch.crawl.health import Alarm, CrawlFigures
from netwatch.ops.nightly import NightlyResult, TargetReport
from netwatch.ops.report import write_outbox, write_report


def night(run_id: int) -> NightlyResult:
    targets = [TargetReport("netmall", "海淀", "alarm", CrawlFigures(items=5, pages=7, errors=0, finish_reason="finished"),
                            [Alarm("drop", "items fell to 5 from 100")], run_id)]
    return NightlyResult(7, date(2026, 12, 6), "nightly", targets, new=5,
                         new_by_category=Counter({"banned_goods": 1, "false_advertising": 3, "fake_reviews": 1}),
                         new_by_site=Counter({"netmall": 4, "lvyuan": 1}), region_runs={"海淀": [run_id]})


def test_html_report_has_charts_urgent_leads_regions_and_alarms(filled, tmp_path):
    result = night(1)
    write_outbox(filled, result, tmp_path)
    assert result.outbox_counts == {"海淀": 5}
    assert {row["region"] for row in filled.leads(limit=None)} == {"海淀"}  # the outbox gave them to 海淀
    html = write_report(result, tmp_path, "html", filled).read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "禁限售商品" in html and "各地区新线索" in html
    urgent = html.split("新发现的严重和高危线索")[1].split("</table>")[0]
    assert urgent.startswith(" (2)") and "严重" in urgent and "高" in urgent and "刷单炒信" not in urgent
    assert urgent.index("严重") < urgent.index("class='sev-high'")  # the worst first
    assert "<a href='%E6%B5%B7%E6%B7%80.csv'>海淀</a></td><td>5</td>" in html
    assert "<tr class='alarm'><td>netmall</td><td>商品数骤降</td>" in html and ".alarm td{background:#fdecea" in html
    assert "有告警" in html and "Asia/Shanghai" in html
    assert not any(marker in html for marker in ("<script", "<link", "src=", "href='http"))  # self-contained


def test_markdown_report_in_english_on_request(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("NETWATCH_LANG", "en")
    text = write_report(night(1), tmp_path, "md", filled).read_text(encoding="utf-8")
    assert "| new leads | 5 |" in text and "| netmall | drop |" in text and "| banned_goods | 1 |" in text
