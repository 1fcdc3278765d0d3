"""The nightly run: every enabled watch target with a tag crawled in one run, leads classified as
new / recurring / gone, each region's new leads written to `outbox/<date>/<region>.csv`, a run report,
crawl-health alarms, and an exit code that says whether the night went well.

Two nightly runs never overlap (the lock: netwatch.ops.lock). A killed run is resumed by the next one:
targets it finished are not crawled again, and the store's upserts keep every lead once. This module is
the orchestration; the outbox and report are netwatch.ops.report's, what it stores netwatch.store.nightly's.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from netwatch.crawl.health import Alarm, CrawlFigures, check_health, figures_from_stats
from netwatch.domain.clock import utcnow
from netwatch.domain.process import die_with_parent
from netwatch.ops.lock import DEFAULT_HEARTBEAT_EVERY, DEFAULT_STALE_AFTER, LockHeld, RunLockHandle
from netwatch.ops.report import night_directory, summary_stats, write_outbox, write_report
from netwatch.ops.watchlist import list_targets
from netwatch.store import Store
from netwatch.store.nightly import (
    abandon_run, done_target_ids, last_good_figures, new_lead_categories_and_sites, record_target_runs, resume_run,
    target_runs, unfinished_run,
)
from netwatch.store.watchlist import Target

log = logging.getLogger(__name__)

NIGHTLY_SPIDER = "nightly"  # the `runs.spider` of a nightly run's own row
EXIT_OK, EXIT_ALARMS, EXIT_FAILED, EXIT_LOCKED = 0, 1, 2, 3
# Set by the distributed coordinator in a target's stats: the workers that died during its crawl.
LOST_WORKERS_STAT = "netwatch/distributed/lost_workers"


class NoTargets(ValueError):
    """The watchlist has nothing to crawl for this tag."""


# -- one night -----------------------------------------------------------------------------------


@dataclass
class CrawlOutcome:
    """What crawling one target gave: the store's run id for it, its Scrapy stats, or why it failed."""

    run_id: int | None
    stats: dict[str, Any]
    error: str | None = None


# (targets, db_url, settings overrides) -> {target id: outcome}; netwatch.crawl.runner in production,
# the distributed coordinator with --distributed.
CrawlTargets = Callable[[Sequence[Target], str, Mapping[str, Any]], dict[int, CrawlOutcome]]


@dataclass
class TargetReport:
    name: str
    region: str
    status: str  # ok, alarm, failed, skipped (finished by an earlier, killed attempt)
    figures: CrawlFigures | None
    alarms: list[Alarm]
    crawl_run_id: int | None


@dataclass
class NightlyResult:
    nightly_run_id: int
    day: date
    tag: str
    targets: list[TargetReport]
    new: int = 0
    recurring: int = 0
    gone: int = 0
    new_by_category: Counter = field(default_factory=Counter)
    new_by_site: Counter = field(default_factory=Counter)
    region_runs: dict[str, list[int]] = field(default_factory=dict)  # region -> tonight's crawl run ids
    outbox_files: dict[str, Path] = field(default_factory=dict)  # region -> file of its new leads
    report_path: Path | None = None
    resumed: bool = False
    lock_note: str | None = None

    @property
    def alarms(self) -> list[tuple[str, Alarm]]:
        return [(target.name, alarm) for target in self.targets for alarm in target.alarms]

    @property
    def exit_code(self) -> int:
        if any(target.status == "failed" for target in self.targets):
            return EXIT_FAILED
        return EXIT_ALARMS if self.alarms else EXIT_OK

    @property
    def verdict(self) -> str:
        """The exit code in a word, as the report shows it."""
        return {EXIT_OK: "OK", EXIT_ALARMS: "ALARMS", EXIT_FAILED: "FAILED"}[self.exit_code]


def target_key(target: Target) -> str:
    """The `runs.target` of a target's crawls: the same string every night, so the store can tell
    which listings a target no longer shows (delisted) and which leads are gone."""
    return f"profile:{target.profile}@{target.url or ''}" if target.kind == "profile" else target.url or ""


