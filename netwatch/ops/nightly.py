"""The nightly run: every enabled watch target with a tag crawled in one run, leads classified as
new / recurring / gone, each region's new leads written to `outbox/<date>/<region>.csv`, a run report,
crawl-health alarms, and an exit code that says whether the night went well.

Two nightly runs never overlap: a row in `run_locks` is the lock (works on SQLite and PostgreSQL),
kept alive by a heartbeat; a lock whose process is gone (same host) or whose heartbeat is too old is
stale and is taken over. A killed run is resumed by the next one: targets it finished are not crawled
again, and the store's upserts keep every lead once.
"""

from __future__ import annotations

import html
import json
import logging
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netwatch.ops.export import export_leads
from netwatch.crawl.health import Alarm, CrawlFigures, alarms_from_stats, figures_from_stats
from netwatch.exits import EXIT_ALARMS, EXIT_FAILED, EXIT_OK
from netwatch.store import Store
from netwatch.store.models import Lead, ListingRow, Run, ShopRow
from netwatch.store.schema import translate_errors
from netwatch.store.watchlist_models import NightlyTargetRun, RunLock, WatchTarget
from netwatch.ops.watchlist import list_targets

log = logging.getLogger(__name__)

NIGHTLY_SPIDER = "nightly"  # the `runs.spider` of a nightly run's own row
DEFAULT_STALE_AFTER = timedelta(minutes=10)
DEFAULT_HEARTBEAT_EVERY = 30.0  # seconds; must stay well below the stale timeout


# -- the lock ------------------------------------------------------------------------------------


class LockHeld(RuntimeError):
    """Another live process holds the lock; the message says who and since when."""


