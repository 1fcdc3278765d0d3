"""`netwatch leads …` (list, show, set, export) and `netwatch runs`: the analyst's side of the lead store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click
from rich.console import Console
from rich.table import Table

from netwatch.cli.options import ROW_ID
from netwatch.domain.vocab import LEAD_STATUSES, SEVERITIES
from netwatch.store import Store, StoreError
from netwatch.store.evidence_reads import pointer_text

db_option = click.option("--db", "db_url", envvar="NETWATCH_DB_URL", default=None,
                         help="Database URL (default: NETWATCH_DB_URL, else ./netwatch.db).")


def filter_options(command):  # type: ignore[no-untyped-def]
    """The filters `list` and `export` share."""
    options = [
        click.option("--since", help="Only leads seen on or after this date (YYYY-MM-DD)."),
        click.option("--status", multiple=True, type=click.Choice(LEAD_STATUSES), help="Repeatable."),
        click.option("--category", multiple=True, help="Violation category; repeatable."),
        click.option("--site", multiple=True, help="Platform / site key; repeatable."),
        click.option("--min-severity", type=click.Choice(SEVERITIES)),
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


def _filters(since, status, category, site, min_severity) -> dict:  # type: ignore[no-untyped-def]
    return {"since": since, "status": status or None, "category": category or None, "site": site or None,
            "min_severity": min_severity}


@click.group()
def leads() -> None:
    """Triage and export the leads the crawls found."""


@leads.command("list")
@db_option
@filter_options
@click.option("--limit", default=100, show_default=True)
def list_(db_url, since, status, category, site, min_severity, limit) -> None:  # type: ignore[no-untyped-def]
    """List leads."""
    with open_store(db_url) as store:
        rows = store.leads(limit=limit, **_filters(since, status, category, site, min_severity))
    table = Table("id", "status", "severity", "category", "rule", "platform", "title / shop", "matched", "seen")
    for row in rows:
        table.add_row(str(row["lead_id"]), row["status"], row["severity"], row["category"], row["rule"],
                      row["platform"] or "", row["title"] or row["shop_name"] or "", row["matched_text"] or "",
                      str(row["times_seen"]))
    Console().print(table)
    click.echo(f"{len(rows)} lead(s)")


@leads.command()
@db_option
@click.argument("lead_id", type=ROW_ID)
def show(db_url, lead_id) -> None:  # type: ignore[no-untyped-def]
    """One lead: its hits with context, the listing's price history, the shop."""
    with open_store(db_url) as store:
        lead = store.lead(lead_id)
    console = Console()
    console.print(f"[bold]Lead {lead['lead_id']}[/bold]  {lead['status']}  {lead['severity']}  {lead['category']}"
                  f"  rule {lead['rule']}  seen {lead['times_seen']}× ({lead['first_seen']} → {lead['last_seen']})")
    for label in ("legal_basis", "listing_url", "title", "price", "original_price", "assignee", "note",
                  "evidence_hash"):
        if lead[label] is not None:
            console.print(f"  {label}: {lead[label]}", markup=False)
    for which, label in (("first", "evidence (first sighting)"), ("latest", "evidence (latest sighting)")):
        record = lead["evidence"][which]
        console.print(f"  {label}: " + (f"run {record['run_id']} {pointer_text(record)}" if record else "not archived"),
                      markup=False)
    hits = Table("run", "field", "offsets", "match", "context", title="Hits")
    for hit in lead["hits"]:
        hits.add_row(str(hit["run_id"]), hit["field"], f"{hit['start']}–{hit['end']}", hit["match"],
                     hit["context"] or "")
    console.print(hits)
    if lead["price_history"]:
        history = Table("fetched", "run", "price", "comparison price", "content hash", title="Price history")
        for snap in lead["price_history"]:
            history.add_row(str(snap["fetched_at"]), str(snap["run_id"]), _money(snap["price"]),
                            _money(snap["original_price"]), (snap["content_hash"] or "")[:16])
        console.print(history)
    shop = lead["shop"]
    if shop:
        console.print(f"Shop: {shop['name'] or ''} ({shop['platform']}/{shop['shop_id']}) {shop['url'] or ''}"
                      f"  credit code: {shop['credit_code'] or '—'}", markup=False)


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


@leads.command("set")
@db_option
@click.argument("lead_ids", type=ROW_ID, nargs=-1, required=True)
@click.option("--status", required=True, type=click.Choice(LEAD_STATUSES))
@click.option("--assignee")
@click.option("--note")
def set_(db_url, lead_ids, status, assignee, note) -> None:  # type: ignore[no-untyped-def]
    """Move leads along new → confirmed | dismissed → handed_off → resolved."""
    with open_store(db_url) as store:
        changed = store.set_status(lead_ids, status, assignee=assignee, note=note)
    click.echo(f"{changed} lead(s) now {status}")


@leads.command()
@db_option
@filter_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Column headers (zh: 线索编号, 平台, …).")
def export(db_url, since, status, category, site, min_severity, out, fmt, lang) -> None:  # type: ignore[no-untyped-def]
    """Export leads for field teams (CSV is UTF-8 with BOM, safe to open in Excel)."""
    from netwatch.ops.export import export_leads

    with open_store(db_url) as store:
        rows = export_leads(store, out, fmt, lang, **_filters(since, status, category, site, min_severity))
    click.echo(f"{rows} lead(s) written to {out}")


@click.command()
@db_option
@click.option("--last", default=10, show_default=True, help="How many runs, newest first.")
def runs(db_url, last) -> None:  # type: ignore[no-untyped-def]
    """Crawl runs with their statistics and new / recurring / gone leads."""
    with open_store(db_url) as store:
        rows = store.runs(last)
    table = Table("run", "spider", "target", "started", "finished", "status", "pages", "listings", "new",
                  "recurring", "gone", "leads by category")
    for row in rows:
        table.add_row(str(row["id"]), row["spider"], row["target"] or "", f"{row['started_at']:%Y-%m-%d %H:%M}",
                      f"{row['finished_at']:%Y-%m-%d %H:%M}" if row["finished_at"] else "", row["status"],
                      str(row["pages"]), str(row["listings"]), str(row["new"]), str(row["recurring"]),
                      str(row["gone"]),
                      ", ".join(f"{cat} {n}" for cat, n in sorted(row["leads_by_category"].items())))
    Console(width=200).print(table)
