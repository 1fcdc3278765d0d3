"""`netwatch demo`: the main job on the embedded default — the local demo marketplace and SQLite.

Starts the demo marketplace on loopback, crawls every site of it with its profile (rules, licence
checks, review signals and store on), exports the leads to CSV and prints a short summary.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from netwatch.cli.options import WORKBENCH_PORT, lang_option
from netwatch.domain.vocab import label


@click.command()
@click.option("--db", "db_url", default=None, help="lead store URL (default: NETWATCH_DB_URL or ./netwatch.db)")
@click.option("--out", default="out/leads.csv", show_default=True, type=click.Path(dir_okay=False),
              help="the CSV export of the leads")
@click.option("--seed", default=1, show_default=True, help="demo marketplace seed")
@click.option("--shops", default=12, show_default=True, help="marketplace shops")
@click.option("--items-per-shop", default=10, show_default=True, help="listings per marketplace shop")
@click.option("--day", default=0, show_default=True, help="demo marketplace day (the market evolves day by day)")
@lang_option
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

    zh = lang == "zh"
    table = Table(title="netwatch 演示" if zh else "netwatch demo")
    table.add_column("项目" if zh else "what")
    table.add_column("数量" if zh else "count", justify="right")
    table.add_row("抓取页面" if zh else "pages fetched", str(sum(r.pages for r in results)))
    table.add_row("商品" if zh else "listings", str(sum(r.items_by_type.get("listing", 0) for r in results)))
    table.add_row("店铺" if zh else "shops", str(sum(r.items_by_type.get("shop", 0) for r in results)))
    for category, count in sorted(by_category.items()):
        table.add_row(f"{'线索' if zh else 'leads'}: {label('category', category, lang)}", str(count))
    table.add_row("本次新线索" if zh else "leads new in this run", str(new))
    Console().print(table)
    problems = [f"{r.target}: {r.problem_text(lang)}" for r in results if r.problem]
    for problem in problems:
        console.print(f"[red]{'抓取问题' if zh else 'crawl problem'}[/red] {problem}")
    print(f"CSV: {Path(out).resolve()} ({rows} {'条线索' if zh else 'leads'})")
    print(f"{'数据库' if zh else 'store'}: {db_url}")
    print("线索工作台（先建账号，再启动，然后在浏览器打开）：" if zh else
           "the workbench (add an account, start it, open it in a browser):")
    print("  netwatch users add admin --role admin")
    print(f"  netwatch serve --db {db_url} --port {WORKBENCH_PORT}")
    print(f"  http://127.0.0.1:{WORKBENCH_PORT}/")
    sys.exit(exit_code(results))
