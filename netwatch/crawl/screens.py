"""Screenshots of the pages that raised new critical or high leads, taken right after a crawl (so they never
slow it): a full-page PNG of each page as the browser shows it, and a second one with the matched text
marked. Each capture (the pages one crawl process archived) gets the screenshots of the leads found on its
pages, taken once the run is finished (the review signals and price history added their leads): by the crawl
itself (`screenshots_after`), or, for a run shared by distributed workers, by the coordinator once all
workers are done (`screenshots_of_runs`; the workers take none). Debian's Chromium through Playwright (netwatch.crawl.browser.launch_options), at most
NETWATCH_SCREENSHOTS_MAX pages and NETWATCH_SCREENSHOTS_SECONDS in all per crawl, each page at most
NETWATCH_SCREENSHOT_TIMEOUT. A <stamp>.screens.json beside the crawl's WARC files lists them with their
sha256 (`netwatch evidence verify` re-checks them) and the time each was taken.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netwatch.domain.capture import SCREENS_SUFFIX, sha256_file

logger = logging.getLogger(__name__)

# Marks every occurrence of the matched texts in the page's text nodes, and scrolls the first into view.
HIGHLIGHT_JS = """
(matches) => {
  let marked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    for (const match of matches) {
      if (!match) continue;
      const at = node.nodeValue.indexOf(match);
      if (at < 0) continue;
      const hit = node.splitText(at);
      hit.splitText(match.length);
      const mark = document.createElement('mark');
      mark.setAttribute('style', 'background:#ffeb3b;color:#000;outline:3px solid #e53935;outline-offset:1px');
      hit.parentNode.replaceChild(mark, hit);
      mark.appendChild(hit);
      marked += 1;
      break;
    }
  }
  // A match split over elements (象<b>牙</b>): the browser's own find selects it; a box is drawn over it.
  for (const match of matches) {
    if (!match || document.body.innerText.indexOf(match) < 0) continue;
    window.getSelection().removeAllRanges();
    while (window.find(match, true, false, false, false, false, false)) {
      const range = window.getSelection().getRangeAt(0);
      if (range.startContainer.parentElement.closest('mark')) break;
      for (const rect of range.getClientRects()) {
        const box = document.createElement('div');
        box.setAttribute('style', `position:absolute;left:${rect.left + scrollX - 2}px;top:${rect.top + scrollY - 2}px;` +
          `width:${rect.width + 4}px;height:${rect.height + 4}px;border:3px solid #e53935;background:rgba(255,235,59,.4);` +
          'pointer-events:none;z-index:2147483647');
        document.body.appendChild(box);
      }
      marked += 1;
      break;
    }
  }
  window.getSelection().removeAllRanges();
  return marked;
}
"""


def take_screenshots(db_url: str, run_id: int, day_dir: Path, stamp: str, settings: Any) -> dict[str, Any]:
    """Screenshot the run's new critical and high leads' pages; returns the screenshot record written."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from netwatch.crawl.browser import launch_options
    from netwatch.store import Store

    budget = settings.getfloat("NETWATCH_SCREENSHOTS_SECONDS")
    per_page_ms = settings.getfloat("NETWATCH_SCREENSHOT_TIMEOUT") * 1000
    with Store(db_url) as store:
        leads = store.new_serious_leads(run_id, "high", settings.getint("NETWATCH_SCREENSHOTS_MAX"), capture=stamp)
    pages: dict[str, dict[str, Any]] = {}  # one screenshot per page, whatever number of leads it raised
    for lead in leads:
        if lead["url"]:
            entry = pages.setdefault(lead["url"], {"url": lead["url"], "lead_ids": [], "matches": []})
            entry["lead_ids"].append(lead["lead_id"])
            entry["matches"] += [m for m in lead["matches"] if m not in entry["matches"]]
    record: dict[str, Any] = {"kind": "netwatch screenshots", "capture": stamp, "store_run_id": run_id,
                              "browser": None, "pages": [], "skipped": [], "files": {}}
    if not pages:
        return record
    started = time.monotonic()
    shots = day_dir / "screens"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        record["browser"] = f"chromium {browser.version}"
        try:
            context = browser.new_context(user_agent=settings.get("USER_AGENT"), viewport={"width": 1280, "height": 900},
                                          locale="zh-CN")
            for number, entry in enumerate(pages.values()):
                if time.monotonic() - started > budget:
                    record["skipped"].append({"url": entry["url"], "reason": f"NETWATCH_SCREENSHOTS_SECONDS ({budget:g} s) spent"})
                    continue
                name = f"{stamp}-{number:04d}"
                began = time.monotonic()
                page = context.new_page()
                try:
                    page.goto(entry["url"], timeout=per_page_ms, wait_until="load")
                    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
                    page.screenshot(path=shots / f"{name}.png", full_page=True, timeout=per_page_ms)
                    marked = page.evaluate(HIGHLIGHT_JS, entry["matches"])
                    page.screenshot(path=shots / f"{name}-marked.png", full_page=True, timeout=per_page_ms)
                except PlaywrightError as exc:
                    record["skipped"].append({"url": entry["url"], "reason": str(exc).splitlines()[0][:300]})
                    continue
                finally:
                    page.close()
                record["pages"].append({**entry, "taken_at_utc": taken_at, "marked": marked,
                                        "seconds": round(time.monotonic() - began, 3),
                                        "png": f"screens/{name}.png", "marked_png": f"screens/{name}-marked.png"})
        finally:
            browser.close()
    record["files"] = {f"screens/{path.name}": sha256_file(path) for page in record["pages"]
                       for path in (day_dir / page["png"], day_dir / page["marked_png"])}
    path = day_dir / f"{stamp}{SCREENS_SUFFIX}"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("%s screenshot(s) of new critical/high leads in %.1fs: %s", len(record["pages"]),
                time.monotonic() - started, path)
    return record


