"""The nightly report's PDF (#18, "a PDF alongside"): `netwatch nightly --report html` prints the HTML report to
report.pdf beside it in Debian's Chromium; the text (read back with poppler's pdftotext) holds the Chinese
headings, and the first page rendered to PNG (pdftoppm) is kept in test-artefacts/report/ for a person to look
at. A browser that is missing or too slow leaves a warning and no PDF, never a failed night."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import service_missing
from test_export import filled  # noqa: F401  (fixture: five leads of run 1)
from test_report_html import night
from test_store_helpers import store_url  # noqa: F401

from netwatch import config
from netwatch.exits import EXIT_OK
from netwatch.ops.report import write_outbox, write_report
from netwatch.ops.report_pdf import write_pdf
from netwatch.ops.watchlist import add_target, make_spec, open_engine

ARTEFACTS = Path(os.environ.get("NETWATCH_ARTEFACTS_DIR") or Path(__file__).resolve().parent.parent / "test-artefacts")
HEADINGS = ("各地区新线索", "新发现的严重和高危线索", "告警与失败目标")


def needs_tools() -> None:
    if not config.chromium_path():
        service_missing("Debian's chromium-headless-shell is not installed")
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        service_missing("poppler-utils (pdftotext, pdftoppm) is not installed: make test installs it")


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def test_nightly_html_report_has_a_pdf_beside_it(tmp_path):
    needs_tools()
    from netwatch_fixtures.mall.launch import start_mall

    db_url = f"sqlite:///{tmp_path / 'netwatch.db'}"
    outbox = tmp_path / "outbox"
    engine = open_engine(db_url)
    with start_mall() as mall:
        add_target(engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀",
                                     tags="nightly"))
        engine.dispose()
        code = "import sys; from netwatch.cli.nightly import nightly; nightly(sys.argv[1:])"
        done = subprocess.run([sys.executable, "-c", code, "--db", db_url, "--outbox", str(outbox), "--report", "html",
                               "-s", "LOG_LEVEL=ERROR"], capture_output=True, text=True, timeout=400,
                              env={**os.environ, "NETWATCH_LANG": "zh"})
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    [html] = outbox.glob("*/report.html")
    pdf = html.with_suffix(".pdf")
    assert f"pdf: {pdf}" in done.stdout
    assert pdf.read_bytes().startswith(b"%PDF-") and not list(outbox.glob("*/*.part"))
    text = pdf_text(pdf)
    assert all(heading in text for heading in HEADINGS), text[:1500]
    assert "海淀" in text and "Asia/Shanghai" in text and "严重" in text
    assert pdf_pages(pdf) >= 1
    folder = ARTEFACTS / "report"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, folder / "report.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(folder / "report-page1")], check=True)
    png = (folder / "report-page1.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a page with charts and tables, not a blank one


def test_pdf_of_a_long_report_runs_over_pages(filled, tmp_path):  # noqa: F811
    needs_tools()
    result = night(1)
    write_outbox(filled, result, tmp_path)
    html = write_report(result, tmp_path, "html", filled)
    # Tonight's targets as a long table: the printed report breaks over pages instead of cutting it off.
    longer = html.read_text(encoding="utf-8").replace(
        "</html>", "<table>" + "".join(f"<tr><td>目标{n}</td><td>海淀</td></tr>" for n in range(150)) + "</table></html>")
    html.write_text(longer, encoding="utf-8")
    pdf = write_pdf(html)
    assert pdf == tmp_path / "report.pdf"
    text = pdf_text(pdf)
    assert pdf_pages(pdf) >= 3 and "目标0" in text and "目标149" in text
    assert re.search(rf"\b1\s*/\s*{pdf_pages(pdf)}\b", text)  # page numbers in the footer


@pytest.mark.parametrize("broken", ["no browser", "too slow", "bad setting"])
def test_no_pdf_is_a_warning_never_a_failure(broken, tmp_path, monkeypatch, caplog):
    needs_tools()
    html = tmp_path / "report.html"
    html.write_text("<!doctype html><meta charset=utf-8><h1>夜间报告</h1>", encoding="utf-8")
    seconds = None
    if broken == "no browser":
        monkeypatch.setenv("NETWATCH_CHROMIUM", str(tmp_path / "no-such-chromium"))
    elif broken == "too slow":
        seconds = 0.2
    else:
        monkeypatch.setenv("NETWATCH_REPORT_PDF_SECONDS", "soon")
    with caplog.at_level(logging.WARNING, logger="netwatch.ops.report_pdf"):
        assert write_pdf(html, seconds) is None
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning.startswith(f"no PDF of {html}: ")
    expected = {"no browser": "no-such-chromium", "too slow": "not done within 0.2 s",
                "bad setting": "NETWATCH_REPORT_PDF_SECONDS='soon'"}[broken]
    assert expected in warning, warning
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html"]  # no PDF, no half-written file
