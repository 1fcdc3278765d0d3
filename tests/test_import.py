"""`netwatch import`: CSV (UTF-8 and GBK), JSONL and XLSX platform dumps into a real store, with bad rows
reported by row number and skipped, and leads coming out as for crawled data."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import pytest
from click.testing import CliRunner

from netwatch.cli import cli
from netwatch.importing import ImportFileError, build_items, import_file, parse_mapping
from netwatch.store import Store

TEMPLATE = "宝贝收到了，质量非常好，和描述的一样，物流也很快，五星推荐！"
VARIED = ["收到了，质量不错，会回购", "第二次购买了，和描述一致，推荐", "帮家里人买的，颜色比图片深一点", "物流挺快，分量挺足，总体满意",
          "包装完好，尺寸刚好，先用着看", "客服回复及时，做工一般但能用", "同事推荐的，比超市便宜一些", "等了三天才到，细节处理得挺好",
          "拆开看了一下，有点小瑕疵不影响使用", "双十一囤的，味道和以前一样", "用了几天感觉还行，下次再看看", "性价比可以，给四星吧"]


def when(days: float) -> str:
    return (dt.datetime(2024, 5, 1) + dt.timedelta(days=days)).isoformat(timespec="seconds")


def review_rows() -> list[dict]:
    rows = []
    for i in range(20):  # brushed: one a day, then 25 copies in about an hour
        rows.append({"商品ID": "B1", "店铺ID": "S1", "用户": f"a{i}", "评分": 4, "评价时间": when(i + 0.2),
                     "评价内容": VARIED[i % 12] + "，" + VARIED[(i // 12 * 5 + 7 * i + 1) % 12]})
    for i in range(25):
        rows.append({"商品ID": "B1", "店铺ID": "S1", "用户": f"b{i}", "评分": 5, "评价时间": when(22.5 + i * 0.002),
                     "评价内容": TEMPLATE})
    for i in range(10):  # genuine, with 很好 from two buyers
        rows.append({"商品ID": "G1", "店铺ID": "S2", "用户": f"c{i}", "评分": 4, "评价时间": when(i * 3), "评价内容": VARIED[i]})
    rows += [{"商品ID": "G1", "店铺ID": "S2", "用户": "d1", "评分": 5, "评价时间": when(11), "评价内容": "很好"},
             {"商品ID": "G1", "店铺ID": "S2", "用户": "d2", "评分": 5, "评价时间": when(25), "评价内容": "很好"}]
    return rows


BAD_REVIEW_ROWS = [  # (row as written, what the error must say)
    ({"商品ID": "G1", "店铺ID": "S2", "用户": "x1", "评分": 5, "评价时间": when(3), "评价内容": ""}, "评价内容"),
    ({"商品ID": "G1", "店铺ID": "S2", "用户": "x2", "评分": "五颗星", "评价时间": when(3), "评价内容": "还行"}, "rating"),
    ({"商品ID": "G1", "店铺ID": "S2", "用户": "x3", "评分": 5, "评价时间": "not a date", "评价内容": "还行"}, "time"),
    ({"商品ID": "", "店铺ID": "S2", "用户": "x4", "评分": 5, "评价时间": when(3), "评价内容": "还行"}, "商品ID"),
]


def write_reviews(path, encoding="utf-8"):
    """Good rows with bad rows mixed in; returns {row number: expected error word}."""
    rows = review_rows()
    expected = {}
    for offset, (bad, word) in zip((5, 30, 47, 50), BAD_REVIEW_ROWS):
        rows.insert(offset, bad)
        expected[offset + 2] = word  # header is line 1, rows start on line 2
    if path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    elif path.suffix == ".jsonl":
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        lines.insert(10, "{not json")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # no header line; the broken line is line 11, so rows from the 11th on move down one line
        expected = {(n - 1 if n - 1 < 11 else n): w for n, w in expected.items()}
        expected[11] = "JSON"
    else:
        pd.DataFrame(rows).to_excel(path, index=False)
    return expected


def unique(platform: str) -> str:
    """PostgreSQL's test schema lives for the whole session: each test imports as its own platform."""
    return f"{platform}-{uuid.uuid4().hex[:8]}"


def leads_by_listing(db_url, platform):
    with Store(db_url) as store:
        leads = store.leads(limit=None, site=platform)
    out: dict[str, set[tuple[str, str]]] = {}
    for lead in leads:
        key = lead["listing_url"].rsplit("/", 1)[-1] if lead.get("listing_url") else None
        out.setdefault(key, set()).add((lead["category"], lead["rule"]))
    return out, leads


