"""The night's outbox and report: each region's new leads in `outbox/<date>/<region>.csv` (the export's
Excel-safe CSV) and report.md or report.html beside them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netwatch import config
from netwatch.domain.vocab import label
from netwatch.domain.words import say, say_value
from netwatch.ops.export import export_leads
from netwatch.ops.report_html import URGENT_LIMIT, render_html
from netwatch.store import Store

if TYPE_CHECKING:
    from netwatch.ops.nightly import NightlyResult


def night_directory(outbox: Path, day: date, nightly_run_id: int) -> Path:
    """outbox/<date>/, or outbox/<date>.run<id>/ when another nightly run of that day already wrote there
    (a second run the same day must not overwrite the files a district may already have taken)."""
    directory = outbox / day.isoformat()
    marker = directory / ".nightly-run"
    if marker.exists() and marker.read_text().strip() != str(nightly_run_id):
        directory = outbox / f"{day.isoformat()}.run{nightly_run_id}"
        marker = directory / ".nightly-run"
    directory.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(nightly_run_id))
    return directory


def write_outbox(store: Store, result: NightlyResult, directory: Path) -> None:
    """<region>.csv: each region's new leads in the Excel-safe CSV (a header-only file tells a region
    the night ran and found nothing new).

    A region's new leads are those first found by any crawl run of the night, a killed attempt's too;
    a lead has one first run, so it is in one file, once. The files are written when all crawls are
    done, each renamed into place; a resumed night (same run, same directory) writes them again whole,
    with every new lead of the night, so an attempt stopped while writing them leaves nothing behind."""
    for region, run_ids in sorted(result.region_runs.items()):
        store.give_region(region, run_ids)  # the workbench shows them to the region's analysts
        path = directory / f"{region}.csv"
        result.outbox_counts[region] = export_new_leads(store, path, run_ids)
        result.outbox_files[region] = path


def export_new_leads(store: Store, out: Path, first_run_ids: Sequence[int]) -> int:
    """The leads first found by these crawl runs, in the export's CSV (BOM, no formulas)."""
    return export_leads(store, out, "csv", config.language(), first_run_ids=first_run_ids)


def summary_stats(result: NightlyResult) -> dict[str, Any]:
    """The nightly run's figures as stored in its `runs.stats`."""
    return {
        "tag": result.tag, "day": result.day.isoformat(), "targets": len(result.targets),
        "failed_targets": sum(target.status == "failed" for target in result.targets),
        "alarms": [{"target": name, **alarm.to_dict()} for name, alarm in result.alarms],
        "new": result.new, "recurring": result.recurring, "gone": result.gone,
        "new_by_category": dict(result.new_by_category), "new_by_site": dict(result.new_by_site),
        "outbox": {region: str(path) for region, path in result.outbox_files.items()},
        "exit_code": result.exit_code, "resumed": result.resumed,
    }


def report_lines(result: NightlyResult, lang: str = "en") -> list[tuple[str, list[list[str]]]]:
    """The report's sections as (heading, table rows; first row the header), for Markdown and HTML alike."""
    def w(key: str) -> str:
        return say(key, lang)

    pages = sum(t.figures.pages for t in result.targets if t.figures)
    items = sum(t.figures.items for t in result.targets if t.figures)
    overview = [[w("figure"), w("value")], [w("result"), w(f"verdict_{result.verdict}")], [w("tag"), result.tag],
                [w("targets_crawled"), str(len(result.targets))], [w("pages_fetched"), str(pages)],
                [w("items_scraped"), str(items)], [w("new_leads_n"), str(result.new)],
                [w("recurring_leads"), str(result.recurring)], [w("gone_leads"), str(result.gone)]]
    if result.resumed:
        overview.append([w("note"), w("resumed_note")])
    if result.lock_note:
        overview.append([w("lock"), result.lock_note.text(lang)])
    sections = [(w("overview"), overview)]
    sections.append((w("per_category"), [[w("category"), w("new_leads_n")]]
                     + [[label("category", name, lang), str(count)]
                        for name, count in result.new_by_category.most_common()]))
    sections.append((w("per_site"), [[w("platform"), w("new_leads_n")]]
                     + [[str(name), str(count)] for name, count in result.new_by_site.most_common()]))
    sections.append((w("alarms"), [[w("target"), w("check"), w("message")]]
                     + [[name, alarm.check_name(lang), alarm.text(lang)] for name, alarm in result.alarms]))
    sections.append((w("not_sent"), [[w("target"), w("why"), w("requests")]]
                     + [[t.name, why, str(count)] for t in result.targets for why, count in sorted(t.not_sent.items())]))
    sections.append((w("failed_sites"), [[w("target"), w("url"), w("reason")]]
                     + [[t.name, failure["url"], say_value("reason", failure["reason"], lang)]
                        for t in result.targets for failure in t.failures]))
    sections.append((w("targets"), [[w("target"), w("region"), w("status"), w("pages"), w("items"), w("errors"),
                                     w("finish_reason")]]
                     + [[t.name, t.region, say_value("status", t.status, lang),
                         *((str(t.figures.pages), str(t.figures.items), str(t.figures.errors),
                            say_value("reason", t.figures.finish_reason or "", lang))
                           if t.figures else ("", "", "", ""))]
                        for t in result.targets]))
    if result.takedowns is not None:
        sections.append((w("rechecks"), result.takedowns))
    sections.append((w("outbox"), [[w("region"), w("file")]]
                     + [[region, str(path)] for region, path in sorted(result.outbox_files.items())]))
    return sections


def write_report(result: NightlyResult, directory: Path, fmt: str = "md", store: Store | None = None) -> Path:
    """report.md or report.html beside the night's outbox files, in NETWATCH_LANG (zh by default). The HTML
    report is the management document: charts, tonight's critical and high leads (from `store`), new leads
    per region linked to their files, alarms in colour."""
    directory.mkdir(parents=True, exist_ok=True)
    lang = config.language()
    title = say("report_title", lang, day=result.day.isoformat(), run=result.nightly_run_id, tag=result.tag)
    sections = report_lines(result, lang)
    if fmt == "html":
        urgent = _urgent_leads(store, result) if store is not None else []
        text = render_html(result, title, sections, urgent, lang)
    else:
        lines = [f"# {title}", ""]
        for heading, rows in sections:
            lines += [f"## {heading}", ""]
            if len(rows) == 1:
                lines += [say("none", lang), ""]
                continue
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows[1:]]
            lines.append("")
        text = "\n".join(lines)
    path = directory / f"report.{fmt}"
    path.write_text(text, encoding="utf-8")
    return path


def _urgent_leads(store: Store, result: NightlyResult) -> list[dict[str, Any]]:
    """Tonight's new critical and high leads, the worst and latest first."""
    runs = [run for runs in result.region_runs.values() for run in runs]
    return store.leads(limit=URGENT_LIMIT, first_run_ids=runs, min_severity="high", triage_order=True) if runs else []


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
