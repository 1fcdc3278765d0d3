"""The nightly report as HTML, a management document: the same SVG charts as the workbench's dashboard,
tonight's new critical and high leads, new leads per region linked to the region's file, alarms in colour.
Self-contained (styles inline, charts inline SVG): it opens from the outbox folder or an e-mail."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from netwatch.domain.clock import local_text, utcnow, zone
from netwatch.domain.vocab import label
from netwatch.domain.words import say
from netwatch.ops.charts import PALETTE, bars

if TYPE_CHECKING:
    from netwatch.ops.nightly import NightlyResult

URGENT_LIMIT = 200
STYLE = """body{font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f3f5f8}.alarm td{background:#fdecea;color:#a93226}.verdict-OK{color:#1e8449}
.verdict-ALARMS{color:#d35400}.verdict-FAILED{color:#a93226}.charts{display:flex;flex-wrap:wrap;gap:2em}
.sev-critical{color:#fff;background:#a93226;padding:0 5px}.sev-high{color:#fff;background:#d35400;padding:0 5px}
td{overflow-wrap:break-word}td span{white-space:nowrap}@media print{body{margin:0}h2{break-after:avoid}tr,figure{break-inside:avoid}}"""


def _table(rows: list[list[str]], lang: str, row_class: str = "") -> str:
    if len(rows) == 1:
        return f"<p>{say('none', lang)}</p>"
    head = "<tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in rows[0]) + "</tr>"
    body = "".join(f"<tr class='{row_class}'>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows[1:])
    return f"<table>{head}{body}</table>"


def render_html(result: NightlyResult, title: str, sections: list[tuple[str, list[list[str]]]],
                urgent: list[dict[str, Any]], lang: str) -> str:
    tz = zone()
    charts = [
        bars([(label("category", name, lang), count) for name, count in result.new_by_category.most_common()],
             title=say("per_category", lang), colour=PALETTE[0]),
        bars([(str(name), count) for name, count in result.new_by_site.most_common()], title=say("per_site", lang)),
    ]
    parts = [f"<!doctype html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><meta charset=utf-8>"
             f"<title>{escape(title)}</title><style>{STYLE}</style><h1>{escape(title)}</h1>",
             f"<p class='verdict-{result.verdict}'><b>{escape(say('result', lang))}: "
             f"{escape(say('verdict_' + result.verdict, lang))}</b></p>",
             f"<div class=charts>{''.join(f'<figure>{chart}</figure>' for chart in charts)}</div>"]
    heading_rows = dict(sections)
    overview, alarms = sections[0], heading_rows[say("alarms", lang)]
    parts += [f"<h2>{escape(overview[0])}</h2>", _table(overview[1], lang)]
    parts.append(f"<h2>{escape(say('alarms', lang))}</h2>" + _table(alarms, lang, "alarm"))
    parts.append(f"<h2>{escape(say('per_region', lang))}</h2>")
    counts = sorted(result.outbox_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    region_rows = "".join(
        f"<tr><td><a href='{quote(result.outbox_files[region].name)}'>{escape(region)}</a></td><td>{count}</td></tr>"
        for region, count in counts if region in result.outbox_files)
    parts.append(f"<table><tr><th>{say('region', lang)}</th><th>{say('new_leads_n', lang)}</th></tr>{region_rows}"
                 "</table>" if region_rows else f"<p>{say('none', lang)}</p>")
    if counts:
        parts.insert(3, f"<div class=charts><figure>{bars(counts, title=say('per_region', lang))}</figure></div>")
    parts.append(f"<h2>{escape(say('urgent', lang))} ({len(urgent)})</h2>")
    if urgent:
        head = "".join(f"<th>{escape(say(key, lang))}</th>" for key in
                       ("lead_id", "severity", "category", "region", "title_or_shop", "matched_text", "legal_basis"))
        rows = "".join(
            f"<tr><td>{lead['lead_id']}</td><td><span class='sev-{escape(lead['severity'])}'>"
            f"{escape(label('severity', lead['severity'], lang))}</span></td>"
            f"<td>{escape(label('category', lead['category'], lang))}</td><td>{escape(lead['region'])}</td>"
            f"<td>{escape(lead['title'] or lead['shop_name'] or '')}</td><td>{escape(lead['matched_text'] or '')}</td>"
            f"<td>{escape(lead['legal_basis'] or '')}</td></tr>" for lead in urgent)
        parts.append(f"<table><tr>{head}</tr>{rows}</table>")
    else:
        parts.append(f"<p>{say('none', lang)}</p>")
    for heading, rows in sections[1:]:
        if heading != say("alarms", lang):
            parts += [f"<h2>{escape(heading)}</h2>", _table(rows, lang)]
    parts.append(f"<p><small>{escape(say('times_zone', lang, zone=tz.key))} · "
                 f"{escape(local_text(utcnow(), tz))}</small></p></html>")
    return "\n".join(parts) + "\n"
