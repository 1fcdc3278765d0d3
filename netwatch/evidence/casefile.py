"""`netwatch evidence export LEAD_ID --out DIR`: one lead's case folder for the field team.

    DIR/案件材料.html              the printable case sheet (Chinese): the lead, the matched text in context,
                                   rule and legal basis, shop and licence, price history, 电子数据提取笔录
    DIR/records/first.warc.gz      the WARC records of the sighting that raised the lead (response, request, and
    DIR/records/latest.warc.gz     for a revisit its original), and of the latest sighting
    DIR/records/first-page.html    the archived page itself, as served
    DIR/screenshots/…png           the screenshots taken of the lead's page
    DIR/provenance/…json           the provenance (and screenshot) records of those captures
    DIR/manifest.json              the sha256 of every file above
"""

from __future__ import annotations

import html
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from netwatch.domain.capture import sha256_file
from netwatch.domain.vocab import label as vocab_label
from netwatch.evidence.records import EvidenceError, Record, provenance_of, read_json, read_record, screens_of
from netwatch.store import Store

SHEET = "案件材料.html"
FIELD_ZH = {"title": "标题", "description": "商品描述", "specs": "规格参数", "review": "评价", "shop_name": "店铺名称",
            "shop_text": "店铺公告", "licence": "证照公示", "price": "价格"}


def export_case(store: Store, lead_id: int, out: Path, zone: str) -> list[Path]:
    """Write the lead's case folder; returns the files written. EvidenceError when an archived record is
    unreadable (named)."""
    lead = store.lead(lead_id)
    out.mkdir(parents=True, exist_ok=True)
    captures: list[dict[str, Any]] = []
    for which in ("first", "latest"):
        sighting = lead["evidence"][which]
        if sighting is None or any(c["row"] == sighting for c in captures):
            continue
        record = read_record(sighting["warc_file"], sighting["warc_offset"], sighting["warc_length"])
        records = out / "records"
        records.mkdir(exist_ok=True)
        (records / f"{which}.warc.gz").write_bytes(record.raw + b"".join(record.extra_raw))
        suffix = ".html" if "html" in record.content_type else ".bin"
        (records / f"{which}-page{suffix}").write_bytes(record.payload)
        captures.append({"which": which, "row": sighting, "record": record,
                         "provenance": _copy_manifests(sighting["warc_file"], lead_id, out)})
    sheet = out / SHEET
    sheet.write_text(case_sheet(lead, captures, zone), encoding="utf-8")
    written = sorted(path for path in out.rglob("*") if path.is_file() and path.name != "manifest.json")
    (out / "manifest.json").write_text(json.dumps(
        {"lead_id": lead_id, "written_utc": datetime.now(UTC).isoformat(timespec="seconds"),
         "files": {str(path.relative_to(out)): sha256_file(path) for path in written}},
        ensure_ascii=False, indent=2), encoding="utf-8")
    return [*written, out / "manifest.json"]


def _copy_manifests(warc_file: str, lead_id: int, out: Path) -> dict[str, Any]:
    """Copy the capture's provenance record, and its screenshots of this lead; return the provenance."""
    folder = out / "provenance"
    folder.mkdir(exist_ok=True)
    provenance = provenance_of(warc_file)
    record = read_json(provenance)
    shutil.copy2(provenance, folder / provenance.name)
    screens = screens_of(warc_file)
    record["screenshots"] = []
    if screens.exists():
        shutil.copy2(screens, folder / screens.name)
        for page in read_json(screens).get("pages", []):
            if lead_id in page.get("lead_ids", []):
                (out / "screenshots").mkdir(exist_ok=True)
                for key in ("png", "marked_png"):
                    source = screens.parent / page[key]
                    if not source.exists():
                        raise EvidenceError(f"{source}: missing")
                    shutil.copy2(source, out / "screenshots" / source.name)
                    record["screenshots"].append({"file": f"screenshots/{source.name}", "taken": page["taken_at_utc"],
                                                  "sha256": sha256_file(source)})
    return record