@pytest.mark.parametrize("suffix,encoding", [("csv", "utf-8"), ("csv", "gbk"), ("jsonl", "utf-8"), ("xlsx", None)])
def test_import_reviews_with_bad_rows(tmp_path, db_url, suffix, encoding):
    path = tmp_path / f"reviews.{suffix}"
    expected = write_reviews(path, encoding or "utf-8")
    platform = unique("netmall")
    report = import_file(path, platform=platform, db_url=db_url)
    assert report.kind == "reviews"
    assert {e.row: e for e in report.errors}.keys() == expected.keys()
    for error in report.errors:
        assert str(path) in str(error) and expected[error.row] in error.message
    assert report.listings == 2 and report.reviews == len(review_rows())
    by_listing, leads = leads_by_listing(db_url, platform)
    assert by_listing.get("B1") and all(cat == "fake_reviews" for cat, _ in by_listing["B1"])
    assert {rule for _, rule in by_listing["B1"]} <= {"review_signals/brushing_score"}
    assert "G1" not in by_listing
    lead = next(lead for lead in leads if lead["listing_url"].endswith("B1"))
    assert "duplicate" in lead["matched_text"] and "「宝贝收到了" in lead["context"]
    assert lead["platform"] == platform


def test_import_gbk_listings_runs_the_rule_engine(tmp_path, db_url):
    rows = [
        {"商品ID": "L1", "标题": "老象牙手镯 包浆自然", "价格": "￥3,800.00", "店铺ID": "S9", "店铺名称": "古玩雅集", "商品描述": "传世老料", "类目": "general"},
        {"商品ID": "L2", "标题": "象牙白陶瓷花瓶", "价格": "128", "店铺ID": "S9", "店铺名称": "古玩雅集", "商品描述": "釉色温润", "类目": "general"},
        {"商品ID": "L3", "标题": "紫砂壶", "价格": "面议", "店铺ID": "S9", "店铺名称": "古玩雅集", "商品描述": "", "类目": "general"},
        {"商品ID": "L1", "标题": "重复的行", "价格": "1", "店铺ID": "S9", "店铺名称": "古玩雅集", "商品描述": "", "类目": "general"},
    ]
    path = tmp_path / "listings.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="gbk")
    assert path.read_bytes().decode("gbk")  # really GBK, not UTF-8
    platform = unique("taobao")
    report = import_file(path, platform=platform, db_url=db_url)
    assert report.kind == "listings" and report.listings == 2 and report.shops == 1
    assert [(e.row, "price" in e.message or "again" in e.message) for e in report.errors] == [(4, True), (5, True)]
    by_listing, leads = leads_by_listing(db_url, platform)
    assert {cat for cat, _ in by_listing["L1"]} == {"banned_goods"}
    assert "L2" not in by_listing  # 象牙白 is a colour
    lead = next(lead for lead in leads if lead["listing_url"].endswith("L1"))
    assert lead["price"] == 3800.0 and lead["shop_name"] == "古玩雅集" and "象牙" in lead["matched_text"]


def test_import_xlsx_with_column_map(tmp_path, db_url):
    rows = [{"编码": 1001, "名称": "五星好评返现5元 保温杯", "售卖价": 59}, {"编码": 1002, "名称": "保温杯 500ml", "售卖价": 39}]
    path = tmp_path / "dump.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    platform = unique("jd")
    report = import_file(path, kind="listings", platform=platform, db_url=db_url,
                         mapping=parse_mapping("canonical_id=编码,title=名称,price=售卖价"))
    assert report.errors == [] and report.listings == 2
    by_listing, _ = leads_by_listing(db_url, platform)
    assert {cat for cat, _ in by_listing["1001"]} == {"fake_reviews"}  # Excel's 1001.0 is read as id 1001
    assert "1002" not in by_listing


def test_reimport_keeps_what_is_stored(tmp_path, db_url):
    path = tmp_path / "reviews.csv"
    write_reviews(path)
    platform = unique("netmall")
    first = import_file(path, platform=platform, db_url=db_url)
    _, leads_before = leads_by_listing(db_url, platform)
    second = import_file(path, platform=platform, db_url=db_url)
    _, leads_after = leads_by_listing(db_url, platform)
    assert first.run_id != second.run_id
    assert [lead["lead_id"] for lead in leads_after] == [lead["lead_id"] for lead in leads_before]
    assert [lead["times_seen"] for lead in leads_after] == [2] * len(leads_after), leads_after


def test_unusable_files_fail_with_the_file_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ImportFileError, match="empty.csv: empty file"):
        build_items(empty)
    no_id = tmp_path / "noid.csv"
    no_id.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"noid.csv: no column for canonical_id .*--map canonical_id=COLUMN"):
        build_items(no_id)
    with pytest.raises(ImportFileError, match="no such column"):
        build_items(no_id, mapping={"canonical_id": "nope"})
    weird = tmp_path / "data.parquet"
    weird.write_bytes(b"PAR1")
    with pytest.raises(ImportFileError, match="unknown file type"):
        build_items(weird)
    with pytest.raises(ValueError, match="not field=column"):
        parse_mapping("title")


