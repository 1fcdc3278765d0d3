"""The nightly HTML report printed to a PDF beside it (report.pdf), for whoever files or prints the
management document: Debian's Chromium through Playwright (the crawl's launch options,
netwatch.crawl.browser) prints the page on A4 with page numbers; the Chinese is set in WenQuanYi Zen Hei
(fonts-wqy-zenhei, named by the report's style).

The browser runs in a child process of its own session, ended with everything it started once
NETWATCH_REPORT_PDF_SECONDS (default 60) have passed: a hung browser never holds up the night. A PDF that
could not be made is a logged warning, never a failed night; the HTML report stands either way."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from netwatch import config

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0  # after SIGTERM, before SIGKILL: Playwright's driver closes its browser on SIGTERM
FOOTER = ("<div style='font-size:8px;width:100%;text-align:center;color:#666'>"
          "<span class=pageNumber></span> / <span class=totalPages></span></div>")


def write_pdf(html_path: Path, seconds: float | None = None) -> Path | None:
    """report.pdf beside `html_path`, or None (and a warning) when the browser failed or ran out of time.
    The PDF is written under another name and renamed into place: a reader never finds half a file."""
    if seconds is None:
        try:
            seconds = config.report_pdf_seconds()
        except ValueError as exc:
            logger.warning("no PDF of %s: %s", html_path, exc)
            return None
    pdf_path = html_path.with_suffix(".pdf")
    partial = pdf_path.with_name(pdf_path.name + ".part")
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", __name__, str(html_path), str(partial)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, errors = child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        _end(child)
        partial.unlink(missing_ok=True)
        logger.warning("no PDF of %s: not done within %g s (NETWATCH_REPORT_PDF_SECONDS)", html_path, seconds)
        return None
    if child.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        last = (errors or "").strip().splitlines()
        logger.warning("no PDF of %s: %s", html_path, last[-1][:300] if last else f"exit {child.returncode}")
        return None
    partial.replace(pdf_path)
    logger.info("PDF report in %.1fs: %s", time.monotonic() - started, pdf_path)
    return pdf_path


def _end(child: subprocess.Popen) -> None:
    """Stop the child and what it started (Playwright's driver closes its browser on SIGTERM)."""
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print one HTML file to PDF in the browser (runs in the child process)."""
    from playwright.sync_api import sync_playwright

    from netwatch.crawl.browser import launch_options

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            page.pdf(path=str(pdf_path), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>", footer_template=FOOTER,
                     margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()


if __name__ == "__main__":
    print_pdf(Path(sys.argv[1]), Path(sys.argv[2]))
