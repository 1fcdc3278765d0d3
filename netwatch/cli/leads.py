"""`netwatch leads …` (list, show, set, note, history, export) and `netwatch runs`: the analyst's side of the
lead store, in Chinese by default (--lang, NETWATCH_LANG) with times in the display zone (NETWATCH_TZ)."""

from __future__ import annotations

import contextlib
import csv
import getpass
from collections.abc import Iterator

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from netwatch.cli.options import ROW_ID, Vocabulary, display_zone, lang_option
from netwatch.domain.clock import local_text
from netwatch.domain.vocab import VOCABULARY, label
from netwatch.domain.words import say
from netwatch.store import Store, StoreError
from netwatch.store.evidence_reads import pointer_text

db_option = click.option("--db", "db_url", envvar="NETWATCH_DB_URL", default=None,
                         help="Database URL (default: NETWATCH_DB_URL, else ./netwatch.db).")


def filter_options(command):  # type: ignore[no-untyped-def]
    """The filters `list` and `export` share; names in English or Chinese (--category 禁限售商品)."""
    options = [
        click.option("--since", help="Only leads seen on or after this date (YYYY-MM-DD, in NETWATCH_TZ)."),
        click.option("--status", multiple=True, type=Vocabulary("status"), help="新线索|new, …; repeatable."),
        click.option("--category", multiple=True, type=Vocabulary("category"),
                     help="Violation category (禁限售商品|banned_goods, …); repeatable."),
        click.option("--site", multiple=True, help="Platform / site key; repeatable."),
        click.option("--min-severity", type=Vocabulary("severity"), help="低|low, 中|medium, 高|high, 严重|critical."),
        click.option("--region", multiple=True, help="Region the leads belong to (e.g. 海淀); repeatable."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextlib.contextmanager
def open_store(db_url: str | None) -> Iterator[Store]:
    """The store, with its errors shown as one clear line and a non-zero exit."""
    store = None
    try:
        store = Store(db_url)
        yield store
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if store is not None:
            store.close()


def _filters(since, status, category, site, min_severity, region) -> dict:  # type: ignore[no-untyped-def]
    return {"since": since, "status": status or None, "category": category or None, "site": site or None,
            "min_severity": min_severity, "region": region or None}


@click.group()
def leads() -> None:
    """Triage and export the leads the crawls found."""


@leads.command("list")
@db_option
@filter_options
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@lang_option
def list_(db_url, since, status, category, site, min_severity, region, limit, lang) -> None:  # type: ignore[no-untyped-def]
    """List leads, the worst and most recent first (fits 80 columns)."""
    tz = display_zone()
    filters = _filters(since, status, category, site, min_severity, region)
    with open_store(db_url) as store:
        rows = store.leads(limit=limit, triage_order=True, **filters)
        total = store.count_leads(**filters) if len(rows) == limit else len(rows)
    table = Table(box=None, pad_edge=False, expand=False)
    # widths in terminal cells (a Chinese character takes two): the title gets what the others leave
    def widest(key: str, kind: str) -> int:
        return min(17, max(cell_len(say(key, lang)), *(cell_len(label(kind, value, lang)) for value in VOCABULARY[kind])))

    console = Console()
    width = console.width if console.is_terminal else 80
    fixed = [("lead_id", 6), ("severity", widest("severity", "severity")), ("category", widest("category", "category")),
             ("status", widest("status", "status"))]
    # the title gets what the other columns and the gaps between the six columns leave
    title_width = max(8, width - sum(w for _, w in fixed) - 16 - 2 * 5)
    for key, column_width in (*fixed, ("title_or_shop", title_width), ("last_seen", 16)):
        table.add_column(say(key, lang), no_wrap=True, overflow="ellipsis", min_width=column_width,
                         max_width=column_width)
    for row in rows:
        table.add_row(str(row["lead_id"]), label("severity", row["severity"], lang),
                      label("category", row["category"], lang), label("status", row["status"], lang),
                      " ".join((row["title"] or row["shop_name"] or "").split()),
                      local_text(row["last_seen"], tz, labelled=False))
    Console(width=width).print(table)
    click.echo(say("times_zone", lang, zone=tz.key))
    if total > len(rows):
        click.echo(say("capped", lang, shown=len(rows), total=total))
    else:
        click.echo(say("leads_count", lang, n=len(rows)))


@leads.command()
@db_option
@click.argument("lead_id", type=ROW_ID)
@lang_option
def show(db_url, lead_id, lang) -> None:  # type: ignore[no-untyped-def]
    """One lead: its hits with context, the listing's price history, the shop, its notes and history."""
    tz = display_zone()
    with open_store(db_url) as store:
        lead = store.lead(lead_id)
    console = Console()
    console.print(f"[bold]{say('lead_id', lang)} {lead['lead_id']}[/bold]  {label('status', lead['status'], lang)}  "
                  f"{label('severity', lead['severity'], lang)}  {label('category', lead['category'], lang)}  "
                  f"{say('rule', lang)} {lead['rule']}  {say('times_seen', lang)} {lead['times_seen']}")
    lines = [("first_seen", local_text(lead["first_seen"], tz)), ("last_seen", local_text(lead["last_seen"], tz))]
    lines += [(key, lead[key]) for key in ("region", "legal_basis", "listing_url", "title", "price", "original_price",
                                           "assignee", "evidence_hash") if lead[key] is not None]
    for key, value in lines:
        console.print(f"  {say(key, lang)}: {value}", markup=False)
    for which in ("first", "latest"):
        record = lead["evidence"][which]
        console.print(f"  {say('evidence_' + which, lang)}: "
                      + (f"{say('run', lang)} {record['run_id']} {pointer_text(record)}" if record
                         else say("not_archived", lang)), markup=False)
    hits = Table(say("run", lang), say("field", lang), say("offsets", lang), say("matched_text", lang),
                 say("context", lang), title=say("hits", lang))
    for hit in lead["hits"]:
        hits.add_row(str(hit["run_id"]), hit["field"], f"{hit['start']}–{hit['end']}", hit["match"],
                     hit["context"] or "")
    console.print(hits)
    if lead["price_history"]:
        history = Table(f"{say('fetched', lang)} ({tz.key})", say("run", lang), say("price", lang),
                        say("original_price", lang), say("content_hash", lang), title=say("price_history", lang))
        for snap in lead["price_history"]:
            history.add_row(local_text(snap["fetched_at"], tz, labelled=False), str(snap["run_id"]),
                            _money(snap["price"]), _money(snap["original_price"]), (snap["content_hash"] or "")[:16])
        console.print(history)
    shop = lead["shop"]
    if shop:
        console.print(f"{say('shop', lang)}: {shop['name'] or ''} ({shop['platform']}/{shop['shop_id']}) "
                      f"{shop['url'] or ''}  {say('credit_code', lang)}: {shop['credit_code'] or '—'}", markup=False)
    events = Table(f"{say('at', lang)} ({tz.key})", say("user", lang), say("field", lang), say("old", lang),
                   say("new", lang), title=say("history", lang))
    for event in lead["events"]:
        events.add_row(*event_cells(event, lang, tz))
    console.print(events if lead["events"] else say("no_history", lang))


def event_cells(event: dict, lang: str, tz) -> list[str]:  # type: ignore[no-untyped-def]
    """A recorded change as an analyst reads it (statuses by name, time in the display zone, unlabelled)."""
    def value(text: str | None) -> str:
        return label("status", text, lang) if event["field"] == "status" else (text or "")

    return [local_text(event["at"], tz, labelled=False), event["user"], say(event["field"], lang), value(event["old"]),
            value(event["new"])]


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _user() -> str:
    """Who changes leads from the command line: the login name (the workbench records its own user)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@leads.command("set")
@db_option
@click.argument("lead_ids", type=ROW_ID, nargs=-1, required=True)
@click.option("--status", type=Vocabulary("status"), help="新线索|new, 已确认|confirmed, 已排除|dismissed, …")
@click.option("--assignee")
@click.option("--region", help="Hand the leads off to this region (e.g. 朝阳).")
@click.option("--note", help="Add a note (a lead keeps all its notes).")
@lang_option
def set_(db_url, lead_ids, status, assignee, region, note, lang) -> None:  # type: ignore[no-untyped-def]
    """Move leads along new → confirmed | dismissed → handed_off → resolved, assign, hand off, add a note;
    every change is recorded with your login name and the time."""
    if not any((status, assignee, region, note)):
        raise click.UsageError("nothing to change: give --status, --assignee, --region or --note")
    with open_store(db_url) as store:
        changed = store.set_status(lead_ids, status or None, assignee=assignee, region=region, note=note,
                                   user=_user())
    click.echo(say("leads_now", lang, n=changed))


@leads.command()
@db_option
@click.argument("lead_ids", type=ROW_ID, nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@lang_option
def history(db_url, lead_ids, out, lang) -> None:  # type: ignore[no-untyped-def]
    """Export the leads' recorded changes and notes (CSV, UTF-8 with BOM, times in NETWATCH_TZ)."""
    from netwatch.ops.export import spreadsheet_text

    tz = display_zone()
    with open_store(db_url) as store:
        events = store.lead_events(lead_ids)
    try:
        with open(out, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow([say("lead_id", lang), f"{say('at', lang)} ({tz.key})", say("user", lang),
                             say("field", lang), say("old", lang), say("new", lang)])
            for event in events:
                writer.writerow([event["lead_id"], *(spreadsheet_text(cell) for cell in event_cells(event, lang, tz))])
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(say("events_written", lang, n=len(events), out=out))


@leads.command()
@db_option
@filter_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True)
@lang_option
def export(db_url, since, status, category, site, min_severity, region, out, fmt, lang) -> None:  # type: ignore[no-untyped-def]
    """Export leads for field teams (CSV is UTF-8 with BOM, safe to open in Excel; times in NETWATCH_TZ)."""
    from netwatch.ops.export import export_leads

    tz = display_zone()
    with open_store(db_url) as store:
        rows = export_leads(store, out, fmt, lang, tz=tz,
                            **_filters(since, status, category, site, min_severity, region))
    click.echo(say("written", lang, n=rows, out=out))


@click.command()
@db_option
@click.option("--last", default=10, show_default=True, help="How many runs, newest first.")
@lang_option
def runs(db_url, last, lang) -> None:  # type: ignore[no-untyped-def]
    """Crawl runs with their statistics and new / recurring / gone leads."""
    tz = display_zone()
    with open_store(db_url) as store:
        rows = store.runs(last)
    table = Table(say("run", lang), say("spider", lang), say("target", lang), f"{say('started', lang)} ({tz.key})",
                  say("finished", lang), say("status", lang), say("pages", lang), say("listings", lang),
                  say("new_leads", lang), say("recurring", lang), say("gone", lang), say("by_category", lang))
    for row in rows:
        table.add_row(str(row["id"]), row["spider"], row["target"] or "", local_text(row["started_at"], tz, labelled=False),
                      local_text(row["finished_at"], tz, labelled=False), row["status"],
                      str(row["pages"]), str(row["listings"]), str(row["new"]), str(row["recurring"]),
                      str(row["gone"]),
                      ", ".join(f"{label('category', cat, lang)} {n}" for cat, n in sorted(row["leads_by_category"].items())))
    Console(width=200).print(table)
