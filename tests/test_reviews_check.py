"""`netwatch reviews check` end to end: a real file in, a real CSV out, the summary printed."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from netwatch.analysis.reviews.table import SCORE_COLUMN, SIGNALS_COLUMN, check_table
from netwatch.cli import cli

TEMPLATE = "宝贝收到了，质量非常好，和描述的一样，物流也很快，五星推荐！"
VARIED = ["收到了，质量不错，会回购", "第二次购买了，和描述一致，推荐", "帮家里人买的，颜色比图片深一点", "物流挺快，分量挺足，总体满意",
          "包装完好，尺寸刚好，先用着看", "客服回复及时，做工一般但能用", "同事推荐的，比超市便宜一些", "等了三天才到，细节处理得挺好",
          "拆开看了一下，有点小瑕疵不影响使用", "双十一囤的，味道和以前一样", "用了几天感觉还行，下次再看看", "性价比可以，给四星吧"]


def when(days: float) -> str:
    return (dt.datetime(2024, 5, 1) + dt.timedelta(days=days)).strftime("%Y/%m/%d %H:%M")


def review_rows():
    rows = []
    for i in range(30):  # item A: about one a day, then 30 copies within two hours
        rows.append({"item": "A", "buyer": f"a{i}", "stars": 4, "when": when(i + 0.3), "comment": VARIED[i % 12] + "，" + VARIED[(i // 12 * 5 + 7 * i + 1) % 12]})
    for i in range(30):
        rows.append({"item": "A", "buyer": f"b{i}", "stars": 5, "when": when(33.6 + i * 0.0025), "comment": TEMPLATE})
    for i in range(10):  # item B: genuine, and "很好" from two buyers
        rows.append({"item": "B", "buyer": f"c{i}", "stars": 4, "when": when(i * 3), "comment": VARIED[i]})
    rows.append({"item": "B", "buyer": "d1", "stars": 5, "when": when(11), "comment": "很好"})
    rows.append({"item": "B", "buyer": "d2", "stars": 5, "when": when(25), "comment": "很好"})
    rows.append({"item": "B", "buyer": "d3", "stars": 1, "when": when(26), "comment": "-_-差评，不推荐"})
    return rows


def test_check_table_scores_rows_and_groups():
    frame = pd.DataFrame(review_rows())
    out, summaries = check_table(frame, "comment", time_column="when", rating_column="stars", reviewer_column="buyer",
                                 group_column="item")
    assert list(out.columns[:5]) == list(frame.columns) and len(out) == len(frame)
    by_group = {s.group: s for s in summaries}
    assert by_group["A"].lead and set(by_group["A"].signals) == {"duplicate", "burst"}
    assert not by_group["B"].lead and by_group["B"].signals == [] and by_group["B"].score == 0.0
    copies = out[out["comment"] == TEMPLATE]
    assert (copies[SIGNALS_COLUMN] == "duplicate;burst").all() and (copies[SCORE_COLUMN] > 0.9).all()
    assert (out.loc[out["item"] == "B", SCORE_COLUMN] == 0).all()
    assert summaries[0].group == "A"


def test_without_a_time_column_there_is_no_burst():
    frame = pd.DataFrame(review_rows())
    _, summaries = check_table(frame, "comment", rating_column="stars", reviewer_column="buyer", group_column="item")
    assert {s.group: s.signals for s in summaries}["A"] == ["duplicate"]


def test_unknown_column_is_named():
    with pytest.raises(KeyError, match="'when2'.*columns: item, buyer"):
        check_table(pd.DataFrame(review_rows()), "comment", time_column="when2")


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "xlsx"])
def test_reviews_check_end_to_end(tmp_path, suffix):
    rows = review_rows()
    source = tmp_path / f"reviews.{suffix}"
    if suffix == "csv":
        pd.DataFrame(rows).to_csv(source, index=False, encoding="gbk")
    elif suffix == "jsonl":
        source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8")
    else:
        pd.DataFrame(rows).to_excel(source, index=False)
    out = tmp_path / "scored.csv"
    result = CliRunner().invoke(cli, ["reviews", "check", str(source), "--text-column", "comment", "--time-column", "when",
                                      "--rating-column", "stars", "--reviewer-column", "buyer", "--group-column", "item",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    scored = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert len(scored) == len(rows)
    assert list(scored.columns) == ["item", "buyer", "stars", "when", "comment", SCORE_COLUMN, SIGNALS_COLUMN]
    flagged = scored[scored[SIGNALS_COLUMN].notna()]
    assert set(flagged["item"]) == {"A"} and len(flagged) == 30
    assert scored["comment"].iloc[-1] == "'-_-差评，不推荐"  # Excel must not run it
    assert "LEAD" in result.output and "burst" in result.output and "B " in result.output
    if suffix == "jsonl":
        assert f"{source}:74" in result.output  # the broken line is named and skipped


def test_reviews_check_reports_a_missing_column(tmp_path):
    source = tmp_path / "r.csv"
    pd.DataFrame(review_rows()).to_csv(source, index=False)
    result = CliRunner().invoke(cli, ["reviews", "check", str(source), "--text-column", "text", "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0 and "'text'" in result.output and "r.csv" in result.output
