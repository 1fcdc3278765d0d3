"""The store under real crawls: StorePipeline in a Scrapy crawl of a loopback server (run in a child process,
as a reactor runs once per process), a crawl killed mid-run then re-run, and two writers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from test_store_helpers import store_url  # noqa: F401  (a fixture)

from netwatch.store import Store

ITEMS = 60
CRAWL_SCRIPT = textwrap.dedent('''
    import json, sys, warnings
    from scrapy.exceptions import ScrapyDeprecationWarning
    warnings.filterwarnings("error", category=ScrapyDeprecationWarning)
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from netwatch.domain.items import Listing

    base, db_url = sys.argv[1], sys.argv[2]

    class ShopSpider(scrapy.Spider):
        name = "testshop"
        target = base

        async def start(self):
            yield scrapy.Request(base + "/")

        def parse(self, response):
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, self.parse_item)

        def parse_item(self, response):
            title = response.css("h1::text").get()
            number = response.url.rsplit("/", 1)[1]
            hits = []
            if "最佳" in title:
                start = title.index("最佳")
                hits.append({"pack": "ads", "rule": "absolute_terms", "category": "false_advertising",
                             "severity": "medium", "field": "title", "start": start, "end": start + 2,
                             "match": "最佳", "context": title, "legal_basis": "广告法 第九条(三)"})
            yield Listing(url=response.url, canonical_id=number, platform="testshop", shop_id="s1",
                          title=title, price=float(number) + 1, hits=hits)

    process = CrawlerProcess({
        "ITEM_PIPELINES": {"netwatch.crawl.pipelines.store.StorePipeline": 900},
        "NETWATCH_DB_URL": db_url, "NETWATCH_STORE_BATCH": 5, "CONCURRENT_REQUESTS": 2,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
        **json.loads(sys.argv[3] if len(sys.argv) > 3 else "{}"),
    })
    crawler = process.create_crawler(ShopSpider)
    process.crawl(crawler)
    process.start()
    print("RUN", crawler.stats.get_value("netwatch/run_id"), crawler.stats.get_value("netwatch/stored_items"))
''')


class Shop(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/":
            body = "".join(f'<a href="/item/{n}">{n}</a>' for n in range(ITEMS))
        elif self.path.startswith("/item/"):
            time.sleep(self.delay)
            number = int(self.path.rsplit("/", 1)[1])
            body = f"<h1>{'全网最佳' if number % 2 == 0 else '普通'}商品{number}</h1>"
        else:
            self.send_error(404)
            return
        data = f"<html><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def shop_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    Shop.delay = 0.0


def crawl(script, server, url: str, **settings) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), f"http://127.0.0.1:{server.server_port}", url,
                             json.dumps(settings)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "crawl.py"
    path.write_text(CRAWL_SCRIPT, encoding="utf-8")
    return path


def scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text(sql))
    finally:
        engine.dispose()


def test_crawl_stores_everything_and_a_rerun_adds_history(store_url, shop_server, script):
    for _ in range(2):
        child = crawl(script, shop_server, store_url)
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert "Traceback" not in err, err
        assert f" {ITEMS}" in out.splitlines()[-1]  # netwatch/stored_items
    with Store(store_url) as store:
        runs = store.runs()
        assert [run["status"] for run in runs] == ["finished", "finished"]
        assert runs[0]["target"] == f"http://127.0.0.1:{shop_server.server_port}"
        assert runs[0]["stats"]["item_scraped_count"] == ITEMS
        summary = store.run_summary(runs[0]["id"])
        assert summary["listings"] == ITEMS and summary["recurring"] == ITEMS // 2 and summary["new"] == 0
        assert summary["pages"] == ITEMS + 1
        leads = store.leads(limit=None)
        assert len(leads) == ITEMS // 2 and {lead["times_seen"] for lead in leads} == {2}


def test_crawl_killed_mid_run_then_rerun(store_url, shop_server, script):
    Shop.delay = 0.05  # slow enough to kill the crawl half-way
    child = crawl(script, shop_server, store_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if scalar(store_url, "SELECT count(*) FROM listings") >= 15:
                    break
            except sa.exc.DBAPIError:
                pass  # the schema is still being created
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    stored = scalar(store_url, "SELECT count(*) FROM listings")
    assert 15 <= stored < ITEMS
    assert stored % 5 == 0  # whole batches only: the batch in flight is lost, nothing half-written
    assert scalar(store_url, "SELECT count(*) FROM listing_snapshots") == stored
    assert scalar(store_url, "SELECT count(*) FROM leads") == scalar(
        store_url, "SELECT count(*) FROM listings WHERE title LIKE '%最佳%'")

    Shop.delay = 0.0
    rerun = crawl(script, shop_server, store_url)
    _out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    with Store(store_url) as store:
        first, second = sorted(store.runs(), key=lambda run: run["id"])
        assert (first["status"], second["status"]) == ("killed", "finished")  # the dead run is recognised
        assert scalar(store_url, "SELECT count(*) FROM listings") == ITEMS
        assert scalar(store_url, "SELECT count(*) FROM leads") == ITEMS // 2
        seen_twice = scalar(store_url, "SELECT count(*) FROM leads WHERE times_seen = 2")
        assert seen_twice == scalar(store_url, f"SELECT count(*) FROM lead_hits WHERE run_id = {first['id']}")
        assert seen_twice > 0


def test_a_batch_is_written_on_time_before_it_is_full(store_url, shop_server, script):
    """A batch far larger than the crawl is written every NETWATCH_STORE_FLUSH_SECONDS all the same: a crawl
    killed mid-run loses seconds of items, not its whole buffer."""
    Shop.delay = 0.1
    child = crawl(script, shop_server, store_url, NETWATCH_STORE_BATCH=1000, NETWATCH_STORE_FLUSH_SECONDS=0.5)
    try:
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and child.poll() is None and not stored:
            try:
                stored = scalar(store_url, "SELECT count(*) FROM listings")
            except sa.exc.DBAPIError:
                pass  # the schema is still being created
            time.sleep(0.05)
        assert child.poll() is None, "the crawl ended before anything was seen stored"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert 0 < stored < ITEMS


WRITER_SCRIPT = textwrap.dedent('''
    import os, sys, time
    from netwatch.domain.items import Listing
    from netwatch.store import Store
    url, go, name = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store(url)
    run = store.start_run(name)
    while not os.path.exists(go):
        time.sleep(0.01)
    numbers = list(range(1000))
    if name == "b":
        numbers.reverse()  # the other crawl meets the same listings in the opposite order
    hit = {"pack": "ads", "rule": "r", "category": "false_advertising", "severity": "low", "field": "title",
           "start": 0, "end": 2, "match": "最佳", "context": "最佳", "legal_basis": None}
    for start in range(0, len(numbers), 50):
        store.save_batch(run, [Listing(url=f"http://x/{n}", canonical_id=str(n), platform="p", shop_id=f"s{n % 7}",
                                       price=1.0, hits=[hit]) for n in numbers[start:start + 50]])
    store.finish_run(run, {}, "finished")
    store.close()
''')


def test_two_crawls_writing_at_once_lose_and_duplicate_nothing(store_url, tmp_path):
    url = store_url
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT, encoding="utf-8")
    Store(url).close()  # the schema exists before both start, as in a nightly run
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, str(script), url, str(go), name], stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    time.sleep(2)
    go.touch()
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    assert scalar(url, "SELECT count(*) FROM listings") == 1000
    assert scalar(url, "SELECT count(*) FROM shops") == 7
    assert scalar(url, "SELECT count(*) FROM listing_snapshots") == 2000
    assert scalar(url, "SELECT count(*) FROM leads") == 1000
    assert scalar(url, "SELECT count(*) FROM leads WHERE times_seen = 2") == 1000
    assert scalar(url, "SELECT count(*) FROM lead_hits") == 2000

