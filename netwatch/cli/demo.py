"""`netwatch demo`: the main job on the embedded default — the local demo marketplace and SQLite.

Starts the demo marketplace on loopback, crawls every site of it with its profile (rules, licence
checks, review signals and store on), exports the leads to CSV and prints a short summary.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click


@click.command()
@click.option("--db", "db_url", default=None, help="lead store URL (default: NETWATCH_DB_URL or ./netwatch.db)")
@click.option("--out", default="out/leads.csv", show_default=True, type=click.Path(dir_okay=False),
              help="the CSV export of the leads")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="CSV column headers")
@click.option("--seed", default=1, show_default=True, help="demo marketplace seed")
@click.option("--shops", default=12, show_default=True, help="marketplace shops")
@click.option("--items-per-shop", default=10, show_default=True, help="listings per marketplace shop")
@click.option("--day", default=0, show_default=True, help="demo marketplace day (the market evolves day by day)")
def demo(db_url: str | None, out: str, lang: str, seed: int, shops: int, items_per_shop: int, day: int) -> None:
    """Crawl the local demo marketplace into the lead store and export the leads as CSV."""
    from netwatch_fixtures.mall.launch import start_mall
    from rich.console import Console
    from rich.table import Table

    from netwatch import config
    from netwatch.crawl.runner import exit_code, run_crawls
    from netwatch.ops.export import export_leads
    from netwatch.sites import profile_names
    from netwatch.store import Store

    console = Console(stderr=True)
    db_url = db_url or config.db_url()
    with Store(db_url):  # creates or upgrades the schema, and fails early on a bad URL
        pass
    with start_mall(seed=seed, shops=shops, items_per_shop=items_per_shop, day=day) as mall:
        targets = [site for site in sorted(mall.urls) if site in profile_names()]
        console.print(f"demo marketplace: {', '.join(f'{k} {v}' for k, v in sorted(mall.urls.items()))}")
        results = run_crawls(targets, base_urls=mall.urls,
                             settings={"NETWATCH_DB_URL": db_url, "LOG_LEVEL": "WARNING",
                                       "NETWATCH_PROGRESS_INTERVAL": 0})

    run_ids = [int(r.stats["netwatch/run_id"]) for r in results if r.stats.get("netwatch/run_id")]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Store(db_url) as store:
        by_category: Counter[str] = Counter()
        new = 0
        for run_id in run_ids:
            summary = store.run_summary(run_id)
            by_category.update(summary.get("leads_by_category", {}))
            new += int(summary.get("new", 0))
        rows = export_leads(store, out, fmt="csv", lang=lang)

    table = Table(title="netwatch demo")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("pages fetched", str(sum(r.pages for r in results)))
    table.add_row("listings", str(sum(r.items_by_type.get("listing", 0) for r in results)))
    table.add_row("shops", str(sum(r.items_by_type.get("shop", 0) for r in results)))
    for category, count in sorted(by_category.items()):
        table.add_row(f"leads: {category}", str(count))
    table.add_row("leads new in this run", str(new))
    Console().print(table)
    problems = [f"{r.target}: {r.problem}" for r in results if r.problem]
    for problem in problems:
        console.print(f"[red]crawl problem[/red] {problem}")
    print(f"CSV: {Path(out).resolve()} ({rows} leads)")
    print(f"store: {db_url}")
    sys.exit(exit_code(results))
