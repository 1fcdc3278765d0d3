"""The workbench's lead queue with many leads: page load time of /leads (one page of 50 in triage order, the
total and the counts per status, severity, category, region and site) on SQLite, through the real server on
loopback, as an admin (all leads), as an analyst (one region) and with filters; against the login page (no
database) measured in the same run.

    python -m bench.bench_workbench [--leads 100000] [--requests 15]

Goal (issue #18): < 300 ms with 100,000 leads on SQLite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa
import uvicorn

from netwatch.domain.items import Listing
from netwatch.store import Store
from netwatch.store.users import add_user
from netwatch.web.app import create_app

CATEGORIES = ("banned_goods", "false_advertising", "price_fraud", "counterfeit")
SEVERITIES = ("low", "medium", "high", "critical")
REGIONS = ("海淀", "朝阳", "西城", "东城")
HITS_PER_LISTING = 4
BATCH = 2_500


def fill(url: str, leads: int) -> None:
    """`leads` leads over leads/4 listings in 500 shops on two sites, regions spread over four districts."""
    with Store(url) as store:
        run = store.start_run("netmall")
        listings = []
        for n in range(leads // HITS_PER_LISTING):
            hits = [{"pack": "bench", "rule": f"rule{r}", "category": CATEGORIES[(n + r) % 4],
                     "severity": SEVERITIES[(n * 7 + r) % 4], "field": "title", "start": 0, "end": 2, "match": "最佳",
                     "context": f"…全网最佳商品{n}…", "legal_basis": "广告法 第九条(三)"} for r in range(HITS_PER_LISTING)]
            listings.append(Listing(url=f"http://127.0.0.1:8000/item/{n}", canonical_id=str(n),
                                    platform="netmall" if n % 3 else "lvyuan", shop_id=f"s{n % 500}",
                                    shop_name=f"店铺{n % 500}", title=f"全网最佳商品{n}", price=99.0,
                                    content_hash="0" * 64, hits=hits))
            if len(listings) == BATCH:
                store.save_batch(run, listings)
                listings = []
        store.save_batch(run, listings)
        store.finish_run(run, {}, "finished")
        with store.engine.begin() as conn:  # the districts leads were handed to (set in bulk, not one by one)
            conn.execute(sa.text("UPDATE leads SET region = CASE id % 4 WHEN 0 THEN '海淀' WHEN 1 THEN '朝阳' "
                                 "WHEN 2 THEN '西城' ELSE '东城' END"))
        add_user(store.engine, "admin", "bench-admin", "admin")
        add_user(store.engine, "hd", "bench-haidian", "analyst", ["海淀"])


def serve(url: str) -> tuple[str, uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


def login(base: str, name: str, password: str) -> requests.Session:
    import re

    session = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', session.get(f"{base}/login").text).group(1)
    session.post(f"{base}/login", data={"csrf": token, "username": name, "password": password})
    return session


def timed(session: requests.Session, url: str, times: int) -> tuple[float, float]:
    """Median and worst milliseconds of `times` loads (after one warm-up load)."""
    assert session.get(url).status_code == 200, url
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        answer = session.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, url
    return statistics.median(samples), max(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args(argv)
    print("load average at start: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        fill(url, args.leads)
        print(f"filled {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
        base, server = serve(url)
        try:
            admin, analyst = login(base, "admin", "bench-admin"), login(base, "hd", "bench-haidian")
            anonymous = requests.Session()
            cases = [
                ("login page (baseline, no database)", anonymous, "/login"),
                ("queue, admin, all leads", admin, "/leads"),
                ("queue, admin, page 100", admin, "/leads?page=100"),
                ("queue, admin, 严重 + 禁限售商品", admin, "/leads?severity=严重&category=禁限售商品"),
                ("queue, admin, free text", admin, "/leads?q=商品4242"),
                ("queue, 海淀 analyst (a quarter)", analyst, "/leads"),
                ("queue, 海淀 analyst, status 新线索", analyst, "/leads?status=新线索"),
            ]
            print(f"page load, median / worst of {args.requests} (ms), {args.leads:,} leads on SQLite; goal < 300 ms")
            for label, session, path in cases:
                median, worst = timed(session, base + path, args.requests)
                print(f"  {label:<40} {median:7.1f} / {worst:7.1f}")
            bulk_on_a_filter(base, analyst)
        finally:
            server.should_exit = True


def bulk_on_a_filter(base: str, analyst: requests.Session) -> None:
    """The 海淀 analyst's bulk action on every 严重 lead of the region (netwatch.web.bulk): the count the
    confirmation shows, then the change with one audit event per lead, through the JSON API."""
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', analyst.get(f"{base}/leads").text).group(1)
    body = {"filter": {"severity": "严重"}, "note": "bench"}
    started = time.perf_counter()
    matching = analyst.post(f"{base}/api/leads/bulk", json=body, headers={"X-CSRF-Token": token}).json()["matching"]
    counted = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    answer = analyst.post(f"{base}/api/leads/bulk", json={**body, "expected": matching}, headers={"X-CSRF-Token": token})
    changed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200 and answer.json()["changed"] == matching, answer.text
    print(f"bulk on a filter, 海淀 analyst, every 严重 lead ({matching:,}): count {counted:.0f} ms, "
          f"change + {matching:,} audit events {changed:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