def test_import_command_end_to_end(tmp_path, db_url):
    path = tmp_path / "reviews.csv"
    write_reviews(path, encoding="gbk")
    platform = unique("netmall")
    result = CliRunner().invoke(cli, ["import", str(path), "--kind", "reviews", "--platform", platform,
                                      "--map", "text=评价内容,reviewer=用户", "--db", db_url])
    assert result.exit_code == 1, result.output  # rows were skipped: the good ones are stored all the same
    assert "skipped" in result.output and f"{path}:7:" in result.output
    assert result.output.strip().splitlines()[-1] == f"Error: {path}: 4 of 61 rows skipped (listed above)"
    assert "2 listings" in result.output and "fake_reviews" in result.output
    out = tmp_path / "leads.csv"
    from netwatch.ops.export import export_leads

    with Store(db_url) as store:
        assert export_leads(store, out, site=platform) >= 1
    exported = pd.read_csv(out, encoding="utf-8-sig")
    brushed = exported[exported["category"] == "fake_reviews"]
    assert len(brushed) >= 1 and brushed["context"].str.contains("宝贝收到了").all()


def test_times_without_offset_are_read_in_the_platforms_time_zone(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("商品ID,评价内容,评价时间\nX1,还行,2024/05/01 08:00\nX1,不错,2024-05-01T08:00:00+00:00\nX1,好,2024年5月2日 10:30\n",
                    encoding="utf-8")
    items, report = build_items(path, timezone_name="Asia/Shanghai")
    assert report.errors == []
    assert [r.time for r in items[0].reviews] == ["2024-05-01T00:00:00+00:00", "2024-05-01T08:00:00+00:00",
                                                  "2024-05-02T02:30:00+00:00"]
    with pytest.raises(ImportFileError, match="unknown time zone"):
        build_items(path, timezone_name="Mars/Olympus")


def test_specs_column_is_a_json_object(tmp_path):
    path = tmp_path / "listings.csv"
    pd.DataFrame([
        {"商品ID": "P1", "标题": "手镯", "规格参数": json.dumps({"材质": " 象牙 ", "产地": "云南"}, ensure_ascii=False)},
        {"商品ID": "P2", "标题": "手镯", "规格参数": "材质: 象牙"},  # not JSON: named, row skipped
        {"商品ID": "P3", "标题": "手镯", "规格参数": ""},
    ]).to_csv(path, index=False)
    items, report = build_items(path)
    assert [(e.row, "specs must be a JSON object" in e.message) for e in report.errors] == [(3, True)]
    assert [(item.canonical_id, item.specs) for item in items] == [("P1", {"材质": "象牙", "产地": "云南"}), ("P3", {})]


def test_json_lines_need_not_share_their_keys(tmp_path):
    """A JSON-lines dump writes each object's own keys: a field first seen on line 3 (or named by
    another alias there) is read, and a line without the listing id is an error of that line."""
    path = tmp_path / "listings.jsonl"
    lines = [{"item_id": "P1", "title": "手镯"},
             {"item_id": "P2", "title": "手镯", "description": "象牙手镯，假一赔十"},
             {"商品ID": "P3", "商品名称": "纯天然象牙摆件", "价格": "88"},
             {"title": "没有编号"}]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    items, report = build_items(path)
    assert [(e.row, "canonical_id" in e.message) for e in report.errors] == [(4, True)]
    assert [(i.canonical_id, i.title, i.description, i.price) for i in items] == [
        ("P1", "手镯", None, None), ("P2", "手镯", "象牙手镯，假一赔十", None), ("P3", "纯天然象牙摆件", None, 88.0)]



def test_json_lines_map_a_key_the_first_line_lacks(tmp_path):
    """--map to a key first seen on line 2 reads it there; a --map key that no line has is named."""
    path = tmp_path / "listings.jsonl"
    lines = [{"id": "P1", "name": "手镯"}, {"id": "P2", "name": "摆件", "详情": "纯天然象牙"}]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    items, report = build_items(path, mapping=parse_mapping("canonical_id=id,title=name,description=详情"))
    assert report.errors == []
    assert [(i.canonical_id, i.description) for i in items] == [("P1", None), ("P2", "纯天然象牙")]
    with pytest.raises(ImportFileError, match=r"listings\.jsonl: --map description=详细: no line has that key"):
        build_items(path, mapping=parse_mapping("canonical_id=id,title=name,description=详细"))
    csv = tmp_path / "listings.csv"
    pd.DataFrame(lines).to_csv(csv, index=False)  # one header: a wrong --map fails at once, as before
    with pytest.raises(ImportFileError, match=r"--map description=详细: no such column"):
        build_items(csv, mapping=parse_mapping("canonical_id=id,title=name,description=详细"))
