"""`netwatch watch …` (the watchlist), `netwatch nightly`, `netwatch worker` and `netwatch schedule …`."""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click

from netwatch.cli.leads import db_option, open_store
from netwatch.cli.options import PRIORITY

CRON_MARKER = "# netwatch nightly"


# -- watch ---------------------------------------------------------------------------------------


@click.group()
def watch() -> None:
    """The watchlist: the sites and shops crawled every night."""


@watch.command("add")
@click.argument("name")
@click.option("--profile", help="Site profile (netwatch/sites/NAME.yaml).")
@click.option("--url", help="Start URL (generic spider), or the profile's base URL.")
@click.option("--region", default="unassigned", show_default=True, help="District its new leads are handed to.")
@click.option("--tag", "tags", multiple=True, help="Repeatable, e.g. --tag nightly --tag campaign-双十一.")
@click.option("--priority", type=PRIORITY, default=0, show_default=True, help="Higher is crawled first.")
@click.option("--disabled", is_flag=True, help="Add it switched off.")
@db_option
def watch_add(name: str, profile: str | None, url: str | None, region: str, tags: tuple[str, ...], priority: int,
              disabled: bool, db_url: str | None) -> None:
    """Add a target to the watchlist."""
    from netwatch.ops.watchlist import WatchlistError, add_target, make_spec

    with open_store(db_url) as store:
        try:
            spec = make_spec(name, profile=profile, url=url, region=region, tags=list(tags), priority=priority,
                             enabled=not disabled)
            add_target(store.engine, spec)
        except WatchlistError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added {name}")


@watch.command("list")
@click.option("--tag", help="Only targets with this tag.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@db_option
def watch_list(tag: str | None, as_json: bool, db_url: str | None) -> None:
    """List the watchlist, highest priority first."""
    from netwatch.ops.watchlist import list_targets, target_tags

    with open_store(db_url) as store:
        targets = list_targets(store.engine, tag)
    rows = [{"name": t.name, "kind": t.kind, "profile": t.profile, "url": t.url, "region": t.region,
             "tags": target_tags(t), "priority": t.priority, "enabled": t.enabled} for t in targets]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"watchlist ({len(rows)} targets)")
    for column in ("name", "profile / url", "region", "tags", "priority", "enabled"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["profile"] or row["url"] or "", row["region"], ", ".join(row["tags"]),
                      str(row["priority"]), "yes" if row["enabled"] else "no")
    Console().print(table)


@watch.command("remove")
@click.argument("names", nargs=-1, required=True)
@db_option
def watch_remove(names: tuple[str, ...], db_url: str | None) -> None:
    """Take targets off the watchlist (their leads stay in the store)."""
    from netwatch.ops.watchlist import remove_target

    with open_store(db_url) as store:
        missing = [name for name in names if not remove_target(store.engine, name)]
    if missing:
        raise click.ClickException(f"not on the watchlist: {', '.join(missing)}")
    click.echo(f"removed {len(names)} target(s)")


@watch.command("enable")
@click.argument("names", nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Disable instead.")
@db_option
def watch_enable(names: tuple[str, ...], off: bool, db_url: str | None) -> None:
    """Switch targets on (or off with --off) without removing them."""
    from netwatch.ops.watchlist import set_enabled

    with open_store(db_url) as store:
        missing = [name for name in names if not set_enabled(store.engine, name, not off)]
    if missing:
        raise click.ClickException(f"not on the watchlist: {', '.join(missing)}")


@watch.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
def watch_import(file: str, db_url: str | None) -> None:
    """Add or update targets from a CSV (name,profile,url,region,tags,priority,enabled) or YAML file.

    The whole file is checked first: one bad line and nothing is changed."""
    from netwatch.ops.watchlist import WatchlistError, import_targets

    with open_store(db_url) as store:
        try:
            result = import_targets(store.engine, file)
        except WatchlistError as exc:
            raise click.ClickException(f"{exc}; nothing was imported") from None
    click.echo(f"imported {file}: {result.added} added, {result.updated} updated")


# -- nightly -------------------------------------------------------------------------------------


def _overrides(values: tuple[str, ...]) -> dict[str, object]:
    settings: dict[str, object] = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint="-s")
        try:
            settings[name] = json.loads(raw)
        except ValueError:
            settings[name] = raw
    return settings


