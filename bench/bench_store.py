"""Lead store throughput: lead upserts per second through Store.save_batch on SQLite and PostgreSQL, against
plain batched upserts measured in the same run; CSV export time and peak memory at growing row counts.

    python -m bench.bench_store [--leads 100000] [--export-rows 100000 1000000] [--pg-url URL]

Goals (issue #5): ≥ 50k leads/s on SQLite, ≥ 20k/s on PostgreSQL; 1M leads to CSV in ≤ 15 s with peak
memory independent of the row count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bench.common import pg_schema_url
from netwatch.domain.items import Listing
from netwatch.store import Store

PG_URL = os.environ.get("NETWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 5_000
HITS_PER_LISTING = 4


def plain_upserts(url: str, rows: int) -> float:
    """Baseline: INSERT … ON CONFLICT DO UPDATE of (key, value) rows in batches, as MEASURED.md did."""
    engine = sa.create_engine(url)
    table = sa.Table("plain", sa.MetaData(), sa.Column("key", sa.String, primary_key=True),
                     sa.Column("value", sa.Integer), sa.Column("text", sa.Text))
    table.metadata.create_all(engine)
    insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(table)
    stmt = insert.on_conflict_do_update(index_elements=["key"], set_={"value": insert.excluded.value})
    started = time.perf_counter()
    for first in range(0, rows, BATCH):
        with engine.begin() as conn:
            conn.execute(stmt, [{"key": f"k{n}", "value": n, "text": "商品描述" * 10} for n in range(first, first + BATCH)])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return rows / elapsed


def store_upserts(url: str, leads: int) -> tuple[float, float, float]:
    """Leads per second through Store.save_batch (listings with HITS_PER_LISTING rule hits each), first run
    (inserts) and a re-run (updates); each lead also writes its listing, snapshot and hit rows. Also this
    process's CPU microseconds per lead over both runs (SQLite's work included, PostgreSQL's not): a busy
    machine inflates it less than the rates."""
    hits = [{"pack": "ads", "rule": f"rule{r}", "category": "false_advertising", "severity": "medium",
             "field": "title", "start": 0, "end": 2, "match": "最佳", "context": "全网最佳商品", "legal_basis": "广告法 第九条"}
            for r in range(HITS_PER_LISTING)]
    per_batch = BATCH // HITS_PER_LISTING
    listings = [Listing(url=f"http://127.0.0.1:8000/item/{n}", canonical_id=str(n), platform="netmall",
                        shop_id=f"s{n % 500}", title=f"全网最佳商品{n}", price=99.0, content_hash="0" * 64, hits=hits)
                for n in range(leads // HITS_PER_LISTING)]
    rates, cpu_seconds = [], 0.0
    with Store(url) as store:
        for _ in range(2):
            run = store.start_run("bench")
            started, cpu_started = time.perf_counter(), time.process_time()
            for first in range(0, len(listings), per_batch):
                store.save_batch(run, listings[first:first + per_batch])
            rates.append(leads / (time.perf_counter() - started))
            cpu_seconds += time.process_time() - cpu_started
            store.finish_run(run, {}, "finished")
    return rates[0], rates[1], cpu_seconds / (2 * leads) * 1e6


def fill_for_export(url: str, rows: int) -> None:
    """`rows` leads: 100k through the store, then copies under other rule names (SQL, for speed)."""
    base = min(rows, 100_000)
    store_upserts(url, base)
    engine = sa.create_engine(url)
    columns = ("subject, subject_id, listing_id, shop_id, pack, category, severity, severity_rank, legal_basis, "
               "matched_text, context, dismissed_text, first_seen, last_seen, times_seen, first_run_id, last_run_id, "
               "status, assignee, note, updated_at")
    with engine.begin() as conn:
        for copy in range(1, -(-rows // base)):
            conn.execute(sa.text(
                f"INSERT INTO leads ({columns}, rule) SELECT {columns}, rule || '_c{copy}' FROM leads "
                f"WHERE rule NOT LIKE '%\\_c%' ESCAPE '\\' LIMIT {min(base, rows - copy * base)}"))
    engine.dispose()


EXPORT_CHILD = """
import resource, sys, time
from netwatch.ops.export import export_leads
from netwatch.store import Store
store = Store(sys.argv[1])
started = time.perf_counter()
rows = export_leads(store, sys.argv[2], "csv", "zh")
usage = resource.getrusage(resource.RUSAGE_SELF)
print(rows, time.perf_counter() - started, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def export_csv(url: str, out: Path) -> tuple[int, float, float, float]:
    """Export in a fresh process, so its peak RSS is the export's own; also its CPU seconds (whole process,
    start-up included), which a busy machine inflates less than the wall-clock time."""
    result = subprocess.run([sys.executable, "-c", EXPORT_CHILD, url, str(out)], capture_output=True, text=True,
                            check=True)
    rows, seconds, max_rss_kb, cpu_seconds = result.stdout.split()
    return int(rows), float(seconds), int(max_rss_kb) / 1024, float(cpu_seconds)


def drop_pg_schema(base: str, schema: str) -> None:
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--export-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL base URL ('' to skip PostgreSQL)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nwbench-") as tmp:
        print("load average at start: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
        print(f"lead upserts, {args.leads:,} leads ({HITS_PER_LISTING} per listing), batches of {BATCH:,}")
        targets = [("SQLite", lambda name: (f"sqlite:///{tmp}/{name}.db", None))]
        if args.pg_url:
            targets.append(("PostgreSQL", lambda name: pg_schema_url(args.pg_url)))
        for label, make in targets:
            try:
                plain_url, plain_schema = make("plain")
                store_url, store_schema = make("store")
            except sa.exc.OperationalError as exc:
                print(f"  {label}: skipped ({str(exc).splitlines()[0]})")
                continue
            try:
                baseline = plain_upserts(plain_url, args.leads)
                first, again, cpu_per_lead = store_upserts(store_url, args.leads)
            finally:
                for schema in (plain_schema, store_schema):
                    if schema:
                        drop_pg_schema(args.pg_url, schema)
            print(f"  {label:10} plain upserts {baseline:9,.0f} rows/s | store: first run {first:9,.0f} leads/s "
                  f"({first / baseline:.2f}× plain), re-run {again:9,.0f} leads/s ({again / baseline:.2f}×), "
                  f"client CPU {cpu_per_lead:4.1f} µs/lead")

        print("CSV export (zh headers, formula neutralisation), SQLite")
        for rows in args.export_rows:
            url = f"sqlite:///{tmp}/export{rows}.db"
            fill_for_export(url, rows)
            written, seconds, peak_mb, cpu_seconds = export_csv(url, Path(tmp) / f"leads{rows}.csv")
            size_mb = (Path(tmp) / f"leads{rows}.csv").stat().st_size / 2**20
            print(f"  {written:>9,} leads: {seconds:6.1f} s ({written / seconds:9,.0f} rows/s, CPU {cpu_seconds:5.1f} s), "
                  f"peak RSS {peak_mb:6.0f} MB, file {size_mb:6.0f} MB")
            Path(url.removeprefix("sqlite:///")).unlink()
        print("load average at end: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
