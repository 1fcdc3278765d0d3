"""Nothing lost, nothing corrupted (issue #13), with real `netwatch crawl` processes on the demo marketplace:
a crawl delists only what it covered (its site, its shops), crawls at the same time do not undo each other,
a listing the site took down is still delisted, and a full disk stops the crawl with an error while what
was stored stays intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from netwatch_fixtures.mall.market import MallConfig, fault_ids, listing, shop_listing_ids
from test_store_helpers import hit, store_url  # noqa: F401  (a fixture)
from test_store_helpers import listing as item

from netwatch.analysis.post_run import finish
from netwatch.domain.vocab import PARTIAL_CRAWL
from netwatch.exits import EXIT_STORE_FAILED
from netwatch.store import Store
from netwatch.store.reserve import RESERVE_BYTES, reserve_path

QUIET = ["--progress", "0", "-s", "LOG_LEVEL=ERROR"]
# Small batches, so that crawls going on at the same time interleave their writes (as on a big site).
INTERLEAVED = ("-s", "NETWATCH_STORE_BATCH=10")


def crawl_command(urls: dict[str, str], *sites: str, args: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "netwatch.cli", "crawl", *sites, *QUIET, *args,
            *(part for site in sites for part in ("--base-url", f"{site}={urls[site]}"))]


def env_for(db: str) -> dict[str, str]:
    return {**os.environ, "NETWATCH_DB_URL": db}


def crawl(db: str, urls: dict[str, str], *sites: str, args: tuple[str, ...] = ()) -> None:
    done = subprocess.run(crawl_command(urls, *sites, args=args), env=env_for(db), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def crawl_at_once(db: str, commands: list[list[str]]) -> None:
    running = [subprocess.Popen(command, env=env_for(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for command in commands]
    for process in running:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]


def query(db: str, sql: str, **params) -> list[tuple]:
    with Store(db) as store, store.reading() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql), params)]


def listings(db: str, platform: str, active: bool | None = None) -> set[str]:
    condition = "" if active is None else f" AND active = {'true' if active else 'false'}"
    return {row[0] for row in query(db, f"SELECT canonical_id FROM listings WHERE platform = :p{condition}",
                                    p=platform)}


def run_ids(db: str) -> list[int]:
    return [row[0] for row in query(db, "SELECT id FROM runs ORDER BY id")]


def summary(db: str, run_id: int) -> dict:
    with Store(db) as store:
        return store.run_summary(run_id)


def lead_keys(db: str) -> set[tuple]:
    """Every lead as (site, listing or shop, its id, pack, rule): comparable across databases."""
    return set(query(db, """
        SELECT COALESCE(l.platform, s.platform), d.subject, COALESCE(l.canonical_id, s.shop_id), d.pack, d.rule
        FROM leads d LEFT JOIN listings l ON l.id = d.listing_id AND d.subject = 'listing'
        LEFT JOIN shops s ON s.id = d.shop_id AND d.subject = 'shop'"""))


def test_delisting_covers_the_runs_platforms_its_shops_and_not_a_concurrent_runs_sightings(store_url):
    """The store alone, on both databases: what each kind of run may delist, and its gone leads."""
    def active(store) -> set[tuple[str, str]]:
        with store.reading() as conn:
            return set(map(tuple, conn.execute(sa.text("SELECT platform, canonical_id FROM listings WHERE active"))))

    with Store(store_url) as store:
        first = store.start_run("profile")
        store.save_batch(first, [item(1, hits=[hit()]), item(4, hits=[hit()]), item(2, shop="s2", hits=[hit()]),
                                 item(3, platform="lvyuan", shop=None)])
        finish(store, first, {}, "finished")
        everything = active(store)
        other_site = store.start_run("profile")
        store.save_batch(other_site, [item(5, platform="lvyuan", shop=None)])
        finish(store, other_site, {}, "finished")
        # lvyuan's listing 3 went; netmall's are not this crawl's to judge
        assert active(store) == everything - {("lvyuan", "3")} | {("lvyuan", "5")}
        assert store.run_summary(other_site)["gone"] == 0
        shop_crawl = store.start_run("profile")  # shop s1 only, which took listing 4 down
        store.save_batch(shop_crawl, [item(1, hits=[hit()])])
        finish(store, shop_crawl, {PARTIAL_CRAWL: True}, "finished")
        assert ("netmall", "4") not in active(store) and ("netmall", "2") in active(store)
        assert store.run_summary(shop_crawl)["gone"] == 1  # listing 4's lead; not shop s2's listing 2's
        # Two whole-site crawls at once: one saw listing 2, the other (finishing first) did not yet.
        slow, fast = store.start_run("profile"), store.start_run("profile")
        store.save_batch(slow, [item(1), item(2, shop="s2")])
        store.save_batch(fast, [item(1)])
        finish(store, fast, {}, "finished")
        assert ("netmall", "2") in active(store)
        finish(store, slow, {}, "finished")
        assert {key for key in active(store) if key[0] == "netmall"} == {("netmall", "1"), ("netmall", "2")}


def test_crawling_one_site_leaves_the_other_sites_listings_active(store_url, mall):
    crawl(store_url, mall.urls, "netmall")
    netmall = listings(store_url, "netmall")
    assert len(netmall) > 100
    crawl(store_url, mall.urls, "lvyuan")
    assert listings(store_url, "netmall", active=True) == netmall
    assert listings(store_url, "lvyuan", active=False) == set() and listings(store_url, "lvyuan")
    first, second = run_ids(store_url)
    assert summary(store_url, second)["gone"] == 0  # no lead of netmall's went: lvyuan's crawl never looked
    # netmall again: compared with the last crawl that covered netmall, the first, nothing went
    crawl(store_url, mall.urls, "netmall")
    assert listings(store_url, "netmall", active=False) == set()
    assert summary(store_url, run_ids(store_url)[-1])["gone"] == 0


def test_two_sites_crawled_at_once_keep_everything(store_url, mall, tmp_path):
    """Two spiders in one process (netwatch.crawl.runner.run_crawls), against the same two crawled one after
    the other: the same leads (brushing ones included), nothing delisted."""
    one_by_one = f"sqlite:///{tmp_path / 'one_by_one.db'}"
    crawl(one_by_one, mall.urls, "netmall")
    crawl(one_by_one, mall.urls, "lvyuan")
    # The schema made first: two spiders opening a fresh SQLite file at once race to create it (a separate bug).
    Store(store_url).close()
    crawl(store_url, mall.urls, "netmall", "lvyuan", args=INTERLEAVED)
    assert query(store_url, "SELECT count(*) FROM listings WHERE active = false") == [(0,)]
    expected = lead_keys(one_by_one)
    assert {key for key in expected if key[4] == "brushing_score"}  # the review pass found brushing in both
    assert lead_keys(store_url) == expected
    assert [summary(store_url, run_id)["gone"] for run_id in run_ids(store_url)] == [0, 0]


def test_one_site_crawled_twice_at_once_delists_nothing(store_url, mall):
    crawl(store_url, mall.urls, "netmall")  # an earlier run: its listings are both crawls' to delist
    before = listings(store_url, "netmall")
    crawl_at_once(store_url, [crawl_command(mall.urls, "netmall", args=INTERLEAVED)] * 2)
    assert len(run_ids(store_url)) == 3
    assert listings(store_url, "netmall", active=False) == set()
    assert listings(store_url, "netmall") == before


def test_a_shop_crawl_delists_only_within_its_shop(store_url, mall):
    crawl(store_url, mall.urls, "netmall")
    netmall = listings(store_url, "netmall")
    crawl(store_url, mall.urls, "netmall", args=("-a", f"start_url={mall.urls['netmall']}/shop/1001"))
    shop_run = run_ids(store_url)[-1]
    assert query(store_url, "SELECT count(*) FROM listing_snapshots WHERE run_id = :r", r=shop_run)[0][0] >= 5
    assert listings(store_url, "netmall", active=True) == netmall
    assert summary(store_url, shop_run)["gone"] == 0


def market_ids(cfg: MallConfig) -> set[str]:
    """The netmall listings the market shows on cfg.day (the stale-linked 404 item left out)."""
    stale = fault_ids(cfg).get("stale_404")
    return {str(value) for index in range(cfg.shops) for value in shop_listing_ids(cfg, index)
            if value != stale and listing(cfg, value) is not None}


def test_listings_taken_down_are_delisted_and_their_leads_gone(store_url):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(day=0) as mall:
        port = mall.port
        crawl(store_url, mall.urls, "netmall")
        crawl(store_url, mall.urls, "lvyuan")
    seen_first = listings(store_url, "netmall")
    with start_mall(day=1, port=port) as mall:
        crawl(store_url, mall.urls, "netmall")
    taken_down = seen_first & (market_ids(MallConfig(day=0)) - market_ids(MallConfig(day=1)))
    assert taken_down  # the market delists listings every day
    assert listings(store_url, "netmall", active=False) == taken_down
    assert listings(store_url, "lvyuan", active=False) == set()  # not crawled on day 1: not judged
    first_netmall, first_lvyuan, second = run_ids(store_url)
    hit_in = {run: {row[0] for row in query(store_url, "SELECT lead_id FROM lead_hits WHERE run_id = :r", r=run)}
              for run in (first_netmall, second)}
    assert summary(store_url, second)["gone"] == len(hit_in[first_netmall] - hit_in[second])


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: the crawl below fills it after a few batches."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        if os.path.ismount(where):
            subprocess.run(["umount", "-l", str(where)], check=False)


def test_an_sqlite_store_keeps_room_for_a_runs_end(tmp_path):
    path = tmp_path / "netwatch.db"
    with Store(f"sqlite:///{path}"):
        pass
    assert reserve_path(path).stat().st_blocks * 512 >= RESERVE_BYTES  # allocated, not a sparse file
    reserve_path(path).unlink()  # spent by a full disk (below); the next open that finds room allocates it again
    with Store(f"sqlite:///{path}"):
        pass
    assert reserve_path(path).stat().st_size == RESERVE_BYTES


def test_a_full_disk_stops_the_crawl_and_keeps_what_was_stored(small_disk: Path):
    from netwatch_fixtures.mall.launch import start_mall

    path = small_disk / "netwatch.db"
    db = f"sqlite:///{path}"
    with start_mall(shops=30, items_per_shop=20) as mall:
        done = subprocess.run(crawl_command(mall.urls, "netmall", args=("-s", "NETWATCH_STORE_BATCH=100")),
                              env=env_for(db), capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_STORE_FAILED, done.stderr[-3000:]
    message = [line for line in done.stderr.splitlines() if "数据库拒绝写入" in line]  # Chinese by default
    assert len(message) == 1 and str(path) in message[0] and "disk is full" in message[0], done.stderr[-3000:]
    with Store(db) as store, store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]
        status, stats = conn.execute(sa.text("SELECT status, stats FROM runs")).one()
        stored = conn.scalar(sa.text("SELECT count(*) FROM listings"))
    assert status == "failed" and json.loads(stats)["finish_reason"] == "store_failed"
    assert 0 < stored < 597  # some batches made it; the crawl stopped before all of the mall's listings