class NoTargets(ValueError):
    """The watchlist has nothing to crawl for this tag."""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class LockHolder:
    owner: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime

    def stale_reason(self, now: datetime, stale_after: timedelta) -> str | None:
        """Why this holder is dead, or None while it may be alive."""
        if self.host == socket.gethostname() and not _process_alive(self.pid):
            return f"process {self.pid} on {self.host} is gone"
        if now - self.heartbeat_at > stale_after:
            return f"no heartbeat since {self.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (over {stale_after})"
        return None

    def describe(self) -> str:
        return (f"process {self.pid} on {self.host}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"last heartbeat {self.heartbeat_at:%H:%M:%S} UTC")


class RunLockHandle:
    """A named lock held in the store. Use as a context manager: acquire, heartbeat, release."""

    def __init__(self, engine: Engine, name: str = NIGHTLY_SPIDER, *, stale_after: timedelta = DEFAULT_STALE_AFTER,
                 heartbeat_every: float = DEFAULT_HEARTBEAT_EVERY) -> None:
        self.engine, self.name = engine, name
        self.stale_after, self.heartbeat_every = stale_after, heartbeat_every
        self.owner = uuid.uuid4().hex
        self.cleared: str | None = None  # why a stale lock was cleared on acquiring, for the report
        self.lost = threading.Event()  # someone took the lock over: this process must stop writing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock, clearing a stale one; LockHeld when a live process holds it."""
        for _ in range(5):  # the holder may release between our INSERT and our SELECT
            if self._try_insert():
                return
            holder = self._holder()
            if holder is None:
                continue
            reason = holder.stale_reason(_utcnow(), self.stale_after)
            if reason is None:
                raise LockHeld(f"another nightly run holds the lock {self.name!r}: {holder.describe()}")
            if self._take_over(holder.owner):
                self.cleared = f"cleared a stale lock ({reason})"
                log.warning("lock %s: %s", self.name, self.cleared)
                return
        raise LockHeld(f"could not take the lock {self.name!r}: other processes keep taking it")

    def _values(self) -> dict[str, Any]:
        now = _utcnow()
        return {"name": self.name, "owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "acquired_at": now, "heartbeat_at": now}

    def _try_insert(self) -> bool:
        with translate_errors(self.engine, "taking the nightly lock in"):
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.insert(RunLock).values(self._values()))
            except IntegrityError:  # the row exists: someone holds the lock
                return False
        return True

    def _holder(self) -> LockHolder | None:
        with translate_errors(self.engine, "reading the nightly lock in"), self.engine.begin() as conn:
            row = conn.execute(sa.select(RunLock).where(RunLock.name == self.name)).mappings().one_or_none()
        if row is None:
            return None
        return LockHolder(row["owner"], row["host"], row["pid"], row["acquired_at"], row["heartbeat_at"])

    def _take_over(self, stale_owner: str) -> bool:
        """Replace the stale holder's row; only one of several racing processes deletes it."""
        with translate_errors(self.engine, "clearing a stale nightly lock in"):
            try:
                with self.engine.begin() as conn:
                    deleted = conn.execute(sa.delete(RunLock).where(RunLock.name == self.name,
                                                                    RunLock.owner == stale_owner))
                    if deleted.rowcount != 1:
                        return False
                    conn.execute(sa.insert(RunLock).values(self._values()))
            except IntegrityError:  # another process took it over first
                return False
        return True

    def heartbeat(self) -> bool:
        """Refresh the heartbeat; False (and `lost` set) when the lock is no longer ours."""
        with translate_errors(self.engine, "refreshing the nightly lock in"), self.engine.begin() as conn:
            updated = conn.execute(sa.update(RunLock).where(RunLock.name == self.name, RunLock.owner == self.owner)
                                   .values(heartbeat_at=_utcnow()))
        if updated.rowcount != 1:
            self.lost.set()
            return False
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with translate_errors(self.engine, "releasing the nightly lock in"), self.engine.begin() as conn:
            conn.execute(sa.delete(RunLock).where(RunLock.name == self.name, RunLock.owner == self.owner))

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_every):
            try:
                if not self.heartbeat():
                    log.error("lock %s was taken over by another process", self.name)
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the timeout tolerates several
                log.exception("lock %s: heartbeat failed", self.name)

    def __enter__(self) -> RunLockHandle:
        self.acquire()
        self._thread = threading.Thread(target=self._beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


# -- one night -----------------------------------------------------------------------------------


@dataclass
class CrawlOutcome:
    """What crawling one target gave: the store's run id for it, its Scrapy stats, or why it failed."""

    run_id: int | None
    stats: dict[str, Any]
    error: str | None = None


# (targets, db_url, settings overrides) -> {target id: outcome}; netwatch.crawl.runner in production,
# the distributed coordinator with --distributed.
CrawlTargets = Callable[[Sequence[WatchTarget], str, Mapping[str, Any]], dict[int, CrawlOutcome]]


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


def target_key(target: WatchTarget) -> str:
    """The `runs.target` of a target's crawls: the same string every night, so the store can tell
    which listings a target no longer shows (delisted) and which leads are gone."""
    return f"profile:{target.profile}@{target.url or ''}" if target.kind == "profile" else target.url or ""


def run_nightly(db_url: str, *, tag: str = "nightly", outbox: str | Path = "outbox", report_format: str = "md",
                crawl: CrawlTargets | None = None, settings: Mapping[str, Any] | None = None,
                day: date | None = None, stale_after: timedelta = DEFAULT_STALE_AFTER,
                heartbeat_every: float = DEFAULT_HEARTBEAT_EVERY, batch_size: int = 50) -> NightlyResult:
    """Crawl every enabled target tagged `tag`, classify leads, fill the outbox and write the report.

    Each crawl judges its own health (netwatch.crawl.monitors; thresholds are crawl settings, e.g.
    NETWATCH_MAX_ERROR_RATE, and the drop is measured against the target's last run without alarms).
    Raises LockHeld when another nightly run is alive. A nightly run left unfinished by a killed process
    is resumed: its finished targets are kept, the rest crawled.
    """
    if report_format not in ("md", "html"):
        raise ValueError(f"unknown report format {report_format!r}: use md or html")
    day = day or datetime.now().date()
    crawl = crawl or crawl_targets_locally
    with Store(db_url) as store, RunLockHandle(store.engine, stale_after=stale_after,
                                               heartbeat_every=heartbeat_every) as lock:
        targets = list_targets(store.engine, tag, enabled_only=True)
        if not targets:
            raise NoTargets(f"no enabled watch targets tagged {tag!r} in {store.engine.url.render_as_string()}: "
                            "add some with `netwatch watch add` or `netwatch watch import FILE`")
        nightly_run_id, resumed = _start_or_resume(store, tag)
        pending = _pending_targets(store.engine, nightly_run_id, targets)
        # Batch by batch, each recorded as soon as it is crawled: a killed run loses one batch at most.
        for start in range(0, len(pending), batch_size):
            batch = pending[start:start + batch_size]
            outcomes = crawl(batch, db_url, dict(settings or {}))
            if lock.lost.is_set():
                raise LockHeld("the nightly lock was taken over during the crawl: this run's results are kept, "
                               "its report is not written")
            _record_outcomes(store.engine, nightly_run_id, batch, outcomes)
        result = _summarise(store, nightly_run_id, tag, day, targets)
        result.resumed, result.lock_note = resumed, lock.cleared
        night_dir = night_directory(Path(outbox), day, nightly_run_id)
        _write_outbox(store, result, night_dir)
        result.report_path = write_report(result, night_dir, report_format)
        status = {EXIT_OK: "finished", EXIT_ALARMS: "alarms", EXIT_FAILED: "failed"}[result.exit_code]
        store.finish_run(nightly_run_id, summary_stats(result), status)
        return result


RESUME_WITHIN = timedelta(hours=20)  # a killed run older than this is abandoned, not resumed: it was another night


def _start_or_resume(store: Store, tag: str) -> tuple[int, bool]:
    """The unfinished nightly run of this tag from tonight (its process died: we hold the lock), or a new one."""
    with store.reading() as conn:
        unfinished = conn.execute(sa.select(Run.id, Run.started_at).where(
            Run.spider == NIGHTLY_SPIDER, Run.target == f"tag:{tag}", Run.status.in_(("running", "killed")))
            .order_by(Run.id.desc()).limit(1)).first()
    if unfinished is not None:
        recent = _utcnow() - unfinished.started_at < RESUME_WITHIN
        with store.engine.begin() as conn:
            conn.execute(sa.update(Run).where(Run.id == unfinished.id).values(
                **({"status": "running", "host": socket.gethostname(), "pid": os.getpid()} if recent
                   else {"status": "abandoned", "finished_at": _utcnow()})))
        if recent:
            return unfinished.id, True
    return store.start_run(NIGHTLY_SPIDER, f"tag:{tag}"), False


def _pending_targets(engine: Engine, nightly_run_id: int, targets: Sequence[WatchTarget]) -> list[WatchTarget]:
    """Targets this nightly run has not finished yet (all of them, unless resuming a killed run)."""
    with Session(engine) as session:
        done = set(session.scalars(sa.select(NightlyTargetRun.target_id).where(
            NightlyTargetRun.nightly_run_id == nightly_run_id, NightlyTargetRun.status != "pending")))
    return [target for target in targets if target.id not in done]


def _record_outcomes(engine: Engine, nightly_run_id: int, targets: Sequence[WatchTarget],
                     outcomes: Mapping[int, CrawlOutcome]) -> None:
    with translate_errors(engine, "recording the nightly run in"), Session(engine) as session:
        for target in targets:
            outcome = outcomes.get(target.id)
            row = session.scalar(sa.select(NightlyTargetRun).where(
                NightlyTargetRun.nightly_run_id == nightly_run_id, NightlyTargetRun.target_id == target.id))
            if row is None:
                row = NightlyTargetRun(nightly_run_id=nightly_run_id, target_id=target.id)
                session.add(row)
            if outcome is None or outcome.error:
                why = outcome.error if outcome else "the crawl returned nothing for it"
                row.status, row.alarms = "failed", {"alarms": [Alarm("crawl_failed", why).to_dict()]}
                row.crawl_run_id = outcome.run_id if outcome else None
            else:
                figures = figures_from_stats(outcome.stats)
                alarms = alarms_from_stats(outcome.stats)  # the crawl's own verdict, as `netwatch crawl` reads it
                row.crawl_run_id = outcome.run_id
                row.items, row.pages, row.errors = figures.items, figures.pages, figures.errors
                row.finish_reason = figures.finish_reason
                row.alarms = {"alarms": [alarm.to_dict() for alarm in alarms]}
                row.status = "alarm" if alarms else "ok"
            row.finished_at = _utcnow()
        session.commit()


def _summarise(store: Store, nightly_run_id: int, tag: str, day: date, targets: Sequence[WatchTarget]) -> NightlyResult:
    """Per-target status and the night's new / recurring / gone leads (the store's per-run summary)."""
    by_id = {target.id: target for target in targets}
    with Session(store.engine) as session:
        rows = list(session.scalars(sa.select(NightlyTargetRun).where(NightlyTargetRun.nightly_run_id == nightly_run_id)))
    reports: list[TargetReport] = []
    result = NightlyResult(nightly_run_id=nightly_run_id, day=day, tag=tag, targets=reports)
    region_runs = result.region_runs
    for row in rows:
        target = by_id.get(row.target_id)
        name = target.name if target else f"target #{row.target_id} (since removed)"
        region = target.region if target else "unassigned"
        alarms = [Alarm(**alarm) for alarm in (row.alarms or {}).get("alarms", [])]
        figures = (CrawlFigures(row.items, row.pages, row.errors, row.finish_reason)
                   if row.status != "failed" else None)
        reports.append(TargetReport(name, region, row.status, figures, alarms, row.crawl_run_id))
        if row.crawl_run_id is None:
            continue
        region_runs.setdefault(region, []).append(row.crawl_run_id)
        summary = store.run_summary(row.crawl_run_id)
        result.new += summary["new"]
        result.recurring += summary["recurring"]
        result.gone += summary["gone"]
    reports.sort(key=lambda report: (report.status == "ok", report.name))
    crawl_runs = [run for runs in region_runs.values() for run in runs]
    if crawl_runs:
        with store.reading() as conn:
            platform = sa.func.coalesce(ListingRow.platform, ShopRow.platform)
            new_leads = (sa.select(Lead.category, platform).select_from(Lead)
                         .outerjoin(ListingRow, ListingRow.id == Lead.listing_id)
                         .outerjoin(ShopRow, ShopRow.id == Lead.shop_id)
                         .where(Lead.first_run_id.in_(crawl_runs)))
            for category, site in conn.execute(new_leads):
                result.new_by_category[category] += 1
                result.new_by_site[site] += 1
    return result


# -- outbox and report ---------------------------------------------------------------------------


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


def _write_outbox(store: Store, result: NightlyResult, directory: Path) -> None:
    """<region>.csv: each region's new leads in the Excel-safe CSV (a header-only file tells a region
    the night ran and found nothing new)."""
    for region, run_ids in sorted(result.region_runs.items()):
        path = directory / f"{region}.csv"
        export_new_leads(store, path, run_ids)
        result.outbox_files[region] = path


def export_new_leads(store: Store, out: Path, first_run_ids: Sequence[int]) -> int:
    """The leads first found by these crawl runs, in the export's CSV (BOM, no formulas)."""
    return export_leads(store, out, "csv", "en", first_run_ids=first_run_ids)


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
    verdict = {EXIT_OK: "OK", EXIT_ALARMS: "ALARMS", EXIT_FAILED: "FAILED"}[result.exit_code]
    overview = [["figure", "value"], ["result", verdict], ["tag", result.tag],
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


# -- crawling the targets ------------------------------------------------------------------------

def spider_for(target: WatchTarget) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(what netwatch.crawl.runner.resolve_target takes, spider arguments, base URLs) for one target."""
    args: dict[str, Any] = {"target": target_key(target)}
    if target.kind == "profile":
        return str(target.profile), args, ({str(target.profile): target.url} if target.url else {})
    return "generic", {**args, "start_url": target.url}, {}


def crawl_targets_locally(targets: Sequence[WatchTarget], db_url: str, settings: Mapping[str, Any]) -> dict[int, CrawlOutcome]:
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
                                  preexec_fn=_die_with_parent, check=False)
        if answer.exists():
            for target_id, outcome in json.loads(answer.read_text(encoding="utf-8")).items():
                outcomes[int(target_id)] = CrawlOutcome(**outcome)
    for target in targets:
        outcomes.setdefault(target.id, CrawlOutcome(None, {}, f"the crawl process exited with {finished.returncode}"))
    return outcomes


def _die_with_parent() -> None:
    """A crawl child ends with its nightly run (a killed run must not leave crawls writing)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


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