@click.command()
@click.option("--tag", default="nightly", show_default=True, help="Crawl the enabled targets with this tag.")
@click.option("--outbox", type=click.Path(file_okay=False), default="outbox", show_default=True,
              help="New leads go to OUTBOX/<date>/<region>.csv, the report beside them.")
@click.option("--report", "report_format", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--pdf/--no-pdf", default=True, show_default=True,
              help="With --report html: also print it to report.pdf (a failure is a warning, not a failed night).")
@click.option("--distributed", is_flag=True, help="Let `netwatch worker` processes crawl (needs NETWATCH_REDIS_URL).")
@click.option("--min-workers", type=int, default=1, show_default=True, help="With --distributed: wait for this many.")
@click.option("--stale-after", type=float, default=10.0, show_default=True,
              help="Minutes without heartbeat after which another run's lock is stale.")
@click.option("--max-error-rate", type=float, default=None,
              help="Alarm above this share of failed requests (default: NETWATCH_MAX_ERROR_RATE, 0.2).")
@click.option("--batch-size", type=int, default=50, show_default=True,
              help="Targets per crawl process; each batch is recorded as soon as it is done.")
@click.option("-s", "settings", multiple=True, metavar="NAME=VALUE", help="Scrapy setting for the crawls.")
@click.option("--recheck", "recheck_status", default=None, metavar="STATUSES",
              help="Also re-check the leads in these statuses (e.g. handed_off,confirmed,resolved); the report "
                   "shows their takedown status. Default: NETWATCH_RECHECK, else no re-checks.")
