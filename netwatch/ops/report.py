"""The night's outbox and report: each region's new leads in `outbox/<date>/<region>.csv` (the export's
Excel-safe CSV) and report.md or report.html beside them."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netwatch import config
from netwatch.ops.export import export_leads
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
        export_new_leads(store, path, run_ids)
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


def report_lines(result: NightlyResult) -> list[tuple[str, list[list[str]]]]:
    """The report's sections as (heading, table rows; first row the header), for Markdown and HTML alike."""
    pages = sum(t.figures.pages for t in result.targets if t.figures)
    items = sum(t.figures.items for t in result.targets if t.figures)
    overview = [["figure", "value"], ["result", result.verdict], ["tag", result.tag],
                ["targets crawled", str(len(result.targets))], ["pages fetched", str(pages)],
                ["items scraped", str(items)], ["new leads", str(result.new)],
                ["recurring leads", str(result.recurring)], ["gone leads", str(result.gone)]]
    if result.resumed:
        overview.append(["note", "resumed a nightly run that was killed"])
    if result.lock_note:
        overview.append(["lock", result.lock_note])
    sections = [("Overview", overview)]
    sections.append(("New leads per category", [["category", "new leads"]]
                     + [[name, str(count)] for name, count in result.new_by_category.most_common()]))
    sections.append(("New leads per site", [["site", "new leads"]]
                     + [[str(name), str(count)] for name, count in result.new_by_site.most_common()]))
    sections.append(("Alarms and failing targets", [["target", "check", "message"]]
                     + [[name, alarm.check, alarm.message] for name, alarm in result.alarms]))
    sections.append(("Targets", [["target", "region", "status", "pages", "items", "errors", "finish reason"]]
                     + [[t.name, t.region, t.status, *((str(t.figures.pages), str(t.figures.items),
                                                        str(t.figures.errors), t.figures.finish_reason or "")
                                                       if t.figures else ("", "", "", ""))]
                        for t in result.targets]))
    sections.append(("Outbox", [["region", "file"]]
                     + [[region, str(path)] for region, path in sorted(result.outbox_files.items())]))
    return sections


def write_report(result: NightlyResult, directory: Path, fmt: str = "md") -> Path:
    """report.md or report.html beside the night's outbox files."""
    directory.mkdir(parents=True, exist_ok=True)
    title = f"netwatch nightly report {result.day.isoformat()} (run {result.nightly_run_id}, tag {result.tag})"
    sections = report_lines(result)
    if fmt == "html":
        parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"]
        for heading, rows in sections:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
            if len(rows) == 1:
                parts.append("<p>none</p>")
                continue
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0]) + "</tr>")
            parts.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
            parts.append("</table>")
        text = "\n".join(parts) + "\n"
    else:
        lines = [f"# {title}", ""]
        for heading, rows in sections:
            lines += [f"## {heading}", ""]
            if len(rows) == 1:
                lines += ["none", ""]
                continue
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows[1:]]
            lines.append("")
        text = "\n".join(lines)
    path = directory / f"report.{fmt}"
    path.write_text(text, encoding="utf-8")
    return path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
