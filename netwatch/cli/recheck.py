"""`netwatch recheck` (fetch the pages of followed leads again, record what became of each) and
`netwatch takedowns` (each re-checked lead's takedown status and how long it took)."""

from __future__ import annotations

import sys

import click

from netwatch.cli.leads import db_option, open_store
from netwatch.domain.vocab import LEAD_STATUSES
from netwatch.exits import EXIT_FAILED

lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)


def parse_statuses(text: str) -> list[str]:
    statuses = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [status for status in statuses if status not in LEAD_STATUSES]
    if unknown or not statuses:
        raise click.BadParameter(f"{', '.join(unknown) or text!r}: use statuses from {', '.join(LEAD_STATUSES)}",
                                 param_hint="--status")
    return statuses


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    click.echo("\t".join(headers))
    for row in rows:
        click.echo("\t".join(row))


@click.command()
@click.option("--status", "status_text", default="handed_off,confirmed,resolved", show_default=True,
              help="Comma-separated lead statuses to re-check (resolved: to notice a violation come back).")
@click.option("--older-than", help="Only leads not re-checked (nor changed) for this long: 3d, 12h, 30m.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="SETTING=VALUE", help="Crawl setting.")
@db_option
@lang_option
def recheck(status_text: str, older_than: str | None, overrides: tuple[str, ...], db_url: str | None,
            lang: str) -> None:
    """Fetch the pages of followed leads again and record per lead: still there, changed, gone."""
    from netwatch import config
    from netwatch.ops.recheck import OUTCOME_NAMES, parse_age, takedown_table
    from netwatch.ops.recheck import recheck as run_recheck

    statuses = parse_statuses(status_text)
    try:
        age = parse_age(older_than) if older_than else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    settings = dict(item.split("=", 1) for item in overrides if "=" in item)
    with open_store(db_url) as store:
        url = store.url
    result = run_recheck(url or config.db_url(), statuses=statuses, older_than=age, settings=settings)
    names = OUTCOME_NAMES[lang]
    counts = "，".join(f"{names[kind]} {n}" for kind, n in sorted(result.counts.items()))
    click.echo(f"复查 {len(result.outcomes)} 条线索：{counts or '无'}" if lang == "zh"
               else f"re-checked {len(result.outcomes)} leads: {counts or 'none'}")
    if result.reopened:
        click.echo(("重新打开的线索：" if lang == "zh" else "reopened: ") + ", ".join(map(str, result.reopened)))
    with open_store(db_url) as store:
        _print_table(*takedown_table(store, sorted(result.outcomes), lang=lang))
    for error in result.errors:
        click.echo(f"netwatch recheck: {error}", err=True)
    if result.errors:
        sys.exit(EXIT_FAILED)


@click.command()
@db_option
@lang_option
def takedowns(db_url: str | None, lang: str) -> None:
    """Every re-checked lead: its latest outcome and the time from first found to taken down."""
    from netwatch.ops.recheck import takedown_table

    with open_store(db_url) as store:
        _print_table(*takedown_table(store, lang=lang))