def run_nightly(db_url: str, *, tag: str = "nightly", outbox: str | Path = "outbox", report_format: str = "md",
                crawl: CrawlTargets | None = None, settings: Mapping[str, Any] | None = None,
                day: date | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER,
                heartbeat_every: float = DEFAULT_HEARTBEAT_EVERY, max_error_rate: float | None = None,
                batch_size: int = 50) -> NightlyResult:
    """Crawl every enabled target tagged `tag`, classify leads, fill the outbox and write the report.

    Raises LockHeld when another nightly run is alive. A nightly run left unfinished by a killed process
    is resumed: its finished targets are kept, the rest crawled.
    """
    if report_format not in ("md", "html"):
        raise ValueError(f"unknown report format {report_format!r}: use md or html")
    day = day or datetime.now().date()
    crawl = crawl or crawl_targets_locally
    with Store(db_url) as store, RunLockHandle(store.engine, NIGHTLY_SPIDER, stale_after=stale_after,
                                               heartbeat_every=heartbeat_every) as lock:
        targets = list_targets(store.engine, tag, enabled_only=True)
        if not targets:
            raise NoTargets(f"no enabled watch targets tagged {tag!r} in {store.engine.url.render_as_string()}: "
                            "add some with `netwatch watch add` or `netwatch watch import FILE`")
        nightly_run_id, resumed = _start_or_resume(store, tag)
        pending = _pending_targets(store, nightly_run_id, targets)
        # Batch by batch, each recorded as soon as it is crawled: a killed run loses one batch at most.
        for start in range(0, len(pending), batch_size):
            batch = pending[start:start + batch_size]
            outcomes = crawl(batch, db_url, dict(settings or {}))
            if lock.lost.is_set():
                raise LockHeld("the nightly lock was taken over during the crawl: this run's results are kept, "
                               "its report is not written")
            _record_outcomes(store, nightly_run_id, batch, outcomes, max_error_rate)
        result = _summarise(store, nightly_run_id, tag, day, targets)
        result.resumed, result.lock_note = resumed, lock.cleared
        night_dir = night_directory(Path(outbox), day, nightly_run_id)
        write_outbox(store, result, night_dir)
        result.report_path = write_report(result, night_dir, report_format)
        status = {EXIT_OK: "finished", EXIT_ALARMS: "alarms", EXIT_FAILED: "failed"}[result.exit_code]
        store.finish_run(nightly_run_id, summary_stats(result), status)
        return result


RESUME_WITHIN = timedelta(hours=20)  # a killed run older than this is abandoned, not resumed: it was another night


def _start_or_resume(store: Store, tag: str) -> tuple[int, bool]:
    """The unfinished nightly run of this tag from tonight (its process died: we hold the lock), or a new one."""
    unfinished = unfinished_run(store, NIGHTLY_SPIDER, f"tag:{tag}")
    if unfinished is not None:
        run_id, started_at = unfinished
        if utcnow() - started_at < RESUME_WITHIN:
            resume_run(store, run_id)
            return run_id, True
        abandon_run(store, run_id)
    return store.start_run(NIGHTLY_SPIDER, f"tag:{tag}"), False


def _pending_targets(store: Store, nightly_run_id: int, targets: Sequence[Target]) -> list[Target]:
    """Targets this nightly run has not finished yet (all of them, unless resuming a killed run)."""
    done = done_target_ids(store, nightly_run_id)
    return [target for target in targets if target.id not in done]


def _last_good(store: Store, target_id: int, nightly_run_id: int) -> CrawlFigures | None:
    figures = last_good_figures(store, target_id, nightly_run_id)
    return None if figures is None else CrawlFigures(**figures)


def _record_outcomes(store: Store, nightly_run_id: int, targets: Sequence[Target],
                     outcomes: Mapping[int, CrawlOutcome], max_error_rate: float | None) -> None:
    limits = {} if max_error_rate is None else {"max_error_rate": max_error_rate}
    rows: dict[int, dict[str, Any]] = {}  # target id -> its nightly_target_runs columns
    for target in targets:
        outcome = outcomes.get(target.id)
        row = rows[target.id] = {}
        if outcome is None or outcome.error:
            why = outcome.error if outcome else "the crawl returned nothing for it"
            row["status"], row["alarms"] = "failed", {"alarms": [Alarm("crawl_failed", why).to_dict()]}
            row["crawl_run_id"] = outcome.run_id if outcome else None
        else:
            figures = figures_from_stats(outcome.stats)
            alarms = check_health(figures, _last_good(store, target.id, nightly_run_id), **limits)
            if outcome.stats.get(LOST_WORKERS_STAT):
                alarms.append(Alarm("worker_lost", f"worker(s) {outcome.stats[LOST_WORKERS_STAT]} died during the "
                                                   "crawl; the requests they held were crawled again by the others"))
            row["crawl_run_id"] = outcome.run_id
            row["items"], row["pages"], row["errors"] = figures.items, figures.pages, figures.errors
            row["finish_reason"] = figures.finish_reason
            row["alarms"] = {"alarms": [alarm.to_dict() for alarm in alarms]}
            row["status"] = "alarm" if alarms else "ok"
    record_target_runs(store, nightly_run_id, rows)