def wanted(settings: Any) -> bool:
    from netwatch import config

    return config.screenshots() if settings.get("NETWATCH_SCREENSHOTS") is None else \
        settings.getbool("NETWATCH_SCREENSHOTS")


def screenshots_of_runs(db_url: str, run_ids: list[int], settings: Any) -> list[dict[str, Any]]:
    """Screenshots for finished runs shared by distributed workers: for each capture (one worker's crawl of a
    target) that holds pages of their new critical and high leads, in that capture's folder. A capture whose
    folder this machine cannot reach (a worker's own disk) is logged and left. In a thread of its own (see
    netwatch.crawl.runner.screenshots_after_crawls); failures are logged, never raised."""
    import threading

    from netwatch.domain.capture import stamp_of
    from netwatch.store import Store
    from netwatch.store.evidence_reads import serious_lead_records

    if not wanted(settings) or not run_ids:
        return []
    records: list[dict[str, Any]] = []

    def shoot() -> None:
        for run_id in run_ids:
            try:
                with Store(db_url) as store:
                    captures = {stamp_of(file) for file in store.read(serious_lead_records, run_id, "high")}
                for folder, stamp in sorted(captures):
                    if not folder.is_dir():
                        logger.warning("no screenshots for capture %s of run %s: its folder %s is not on this "
                                       "machine", stamp, run_id, folder)
                        continue
                    records.append(take_screenshots(db_url, run_id, folder, stamp, settings))
            except Exception:  # noqa: BLE001 - a missing browser must not fail the night
                logger.exception("screenshots after run %s failed", run_id)

    worker = threading.Thread(target=shoot, name="screenshots")
    worker.start()
    worker.join()
    return records


def screenshots_after(crawler: Any) -> dict[str, Any] | None:
    """Screenshots for one finished crawl (netwatch.crawl.runner calls this once the reactor has stopped);
    failures are logged, never raised: the crawl's result stands."""
    from netwatch import config

    settings = crawler.settings
    stats = crawler.stats.get_stats() if crawler.stats else {}
    run_id, stamp, folder = (stats.get(key) for key in ("netwatch/run_id", "netwatch/archive/stamp",
                                                        "netwatch/archive/folder"))
    if not wanted(settings) or not run_id or not stamp:
        return None
    try:
        record = take_screenshots(settings.get("NETWATCH_DB_URL") or config.db_url(), int(run_id),
                                  Path(folder), stamp, settings)
    except Exception:  # noqa: BLE001 - a missing browser must not turn a good crawl into a failed one
        logger.exception("screenshots after run %s failed", run_id)
        return None
    crawler.stats.set_value("netwatch/screenshots", len(record["pages"]))
    return record
