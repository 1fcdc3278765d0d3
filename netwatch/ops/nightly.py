"""The nightly run: every enabled watch target with a tag crawled in one run, leads classified as
new / recurring / gone, each region's new leads written to `outbox/<date>/<region>.csv`, a run report,
crawl-health alarms, and an exit code that says whether the night went well.

Two nightly runs never overlap (the lock: netwatch.ops.lock). A killed run is resumed by the next one:
targets it finished are not crawled again, and the store's upserts keep every lead once. Every crawl run
is recorded as the night's as soon as it starts (`nightly_crawl_runs`), so the leads of a batch killed
half-way reach the resumed night's outbox too. SIGTERM / SIGINT stop the night cleanly
(netwatch.ops.stopping). This module is the orchestration; the outbox and report are
netwatch.ops.report's, what it stores netwatch.store.nightly's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from netwatch.analysis.post_run import KILLED, run_status
from netwatch.crawl.health import (
    DROPPED_PREFIX,
    SITE_FAILURES_STAT,
    TRAP_PREFIX,
    Alarm,
    CrawlFigures,
    alarms_from_stats,
    counts,
    figures_from_stats,
)
from netwatch.domain.clock import utcnow
from netwatch.domain.process import process_alive
from netwatch.exits import EXIT_ALARMS, EXIT_FAILED, EXIT_OK
from netwatch.ops.crawl_child import (  # noqa: F401 - CrawlOutcome, crawl_specs_locally: re-exported
    CHILD_MODULE,
    NIGHTLY_RUN_SETTING,
    CrawlOutcome,
    crawl_specs_locally,
    crawl_targets_locally,
    target_key,
)
from netwatch.ops.lock import DEFAULT_HEARTBEAT_EVERY, DEFAULT_STALE_AFTER, LockHeld, RunLockHandle, StaleLock
from netwatch.ops.report import night_directory, summary_stats, write_outbox, write_report
from netwatch.ops.stopping import NightlyInterrupted, stopping
from netwatch.ops.watchlist import list_targets
from netwatch.store import Store
from netwatch.store.nightly import (
    abandon_run,
    done_target_ids,
    new_lead_categories_and_sites,
    night_crawl_runs,
    night_lead_counts,
    record_crawl_run,
    record_target_runs,
    resume_run,
    stop_run,
    target_runs,
    unfinished_run,
)
from netwatch.store.watchlist import Target

log = logging.getLogger(__name__)

NIGHTLY_SPIDER = "nightly"  # the `runs.spider` of a nightly run's own row


class NoTargets(ValueError):
    """The watchlist has nothing to crawl for this tag."""


# -- one night -----------------------------------------------------------------------------------


# (targets, db_url, settings overrides) -> {target id: outcome}; netwatch.crawl.runner in production,
# the distributed coordinator with --distributed.
CrawlTargets = Callable[[Sequence[Target], str, Mapping[str, Any]], dict[int, CrawlOutcome]]


@dataclass(frozen=True)
class RecheckOptions:
    """The night re-checks the leads in these statuses not re-checked within older_than (None: all)."""

    statuses: tuple[str, ...] = ("handed_off", "confirmed", "resolved")
    older_than: timedelta | None = None


@dataclass
class TargetReport:
    name: str
    region: str
    status: str  # ok, alarm, failed, skipped (finished by an earlier, killed attempt)
    figures: CrawlFigures | None
    alarms: list[Alarm]
    crawl_run_id: int | None
    # requests the crawl chose not to send: trap heuristics (trap/<reason>) and closed sites (dropped/<why>)
    not_sent: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)  # {site, url, reason}: redirect loops, sites given up


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
    outbox_counts: dict[str, int] = field(default_factory=dict)  # region -> how many new leads its file holds
    report_path: Path | None = None
    resumed: bool = False
    lock_note: StaleLock | None = None  # a stale lock this run cleared
    # the night's re-checks (netwatch.ops.recheck): [header, *rows] of the re-checked leads' takedown status
    takedowns: list[list[str]] | None = None

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


def run_nightly(db_url: str, *, tag: str = "nightly", outbox: str | Path = "outbox", report_format: str = "md",
                crawl: CrawlTargets | None = None, settings: Mapping[str, Any] | None = None,
                day: date | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER,
                heartbeat_every: float = DEFAULT_HEARTBEAT_EVERY, batch_size: int = 50,
                recheck: RecheckOptions | None = None) -> NightlyResult:
    """Crawl every enabled target tagged `tag`, classify leads, fill the outbox and write the report.

    Each crawl judges its own health (netwatch.crawl.monitors; thresholds are crawl settings, e.g.
    NETWATCH_MAX_ERROR_RATE, and the drop is measured against the target's last run without alarms).
    Raises LockHeld when another nightly run is alive. A nightly run left unfinished by a killed process
    is resumed: its finished targets are kept, the rest crawled. SIGTERM or SIGINT stops the night
    (its crawl child shut down gracefully, what finished recorded, the lock released) and raises
    NightlyInterrupted; the next run resumes it. `recheck`: the followed leads' pages are fetched again
    after the targets (netwatch.ops.recheck) and the report shows their takedown status.
    """
    if report_format not in ("md", "html"):
        raise ValueError(f"unknown report format {report_format!r}: use md or html")
    day = day or datetime.now().date()
    crawl = crawl or crawl_targets_locally
    with stopping() as stop, Store(db_url) as store, \
            RunLockHandle(store.engine, NIGHTLY_SPIDER, stale_after=stale_after, heartbeat_every=heartbeat_every) as lock:
        targets = list_targets(store.engine, tag, enabled_only=True)
        if not targets:
            raise NoTargets(f"no enabled watch targets tagged {tag!r} in {store.engine.url.render_as_string()}: "
                            "add some with `netwatch watch add` or `netwatch watch import FILE`")
        nightly_run_id, resumed = _start_or_resume(store, tag)
        try:
            pending = _pending_targets(store, nightly_run_id, targets)
            # Each crawl run is recorded as the night's as it starts (by the crawl child, or the coordinator).
            crawl_settings = {**(settings or {}), NIGHTLY_RUN_SETTING: nightly_run_id}
            # Batch by batch, each recorded as soon as it is crawled: a killed run crawls one batch again at most.
            for start in range(0, len(pending), batch_size):
                stop.raise_if_requested()
                batch = pending[start:start + batch_size]
                outcomes = crawl(batch, db_url, crawl_settings)
                with stop.deferred():
                    if lock.lost.is_set():
                        raise LockHeld("the nightly lock was taken over during the crawl: this run's results are "
                                       "kept, its report is not written")
                    # Stopped: only the crawls that went through count as done; the rest are crawled again.
                    _record_outcomes(store, nightly_run_id, batch, outcomes, finished_only=stop.requested)
                stop.raise_if_requested()
            takedowns = None
            if recheck is not None:  # crawls of their own, not the night's: their leads are not its new ones
                from netwatch.ops.recheck import recheck_for_report

                takedowns = recheck_for_report(store, db_url, recheck.statuses, recheck.older_than, settings)
            result = _summarise(store, nightly_run_id, tag, day)
            result.takedowns = takedowns
            result.resumed, result.lock_note = resumed, lock.cleared
            night_dir = night_directory(Path(outbox), day, nightly_run_id)
            write_outbox(store, result, night_dir)  # each file renamed into place: a stop never leaves half a file
            result.report_path = write_report(result, night_dir, report_format, store)
            status = {EXIT_OK: "finished", EXIT_ALARMS: "alarms", EXIT_FAILED: "failed"}[result.exit_code]
            with stop.deferred():  # the outbox is written: a signal now no longer stops the night
                store.finish_run(nightly_run_id, summary_stats(result), status)
        except NightlyInterrupted as exc:
            log.warning("nightly run %s %s", nightly_run_id, exc)
            stop_run(store, nightly_run_id, {"tag": tag, "stopped_by": signal.Signals(exc.signum).name})
            raise
        return result


RESUME_WITHIN = timedelta(hours=20)  # a killed run older than this is abandoned, not resumed: it was another night
ORPHAN_WAIT = 30.0  # seconds a resumed night waits for the killed night's crawl children to close their runs


def _start_or_resume(store: Store, tag: str) -> tuple[int, bool]:
    """The unfinished nightly run of this tag from tonight (its process died: we hold the lock), or a new one."""
    unfinished = unfinished_run(store, NIGHTLY_SPIDER, f"tag:{tag}")
    if unfinished is not None:
        run_id, started_at = unfinished
        if utcnow() - started_at < RESUME_WITHIN:
            resume_run(store, run_id)
            _wait_for_orphans(store, run_id)
            return run_id, True
        abandon_run(store, run_id)
    return store.start_run(NIGHTLY_SPIDER, f"tag:{tag}"), False


def _wait_for_orphans(store: Store, nightly_run_id: int) -> None:
    """A killed night's crawl child got SIGTERM with its parent and is shutting down: let it store its last
    items (they must be in the store before this night's outbox is written); one that does not end in
    ORPHAN_WAIT seconds is killed."""
    host = socket.gethostname()

    def alive() -> list[int]:
        return sorted({run["pid"] for run in night_crawl_runs(store, nightly_run_id)
                       if run["status"] == "running" and run["host"] == host and run["pid"] and process_alive(run["pid"])
                       and _is_crawl_child(run["pid"])})

    deadline = time.monotonic() + ORPHAN_WAIT
    while (pids := alive()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        log.warning("killing process %s, a crawl of the killed nightly run %s that did not end", pid, nightly_run_id)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _is_crawl_child(pid: int) -> bool:
    """Whether the process is still a crawl child of a nightly run (its pid was not reused since)."""
    try:
        return CHILD_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid


def _pending_targets(store: Store, nightly_run_id: int, targets: Sequence[Target]) -> list[Target]:
    """Targets this nightly run has not finished yet (all of them, unless resuming a killed run)."""
    done = done_target_ids(store, nightly_run_id)
    return [target for target in targets if target.id not in done]


def _record_outcomes(store: Store, nightly_run_id: int, targets: Sequence[Target],
                     outcomes: Mapping[int, CrawlOutcome], finished_only: bool = False) -> None:
    """The batch's nightly_target_runs rows. finished_only (the night was stopped): only the crawls that
    went through; a target whose crawl was cut short stays pending and is crawled again on resuming."""
    rows: dict[int, dict[str, Any]] = {}  # target id -> its nightly_target_runs columns
    for target in targets:
        outcome = outcomes.get(target.id)
        if outcome is not None and outcome.run_id is not None:
            # a crawl path that does not record its runs as they start (the distributed one) is recorded here
            record_crawl_run(store, nightly_run_id, target.id, outcome.run_id)
        if finished_only and (outcome is None or outcome.error
                              or run_status(outcome.stats.get("finish_reason")) == KILLED):
            continue
        row = rows[target.id] = {}
        if outcome is None or outcome.error:
            why = outcome.error if outcome else "the crawl returned nothing for it"
            why_zh = f"抓取失败：{outcome.error}" if outcome else "抓取没有返回该目标的任何结果"
            row["status"], row["alarms"] = "failed", {"alarms": [Alarm("crawl_failed", why, why_zh).to_dict()]}
            row["crawl_run_id"] = outcome.run_id if outcome else None
        else:
            figures = figures_from_stats(outcome.stats)
            alarms = alarms_from_stats(outcome.stats)  # the crawl's own verdict, as `netwatch crawl` reads it
            row["crawl_run_id"] = outcome.run_id
            row["items"], row["pages"], row["errors"] = figures.items, figures.pages, figures.errors
            row["finish_reason"] = figures.finish_reason
            row["alarms"] = {"alarms": [alarm.to_dict() for alarm in alarms]}
            row["status"] = "alarm" if alarms else "ok"
    record_target_runs(store, nightly_run_id, rows)


def _summarise(store: Store, nightly_run_id: int, tag: str, day: date) -> NightlyResult:
    """Per-target status and the night's new / recurring / gone leads. New and recurring count over every
    crawl run of the night, a killed batch's too (each lead once); gone comes from each target's last crawl."""
    by_id = {target.id: target for target in list_targets(store.engine)}  # disabled since: still its region
    reports: list[TargetReport] = []
    result = NightlyResult(nightly_run_id=nightly_run_id, day=day, tag=tag, targets=reports)
    for row in target_runs(store, nightly_run_id):
        target = by_id.get(row["target_id"])
        name = target.name if target else f"target #{row['target_id']} (since removed)"
        region = target.region if target else "unassigned"
        alarms = [Alarm(**alarm) for alarm in (row["alarms"] or {}).get("alarms", [])]
        figures = (CrawlFigures(row["items"], row["pages"], row["errors"], row["finish_reason"])
                   if row["status"] != "failed" else None)
        report = TargetReport(name, region, row["status"], figures, alarms, row["crawl_run_id"])
        reports.append(report)
        if row["crawl_run_id"] is not None:
            result.gone += store.run_summary(row["crawl_run_id"])["gone"]
            stats = store.run_stats(row["crawl_run_id"])
            report.not_sent = {**{f"trap/{k}": n for k, n in counts(stats, TRAP_PREFIX).items()},
                               **{f"dropped/{k}": n for k, n in counts(stats, DROPPED_PREFIX).items()}}
            report.failures = list(stats.get(SITE_FAILURES_STAT) or [])
    reports.sort(key=lambda report: (report.status == "ok", report.name))
    # region -> every crawl run of the night for its targets: the outbox hands each lead first found by
    # one of them to that region, once (a lead has one first run)
    for run in night_crawl_runs(store, nightly_run_id):
        target = by_id.get(run["target_id"])
        result.region_runs.setdefault(target.region if target else "unassigned", []).append(run["crawl_run_id"])
    crawl_runs = [run for runs in result.region_runs.values() for run in runs]
    result.new, result.recurring = night_lead_counts(store, crawl_runs)
    if crawl_runs:
        for category, site in new_lead_categories_and_sites(store, crawl_runs):
            result.new_by_category[category] += 1
            result.new_by_site[site] += 1
    return result
