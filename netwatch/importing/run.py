"""Importing one dump: build its items, run each through the one item path (netwatch.checks.process, as a
crawl and `netwatch scan` do), store them as a run, and finish the run with the crawl's post-run step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from netwatch.checks import CHECKED_TYPES, process
from netwatch.importing.build import ImportReport, stage_items

if TYPE_CHECKING:
    from netwatch.analysis.reviews import ReviewSignalScorer


def import_file(
    path: str | Path,
    *,
    kind: str | None = None,
    platform: str = "import",
    mapping: Mapping[str, str] | None = None,
    db_url: str | None = None,
    sheet: str | None = None,
    timezone_name: str = "UTC",
    batch_size: int = 500,
    scorer: ReviewSignalScorer | None = None,
) -> ImportReport:
    """Import a platform dump into the store; returns what was read, skipped and found.

    The items go through the item path a crawl's go through (netwatch.checks.process), are stored, and the
    run is finished by the crawl's post-run step (netwatch.analysis.post_run): its reviews are scored over the
    store, every listing against all of its shop. An import interrupted (Ctrl-C) is recorded as killed."""
    from netwatch.analysis.post_run import finish
    from netwatch.analysis.reviews import CATEGORY
    from netwatch.analysis.reviews.store_pass import LEADS_STAT
    from netwatch.store import Store

    staged = stage_items(path, kind=kind, platform=platform, mapping=mapping, sheet=sheet, timezone_name=timezone_name)
    report = staged.report
    found_hits: Counter[str] = Counter()
    checked = 0
    store = Store(db_url)
    try:
        run_id = store.start_run("import", target=str(path))
        report.run_id = run_id
        try:
            # A batch at a time through the item path and into the store: memory stays that of one batch.
            for items in staged.batches(batch_size):
                for item in items:
                    found_hits.update(hit.category for hit in process(item))
                checked += sum(isinstance(item, CHECKED_TYPES) for item in items)
                store.save_batch(run_id, items)
            # The statistics a crawl's CheckPipeline counts, under the same names.
            stats = {"netwatch/match/items": checked,
                     **{f"netwatch/hits/{category}": count for category, count in found_hits.items()},
                     "netwatch/import/rows": report.rows, "netwatch/import/skipped": report.skipped}
            recorded = finish(store, run_id, stats, "finished", scorer=scorer)
        except BaseException as exc:
            reason = "shutdown" if isinstance(exc, KeyboardInterrupt) else "failed"
            finish(store, run_id, {"rows": report.rows, "skipped": report.skipped}, reason, score_reviews=False)
            raise
        report.hits_by_category.update(found_hits)
        leads = int(recorded.get(LEADS_STAT, 0))
        if leads:
            report.hits_by_category[CATEGORY] = report.hits_by_category.get(CATEGORY, 0) + leads
    finally:
        store.close()
        staged.close()
    return report
