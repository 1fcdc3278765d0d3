"""`netwatch reviews check`: review signals over an analyst's own table (CSV, JSONL or XLSX)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def reviews() -> None:
    """Fake-review and order-brushing signals on review data."""


@reviews.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", required=True, help="Column holding the review text.")
@click.option("--time-column", help="Column holding the review time (without it: no burst signal).")
@click.option("--rating-column", help="Column holding the rating (without it: every review counts as top-rated).")
@click.option("--reviewer-column", help="Column holding the reviewer (without it: each row is its own buyer, no rings).")
@click.option("--group-column", help="Column naming the listing a review belongs to (without it: one group).")
@click.option("--shop-column", help="Column naming the shop (for duplicates across a shop's listings and rings).")
@click.option("--signals-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Thresholds and weights (default: rules/signals/fake_reviews.yaml).")
@click.option("--sheet", help="Excel sheet to read (default: the first).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the table with fake_review_score and fake_review_signals added (CSV, UTF-8 with BOM).")
def check(file: Path, text_column: str, time_column: str | None, rating_column: str | None,
          reviewer_column: str | None, group_column: str | None, shop_column: str | None,
          signals_file: Path | None, sheet: str | None, out: Path) -> None:
    """Score every review of FILE and write it back with the score and the signals it takes part in."""
    from rich.console import Console
    from rich.table import Table

    from netwatch.analysis.reviews import ReviewSignalScorer, SignalConfigError, load_signal_config
    from netwatch.analysis.reviews.table import check_table
    from netwatch.importing import ImportFileError, load_frame

    err = Console(stderr=True)
    try:
        frame, bad_rows = load_frame(file, sheet=sheet)
        scorer = ReviewSignalScorer(load_signal_config(signals_file))
        scored, summaries = check_table(frame, text_column, time_column=time_column, rating_column=rating_column,
                                        reviewer_column=reviewer_column, group_column=group_column,
                                        shop_column=shop_column, scorer=scorer)
    except (ImportFileError, SignalConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyError as exc:
        raise click.ClickException(f"{file}: {exc.args[0]}") from exc
    for problem in bad_rows:
        err.print(f"[yellow]skipped[/yellow] {problem}", soft_wrap=True)
    from netwatch.ops.export import neutralise_formulas

    out.parent.mkdir(parents=True, exist_ok=True)
    # Analysts open the result in Excel: BOM for Chinese, and no cell may turn into a formula.
    neutralise_formulas(scored.copy()).to_csv(out, index=False, encoding="utf-8-sig")

    table = Table(title=f"Review signals: {file.name} ({len(scored)} reviews, lead threshold {scorer.config.lead_threshold})")
    for name in ("group", "reviews", "flagged", "score", "signals", "lead"):
        table.add_column(name, justify="right" if name in ("reviews", "flagged", "score") else "left")
    for s in summaries:
        table.add_row(s.group, str(s.reviews), str(s.flagged_reviews), f"{s.score:.2f}", ";".join(s.signals) or "-",
                      "LEAD" if s.lead else "")
    console = Console(file=sys.stdout, width=160)
    console.print(table)
    for s in summaries:
        if s.lead:
            console.print(f"[bold]{s.group}[/bold]: {s.evidence}", soft_wrap=True)
    console.print(f"wrote {out} ({len(scored)} rows, {sum(1 for s in summaries if s.lead)} group(s) over the threshold)")
