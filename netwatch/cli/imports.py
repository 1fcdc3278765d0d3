"""`netwatch import FILE`: platform data (listing or review dumps) into the store, through the same rules
and review signals as crawled data."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["listings", "reviews"]),
              help="What the rows are (default: reviews if there is a review-text column, else listings).")
@click.option("--platform", default="import", show_default=True, help="Platform the data comes from (e.g. netmall).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN,…",
              help="Which column holds which field, e.g. --map canonical_id=商品编码,text=评语.")
@click.option("--sheet", help="Excel sheet to read (default: the first).")
@click.option("--timezone", "timezone_name", default="UTC", show_default=True,
              help="Clock of times written without an offset (platform dumps often use Asia/Shanghai).")
@click.option("--db", "db_url", help="Store URL (default: NETWATCH_DB_URL or ./netwatch.db).")
@click.option("--max-errors", default=20, show_default=True, help="Bad rows to list (all are counted).")
def import_(file: Path, kind: str | None, platform: str, mapping: tuple[str, ...], sheet: str | None,
            timezone_name: str, db_url: str | None, max_errors: int) -> None:
    """Import FILE (CSV in UTF-8 or GBK, JSONL, XLSX): rows become listings or reviews and yield leads.

    Exits 1 when rows were skipped (the good ones are stored), and when the file cannot be read at all.
    """
    from netwatch.importing import ImportFileError, import_file, parse_mapping
    from netwatch.store import StoreError

    try:
        report = import_file(file, kind=kind, platform=platform, mapping=parse_mapping(mapping), db_url=db_url,
                             sheet=sheet, timezone_name=timezone_name)
    except (ImportFileError, StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in report.errors[:max_errors]:
        click.echo(f"skipped {problem}", err=True)
    if report.skipped > max_errors:
        click.echo(f"… and {report.skipped - max_errors} more bad rows", err=True)
    hits = ", ".join(f"{category} {n}" for category, n in sorted(report.hits_by_category.items())) or "none"
    click.echo(f"imported {file} as {report.kind} (platform {report.platform}, run {report.run_id}): "
               f"{report.rows - report.skipped} of {report.rows} rows, {report.listings} listings, "
               f"{report.reviews} reviews, {report.shops} shops; skipped {report.skipped}; hits: {hits}")
    if report.skipped:
        # The good rows are stored; the exit status tells a script that the file was not imported whole.
        raise click.ClickException(f"{file}: {report.skipped} of {report.rows} rows skipped (listed above)")