def _summarise(store: Store, nightly_run_id: int, tag: str, day: date, targets: Sequence[Target]) -> NightlyResult:
    """Per-target status and the night's new / recurring / gone leads (the store's per-run summary)."""
    by_id = {target.id: target for target in targets}
    reports: list[TargetReport] = []
    result = NightlyResult(nightly_run_id=nightly_run_id, day=day, tag=tag, targets=reports)
    region_runs = result.region_runs
    for row in target_runs(store, nightly_run_id):
        target = by_id.get(row["target_id"])
        name = target.name if target else f"target #{row['target_id']} (since removed)"
        region = target.region if target else "unassigned"
        alarms = [Alarm(**alarm) for alarm in (row["alarms"] or {}).get("alarms", [])]
        figures = (CrawlFigures(row["items"], row["pages"], row["errors"], row["finish_reason"])
                   if row["status"] != "failed" else None)
        reports.append(TargetReport(name, region, row["status"], figures, alarms, row["crawl_run_id"]))
        if row["crawl_run_id"] is None:
            continue
        region_runs.setdefault(region, []).append(row["crawl_run_id"])
        summary = store.run_summary(row["crawl_run_id"])
        result.new += summary["new"]
        result.recurring += summary["recurring"]
        result.gone += summary["gone"]
    reports.sort(key=lambda report: (report.status == "ok", report.name))
    crawl_runs = [run for runs in region_runs.values() for run in runs]
    if crawl_runs:
        for category, site in new_lead_categories_and_sites(store, crawl_runs):
            result.new_by_category[category] += 1
            result.new_by_site[site] += 1
    return result


# -- crawling the targets ------------------------------------------------------------------------

def spider_for(target: Target) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(what netwatch.crawl.runner.resolve_target takes, spider arguments, base URLs) for one target."""
    args: dict[str, Any] = {"target": target_key(target)}
    if target.kind == "profile":
        return str(target.profile), args, ({str(target.profile): target.url} if target.url else {})
    return "generic", {**args, "start_url": target.url}, {}


def crawl_targets_locally(targets: Sequence[Target], db_url: str, settings: Mapping[str, Any]) -> dict[int, CrawlOutcome]:
    """Crawl the targets in one child process (Twisted's reactor runs once per process); it stores the
    items and returns every target's stats."""
    import subprocess
    import sys
    import tempfile

    outcomes: dict[int, CrawlOutcome] = {}
    with tempfile.TemporaryDirectory(prefix="netwatch-nightly-") as tmp:
        job, answer = Path(tmp) / "job.json", Path(tmp) / "outcomes.json"
        job.write_text(json.dumps({
            "db_url": db_url, "settings": dict(settings),
            "targets": [{"id": t.id, "spec": spider_for(t)} for t in targets],
        }), encoding="utf-8")
        finished = subprocess.run([sys.executable, "-m", "netwatch.ops.nightly", str(job), str(answer)],
                                  preexec_fn=die_with_parent, check=False)
        if answer.exists():
            for target_id, outcome in json.loads(answer.read_text(encoding="utf-8")).items():
                outcomes[int(target_id)] = CrawlOutcome(**outcome)
    for target in targets:
        outcomes.setdefault(target.id, CrawlOutcome(None, {}, f"the crawl process exited with {finished.returncode}"))
    return outcomes


def _crawl_batch(job_path: str, answer_path: str) -> int:
    """Child process: crawl one batch of targets with netwatch.crawl.runner's settings and spiders."""
    from netwatch.crawl.runner import crawl_in_process, crawl_settings, resolve_target

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    settings = {"NETWATCH_DB_URL": job["db_url"], **job["settings"]}
    outcomes: dict[str, dict[str, Any]] = {}
    ids, spiders = [], []
    for entry in job["targets"]:
        name, args, base_urls = entry["spec"]
        try:
            spiders.append(resolve_target(name, args, base_urls))
            ids.append(entry["id"])
        except Exception as exc:  # noqa: BLE001 - a bad target fails alone, the others are crawled
            outcomes[str(entry["id"])] = {"run_id": None, "stats": {}, "error": f"cannot crawl: {exc}"}
    crawlers = list(zip(ids, crawl_in_process(crawl_settings(settings), spiders)))
    for target_id, crawler in crawlers:
        stats = json.loads(json.dumps(dict(crawler.stats.get_stats()) if crawler.stats else {}, default=str))
        error = None if stats.get("finish_reason") or stats.get("netwatch/run_id") else \
            "the crawl did not start (its error is in the log above)"
        outcomes[str(target_id)] = {"run_id": stats.get("netwatch/run_id"), "stats": stats, "error": error}
    Path(answer_path).write_text(json.dumps(outcomes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_crawl_batch(*sys.argv[1:3]))