def _local(value: Any, zone: str) -> str:
    if value in (None, ""):
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _marked(context: str | None, match: str) -> str:
    """The context with the matched text marked, escaped."""
    text = context or match
    at = text.find(match) if match else -1
    if at < 0:
        return html.escape(text)
    return (html.escape(text[:at]) + f"<mark>{html.escape(match)}</mark>" + html.escape(text[at + len(match):]))


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def case_sheet(lead: dict[str, Any], captures: list[dict[str, Any]], zone: str) -> str:
    e = html.escape
    label = f"（{zone} 时间）"
    shop = lead.get("shop") or {}
    first_run = captures[0]["row"]["run_id"] if captures else None
    hits = [hit for hit in lead["hits"] if first_run is None or hit["run_id"] == first_run] or lead["hits"]
    hit_rows = "".join(
        f"<tr><td>{e(FIELD_ZH.get(hit['field'], hit['field']))}</td><td>{hit['start']}–{hit['end']}</td>"
        f"<td>{_marked(hit['context'], hit['match'])}</td></tr>" for hit in hits)
    prices = "".join(
        f"<tr><td>{_local(snap['fetched_at'], zone)}</td><td>{snap['run_id']}</td>"
        f"<td>{_money(snap['price'])}</td><td>{_money(snap['original_price'])}</td>"
        f"<td class=mono>{e((snap['content_hash'] or '')[:16])}</td></tr>" for snap in lead["price_history"])
    capture_tables = "".join(_capture_table(number, capture, zone) for number, capture in enumerate(captures, 1))
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>线索 {lead['lead_id']} 电子证据材料</title>
<style>
body {{ font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif; margin: 2em; font-size: 11pt; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.2em; }}
th, td {{ border: 1px solid #555; padding: 4px 6px; text-align: left; vertical-align: top; }}
th {{ background: #eee; width: 11em; }}
mark {{ background: #ffeb3b; outline: 2px solid #e53935; }}
.mono {{ font-family: monospace; word-break: break-all; }}
.sign td {{ height: 3em; }}
@media print {{ body {{ margin: 1cm; }} h2 {{ page-break-after: avoid; }} }}
</style></head><body>
<h1>网络交易违法线索 电子证据材料</h1>
<p>线索编号：{lead['lead_id']}　生成时间：{_local(datetime.now(UTC), zone)}{e(label)}</p>
<h2>一、线索概况</h2>
<table>{_rows([
        ("平台", e(lead.get("platform") or "")), ("店铺", e(lead.get("shop_name") or "")),
        ("页面网址", f"<span class=mono>{e(lead.get('listing_url') or shop.get('url') or '')}</span>"),
        ("商品标题", e(lead.get("title") or "")), ("违法类型", e(vocab_label("category", lead["category"], "zh"))), ("命中规则", e(lead["rule"])),
        ("严重程度", e(vocab_label("severity", lead["severity"], "zh"))),
        ("首次发现" + label, _local(lead["first_seen"], zone)), ("最近发现" + label, _local(lead["last_seen"], zone)),
        ("发现次数", str(lead["times_seen"])), ("状态", e(vocab_label("status", lead["status"], "zh")))])}</table>
<h2>二、命中内容（上下文）</h2>
<table><tr><th>字段</th><th>位置</th><th>上下文（命中部分已标出）</th></tr>{hit_rows}</table>
<h2>三、法律依据</h2>
<p>{e(lead.get("legal_basis") or "（规则未列明）")}</p>
<h2>四、经营主体及证照信息</h2>
<table>{_rows([
        ("店铺名称", e(shop.get("name") or "")), ("店铺网址", f"<span class=mono>{e(shop.get('url') or '')}</span>"),
        ("统一社会信用代码", e(shop.get("credit_code") or "未公示")), ("营业执照公示", e(shop.get("licence_text") or "未公示")),
        ("食品经营许可证", e(shop.get("food_licence") or ("未公示" if shop.get("is_food") else "—"))),
        ("联系方式", e(shop.get("contact") or ""))])}</table>
<h2>五、价格记录</h2>
<table><tr><th>抓取时间{e(label)}</th><th>批次</th><th>价格</th><th>原价（划线价）</th><th>页面哈希</th></tr>{prices}</table>
<h2>六、电子数据提取笔录</h2>
{capture_tables or "<p>本线索的发现记录未存档（抓取时未开启存档）。</p>"}
<table class="sign"><tr><th>提取人（签名）</th><td></td><th>见证人（签名）</th><td></td></tr>
<tr><th>日期</th><td></td><th>备注</th><td></td></tr></table>
</body></html>
"""


def _capture_table(number: int, capture: dict[str, Any], zone: str) -> str:
    e = html.escape
    record: Record = capture["record"]
    provenance = capture["provenance"]
    extraction = provenance.get("extraction_record", {})
    which = "引发线索的抓取" if capture["which"] == "first" else "最近一次抓取"
    screenshots = "<br>".join(f"<span class=mono>{e(s['file'])}</span>（{_local(s['taken'], zone)}，"
                              f"{e(s['sha256'])}）" for s in provenance.get("screenshots", [])) or "无"
    return f"""<h3>{number}. {which}（批次 {capture['row']['run_id']}）</h3>
<table>{_rows([
        ("提取对象（网址）", f"<span class=mono>{e(record.uri)}</span>"),
        ("提取方式", e(extraction.get("提取方式", "网络在线提取"))),
        ("提取工具及版本", e(extraction.get("提取工具及版本", ""))),
        (f"页面抓取时间（{zone}）", _local(record.date, zone) + f"（UTC {e(record.date)}）"),
        ("提取开始 / 结束时间", f"{e(extraction.get('提取开始时间', ''))} / {e(extraction.get('提取结束时间', ''))}"),
        ("时间校准", e(extraction.get("时间校准（与授时服务器偏差）", "未知"))),
        ("目标服务器IP", e(record.ip_address or "")),
        ("HTTP 状态", str(record.status or "")), ("记录类型", e(record.rec_type)),
        ("系统环境", e(extraction.get("系统环境", ""))), ("用户代理", e(extraction.get("用户代理", ""))),
        ("存档文件", f"<span class=mono>{e(record.file.name)}</span>，偏移 {record.offset}，长度 {record.length} 字节"),
        ("记录完整性校验值（SHA-256）", f"<span class=mono>{e(capture['row']['warc_sha256'])}</span>"),
        ("存档文件校验值", f"<span class=mono>{e(str(provenance.get('files', {}).get(record.file.name, '')))}</span>"),
        ("截图", screenshots)])}</table>
"""