@click.option("--recheck-older-than", default=None, help="With --recheck: only leads not re-checked for this long (3d).")
@db_option
def nightly(tag: str, outbox: str, report_format: str, pdf: bool, distributed: bool, min_workers: int, stale_after: float,
            max_error_rate: float | None, batch_size: int, settings: tuple[str, ...], recheck_status: str | None,
            recheck_older_than: str | None, db_url: str | None) -> None:
    """Crawl every watched target, classify leads, fill the outbox and write the report.

    Exit codes (netwatch.exits): 0 all well, 3 crawl-health alarms (a lost distributed worker among them),
    4 a target failed to crawl (or the shared crawl could not go on), 5 another nightly run or distributed
    coordinator holds the lock, 1 an error (nothing to crawl, store unreachable), 143 (130) stopped by
    SIGTERM (SIGINT): the next run resumes the night.
    """
    from netwatch import config
    from netwatch.exits import EXIT_FAILED, EXIT_LOCKED
    from netwatch.ops.nightly import LockHeld, NightlyInterrupted, NoTargets, run_nightly
    from netwatch.store import StoreError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    db_url = db_url or config.db_url()
    crawl = None
    distributed_errors: tuple[type[Exception], ...] = ()
    if distributed:
        from netwatch.crawl.distributed import DistributedError, redis_url_from_env
        from netwatch.ops.coordinator import CoordinatorBusy, crawl_targets_shared

        distributed_errors = (DistributedError,)

        redis_url = redis_url_from_env()
        if not redis_url:
            raise click.UsageError("--distributed needs NETWATCH_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
        crawl = functools.partial(crawl_targets_shared, redis_url=redis_url, min_workers=min_workers,
                                  namespace=os.environ.get("NETWATCH_REDIS_NAMESPACE") or "netwatch")
    overrides = {"NETWATCH_INCREMENTAL": True, **_overrides(settings)}
    if max_error_rate is not None:
        overrides["NETWATCH_MAX_ERROR_RATE"] = max_error_rate
    recheck = _recheck_options(recheck_status or os.environ.get("NETWATCH_RECHECK"), recheck_older_than)
    try:
        result = run_nightly(db_url, tag=tag, outbox=outbox, report_format=report_format, crawl=crawl,
                             settings=overrides, stale_after=timedelta(minutes=stale_after),
                             batch_size=max(1, batch_size), recheck=recheck)
    except LockHeld as exc:
        click.echo(f"netwatch nightly: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except NightlyInterrupted as exc:
        click.echo(f"netwatch nightly: {exc}", err=True)
        sys.exit(exc.exit_code)
    except distributed_errors as exc:  # one line, no traceback: Redis, another coordinator, no workers
        click.echo(f"netwatch nightly: {exc}", err=True)
        sys.exit(EXIT_LOCKED if isinstance(exc, CoordinatorBusy) else EXIT_FAILED)
    except (NoTargets, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"nightly run {result.nightly_run_id}: {len(result.targets)} targets, {result.new} new, "
               f"{result.recurring} recurring, {result.gone} gone leads, {len(result.alarms)} alarm(s)")
    lang = config.language()
    for name, alarm in result.alarms:
        click.echo(f"  {'警报' if lang == 'zh' else 'ALARM'} {name}: {alarm.check_name(lang)}: {alarm.text(lang)}", err=True)
    click.echo(f"report: {result.report_path}")
    if report_format == "html" and pdf and result.report_path:
        from netwatch.ops.report_pdf import write_pdf

        # After the night is recorded and its lock released: the browser never holds up or fails the night.
        pdf_path = write_pdf(result.report_path)
        click.echo(f"pdf: {pdf_path}" if pdf_path else "pdf: not written (see the warning above)")
    sys.exit(result.exit_code)


def _recheck_options(statuses: str | None, older_than: str | None):  # type: ignore[no-untyped-def]
    """The nightly run's RecheckOptions from --recheck / NETWATCH_RECHECK, or None (no re-checks)."""
    if not statuses:
        return None
    from netwatch.cli.recheck import parse_statuses
    from netwatch.ops.nightly import RecheckOptions
    from netwatch.ops.recheck import parse_age

    try:
        age = parse_age(older_than) if older_than else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--recheck-older-than") from None
    return RecheckOptions(tuple(parse_statuses(statuses)), age)


# -- worker --------------------------------------------------------------------------------------


@click.command()
@click.option("--redis-url", envvar="NETWATCH_REDIS_URL", required=True, help="Default: NETWATCH_REDIS_URL.")
@click.option("--once", is_flag=True, help="Stop after one job.")
@click.option("--wait", type=float, default=None, help="Give up after this many seconds without a job.")
@click.option("--id", "worker_id", default=None,
              help="Worker name (default host:pid); each job it joins gets a fresh incarnation ID#token.")
@click.option("--namespace", envvar="NETWATCH_REDIS_NAMESPACE", default="netwatch", show_default=True,
              help="Redis key namespace shared with the coordinator (one per bureau sharing a Redis).")
@db_option
def worker(redis_url: str, once: bool, wait: float | None, worker_id: str | None, namespace: str,
           db_url: str | None) -> None:
    """Crawl the shared queue of `netwatch nightly --distributed` (run one per machine or core)."""
    from netwatch.crawl.distributed import DistributedError, run_worker
    from netwatch.exits import EXIT_FAILED, EXIT_OK

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        code = run_worker(redis_url, db_url=db_url, namespace=namespace, once=once, wait=wait, worker_id=worker_id)
    except DistributedError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(EXIT_OK if code == 0 else EXIT_FAILED)  # a job's crawl failed, or no job came within --wait


# -- schedule ------------------------------------------------------------------------------------


def netwatch_command(args: list[str], db_url: str | None) -> str:
    """The shell command a scheduler runs: netwatch with these (already quoted) arguments, from here."""
    beside_python = Path(sys.executable).parent / "netwatch"  # the virtualenv's script: cron has no PATH to it
    netwatch = (str(beside_python) if beside_python.exists() else shutil.which("netwatch")
                or f"{sys.executable} -c 'from netwatch.cli import main; main()'")
    parts = [f"cd {shlex.quote(str(Path.cwd()))} &&"]
    if db_url:
        parts.append(f"NETWATCH_DB_URL={shlex.quote(db_url)}")
    # exec: the scheduler's SIGTERM reaches netwatch itself (not the shell), which then stops cleanly
    parts += ["exec", netwatch, *args]
    return " ".join(parts)


def _nightly_command(tag: str, outbox: str, db_url: str | None) -> str:
    return netwatch_command(["nightly", "--tag", shlex.quote(tag), "--outbox", shlex.quote(str(Path(outbox).resolve()))],
                            db_url)


def cron_line(at: str, tag: str, outbox: str, db_url: str | None, log: str) -> str:
    hour, _, minute = at.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise click.BadParameter(f"{at!r} is not HH:MM", param_hint="--at")
    return (f"{int(minute)} {int(hour)} * * * {_nightly_command(tag, outbox, db_url)} "
            f">> {shlex.quote(str(Path(log).resolve()))} 2>&1 {CRON_MARKER} {tag}")


def systemd_units(at: str, tag: str, outbox: str, db_url: str | None) -> str:
    return (f"# ~/.config/systemd/user/netwatch-nightly.service\n[Unit]\nDescription=netwatch nightly run ({tag})\n\n"
            f"[Service]\nType=oneshot\nExecStart=/bin/sh -c {shlex.quote(_nightly_command(tag, outbox, db_url))}\n"
            # stop: SIGTERM to netwatch only (it stops its crawl gracefully), SIGKILL to the rest after the timeout
            "KillMode=mixed\nTimeoutStopSec=60\n\n"
            f"# ~/.config/systemd/user/netwatch-nightly.timer\n[Unit]\nDescription=netwatch nightly run at {at}\n\n"
            f"[Timer]\nOnCalendar=*-*-* {at}:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
            "# then: systemctl --user daemon-reload && systemctl --user enable --now netwatch-nightly.timer\n")


schedule_options = [
    click.option("--at", default="02:00", show_default=True, help="Local time HH:MM."),
    click.option("--tag", default="nightly", show_default=True),
    click.option("--outbox", default="outbox", show_default=True),
    click.option("--log", default="nightly.log", show_default=True, help="Where cron appends the run's output."),
    db_option,
]


def _with_schedule_options(command):  # type: ignore[no-untyped-def]
    for option in reversed(schedule_options):
        command = option(command)
    return command


@click.group()
def schedule() -> None:
    """Run `netwatch nightly` every night from cron (or a systemd timer)."""


@schedule.command("show")
@_with_schedule_options
@click.option("--systemd", is_flag=True, help="Print a systemd service + timer instead of a cron line.")
def schedule_show(at: str, tag: str, outbox: str, log: str, db_url: str | None, systemd: bool) -> None:
    """Print the crontab line (or systemd units) for the nightly run."""
    click.echo(systemd_units(at, tag, outbox, db_url) if systemd else cron_line(at, tag, outbox, db_url, log))


@schedule.command("install")
@_with_schedule_options
def schedule_install(at: str, tag: str, outbox: str, log: str, db_url: str | None) -> None:
    """Add (or replace) the nightly line in the user's crontab."""
    if shutil.which("crontab") is None:
        raise click.ClickException("no crontab command here: install cron, or use `netwatch schedule show --systemd`")
    line = cron_line(at, tag, outbox, db_url, log)
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    kept = [entry for entry in (current.stdout.splitlines() if current.returncode == 0 else [])
            if not entry.endswith(f"{CRON_MARKER} {tag}")]
    installed = subprocess.run(["crontab", "-"], input="\n".join([*kept, line]) + "\n", text=True,
                               capture_output=True, check=False)
    if installed.returncode:
        raise click.ClickException(f"crontab refused the entry: {installed.stderr.strip()}")
    click.echo(f"installed: {line}")
