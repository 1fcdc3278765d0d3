"""`netwatch campaign …`: promotion periods (双十一, 618) watched harder — a tag crawled on its own schedule
within a date window, price checks tightened to the campaign's rules, and a report across its runs."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from datetime import date
from pathlib import Path

import click

from netwatch.cli.leads import db_option, open_store
from netwatch.cli.nightly import CRON_MARKER, netwatch_command

lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)


def _date(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=hint) from None


def _hours(value: str) -> int:
    text = value.strip().lower().removesuffix("h")
    if not text.isdigit():
        raise click.BadParameter(f"{value!r} is not a number of hours (e.g. 4h)", param_hint="--every")
    return int(text)


@click.group()
def campaign() -> None:
    """Campaign watches: a tag crawled every N hours within a date window, with tightened price rules."""


@campaign.command("add")
@click.argument("name")
@click.option("--tag", required=True, help="The watch tag whose targets the campaign crawls (netwatch watch add --tag).")
@click.option("--from", "starts", required=True, help="First day, YYYY-MM-DD (local, NETWATCH_TZ).")
@click.option("--to", "ends", required=True, help="Last day, YYYY-MM-DD (inclusive).")
@click.option("--every", default="4h", show_default=True, help="How often it runs within the window.")
@click.option("--price-window", type=click.IntRange(1, 365), default=None,
              help="Days a comparison price must not exceed the lowest price of (the campaign's rule, e.g. 30).")
@db_option
def campaign_add(name: str, tag: str, starts: str, ends: str, every: str, price_window: int | None,
                 db_url: str | None) -> None:
    """Add (or change) a campaign."""
    from netwatch.ops.campaigns import add_campaign

    with open_store(db_url) as store:
        try:
            add_campaign(store, name, tag=tag, starts_on=_date(starts, "--from"), ends_on=_date(ends, "--to"),
                         every_hours=_hours(every), price_window_days=price_window)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {name}: tag {tag}, {starts} – {ends}, every {_hours(every)} h")


@campaign.command("list")
@db_option
def campaign_list(db_url: str | None) -> None:
    from netwatch.store.campaigns import all_campaigns

    with open_store(db_url) as store:
        for row in store.read(all_campaigns):
            click.echo(json.dumps({k: row[k] for k in ("name", "tag", "every_hours", "rules")}
                                  | {"from": f"{row['starts_on']:%Y-%m-%d}", "to": f"{row['ends_on']:%Y-%m-%d}"},
                                  ensure_ascii=False))


@campaign.command("run")
@click.argument("name")
@click.option("--outbox", type=click.Path(file_okay=False), default="outbox", show_default=True)
@click.option("--report", "report_format", type=click.Choice(["md", "html"]), default="md", show_default=True)
@db_option
def campaign_run(name: str, outbox: str, report_format: str, db_url: str | None) -> None:
    """One scheduled run: crawls the campaign's tag when within its window (exit codes as `netwatch nightly`)."""
    from netwatch import config
    from netwatch.exits import EXIT_LOCKED
    from netwatch.ops.campaigns import run_campaign
    from netwatch.ops.nightly import LockHeld, NoTargets
    from netwatch.store import StoreError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        result = run_campaign(db_url or config.db_url(), name, outbox=outbox, report_format=report_format,
                              settings={"NETWATCH_INCREMENTAL": True})
    except LockHeld as exc:
        click.echo(f"netwatch campaign run: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except (NoTargets, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if result is None:
        click.echo(f"campaign {name}: not within its window now: nothing to do")
        return
    click.echo(f"campaign {name}: run {result.nightly_run_id}, {result.new} new, {result.recurring} recurring leads; "
               f"report: {result.report_path}")
    sys.exit(result.exit_code)


@campaign.command("schedule")
@click.argument("name")
@click.option("--outbox", default="outbox", show_default=True)
@click.option("--log", default="campaign.log", show_default=True)
@db_option
def campaign_schedule(name: str, outbox: str, log: str, db_url: str | None) -> None:
    """Print the crontab line that runs the campaign every N hours within its window."""
    from netwatch.store.campaigns import get

    with open_store(db_url) as store:
        row = store.read(get, name)
    start, end = row["starts_on"], row["ends_on"]
    # Within one month cron can name the days; otherwise every day, and `campaign run` keeps to the window.
    days = f"{start.day}-{end.day} {start.month}" if (start.year, start.month) == (end.year, end.month) else "* *"
    command = netwatch_command(["campaign", "run", shlex.quote(name), "--outbox",
                                shlex.quote(str(Path(outbox).resolve()))], db_url)
    click.echo(f"0 */{row['every_hours']} {days} * {command} >> {shlex.quote(str(Path(log).resolve()))} 2>&1 "
               f"{CRON_MARKER} campaign {name}")


@campaign.command("report")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the Markdown report here too.")
@lang_option
@db_option
def campaign_report(name: str, out: str | None, lang: str, db_url: str | None) -> None:
    """Leads by category and by shop across the campaign's runs."""
    from netwatch.ops.campaigns import campaign_report as build
    from netwatch.ops.campaigns import report_markdown

    with open_store(db_url) as store:
        text = report_markdown(build(store, name), lang)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    click.echo(text)


