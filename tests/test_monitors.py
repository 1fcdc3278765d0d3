"""Crawl health: the Spidermon monitors run at the end of real crawls of a small shop on loopback, and
`netwatch crawl` exits by their verdict (netwatch.exits). Each crawl runs in a subprocess (one reactor each).

The shop: a front page linking PRODUCTS product pages; each product page has a title, a price (unless the
shop is told to leave prices out: a broken price selector looks the same) and its shop's name. Product
pages may answer 404 (delisted) or 500 (broken) instead.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from netwatch.crawl.health import ALARMS_STAT, alarms_from_stats, last_good_items
from netwatch.crawl.monitors import judge
from netwatch.crawl.runner import crawl_settings
from netwatch.exits import EXIT_ALARMS, EXIT_OK

PRODUCTS = 10
PROFILE = """
key: tinyshop
name: a tiny shop for the health monitors
base_url: null
start_urls: ["{base_url}/"]
pages:
  - name: home
    match: '^/$'
    follow: ["a.product"]
  - name: product
    match: '^/products/(?P<item_id>[0-9]+)\\.html$'
    item: listing
    fields:
      title: "css:h1"
      price: "css:span.price::text"
      shop_name: "css:div.shop"
"""


@contextmanager
def shop(*, unpriced: Iterable[int] = (), status: dict[int, int] | None = None) -> Iterator[str]:
    """The shop on a free loopback port; `unpriced` product pages show no price, `status` maps product
    numbers to the status they answer."""
    unpriced = set(unpriced)
    status = status or {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/":
                links = "".join(f'<a class="product" href="/products/{n}.html">{n}</a>' for n in range(PRODUCTS))
                self.answer(200, f"<html><body><h1>tiny shop</h1>{links}</body></html>")
            elif self.path.startswith("/products/") and self.path.endswith(".html"):
                number = int(self.path.rsplit("/", 1)[1].removesuffix(".html"))
                price = "" if number in unpriced else f'<span class="price">¥{number + 10}.00</span>'
                page = f'<html><body><h1>保温杯 {number} 号</h1>{price}<div class="shop">老张的小店</div></body></html>'
                self.answer(status.get(number, 200), page)
            else:
                self.answer(404, "<html>not here</html>")

        def answer(self, code: int, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def crawl(tmp: Path, base_url: str, *settings: str) -> tuple[int, dict, str]:
    """`netwatch crawl PROFILE -a base_url=…`: (exit code, the crawl's summary, log)."""
    profile, stats = tmp / "tinyshop.yaml", tmp / "stats.json"
    profile.write_text(PROFILE, encoding="utf-8")
    command = [sys.executable, "-c", "from netwatch.cli import main; main()", "crawl", str(profile),
               "-a", f"base_url={base_url}", "--stats", str(stats), "--progress", "0",
               "-s", "ITEM_PIPELINES={}", "-s", "RETRY_ENABLED=false", *(f"-s{s}" for s in settings)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp)
    assert stats.exists(), done.stderr[-3000:]
    (summary,) = json.loads(stats.read_text(encoding="utf-8"))
    return done.returncode, summary, done.stderr


def checks(summary: dict) -> list[str]:
    return sorted(alarm["check"] for alarm in summary["alarms"])


def test_healthy_shop_has_no_alarm_and_exits_0(tmp_path):
    with shop() as url:
        code, summary, log = crawl(tmp_path, url)
    assert summary["items"] == PRODUCTS and summary["pages"] >= PRODUCTS + 1
    assert summary["alarms"] == [] and summary["problem"] is None
    assert code == EXIT_OK, log[-3000:]
    assert "[Spidermon] listing field coverage/test_listing_fields... OK" in log


def test_missing_prices_raise_the_field_coverage_alarm(tmp_path):
    with shop(unpriced=range(PRODUCTS)) as url:
        code, summary, log = crawl(tmp_path, url)
    assert summary["items"] == PRODUCTS  # the crawl itself went fine: only the prices are gone
    assert checks(summary) == ["field_coverage"]
    (alarm,) = summary["alarms"]
    assert "price (0%)" in alarm["message"] and "title" not in alarm["message"] and "shop" not in alarm["message"]
    assert code == EXIT_ALARMS


def test_coverage_threshold_is_a_setting(tmp_path):
    with shop(unpriced=range(3)) as url:  # 7 of 10 listings priced: below the default 80 %, above 60 %
        code, summary, _log = crawl(tmp_path, url)
        assert code == EXIT_ALARMS and "price (70%)" in summary["problem"]
        code, summary, _log = crawl(tmp_path, url, "NETWATCH_MIN_FIELD_COVERAGE=0.6")
    assert code == EXIT_OK and summary["alarms"] == []


def test_dead_site_raises_zero_items(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, summary, log = crawl(tmp_path, dead)
    assert summary["items"] == 0
    assert checks(summary) == ["error_rate", "zero_items"]
    assert any("unreachable" in alarm["message"] for alarm in summary["alarms"])
    assert code == EXIT_ALARMS


def test_delisted_pages_are_not_errors_but_broken_ones_are(tmp_path):
    with shop(status={n: 404 for n in range(6)} | {6: 410}) as url:
        code, summary, log = crawl(tmp_path, url)
    assert summary["errors_by_kind"] == {"http_404": 6, "http_410": 1} and summary["items"] == 3
    assert code == EXIT_OK and summary["alarms"] == []

    # 3 errors in 12 requests (robots.txt, the front page, 10 products): 25 % > 20 %
    with shop(status={n: 500 for n in range(3)}) as url:
        code, summary, log = crawl(tmp_path, url)
    assert checks(summary) == ["error_rate"] and "3 errors in 12 requests" in summary["alarms"][0]["message"]
    assert "12 次请求出错 3 次" in summary["alarms"][0]["zh"]  # what a Chinese report and `netwatch crawl` show
    assert "错误率" in log[log.index("抓取汇总"):]  # the summary table's result column, wrapped
    assert code == EXIT_ALARMS
    with shop(status={n: 500 for n in range(3)}) as url:
        code, summary, log = crawl(tmp_path, url, "NETWATCH_MAX_ERROR_RATE=0.3")
    assert code == EXIT_OK and summary["alarms"] == []


def test_drop_against_the_last_good_run(tmp_path):
    with shop() as url:
        code, summary, log = crawl(tmp_path, url, "NETWATCH_LAST_GOOD_ITEMS=21")
    assert checks(summary) == ["drop"] and "10 items against 21" in summary["alarms"][0]["message"]
    assert "抓到 10 件商品，上次正常抓取为 21 件" in summary["alarms"][0]["zh"]
    assert code == EXIT_ALARMS
    with shop() as url:
        code, summary, log = crawl(tmp_path, url, "NETWATCH_LAST_GOOD_ITEMS=20")  # exactly half: no drop yet
    assert code == EXIT_OK and summary["alarms"] == []


def test_a_crawl_cut_short_raises_finish_reason(tmp_path):
    with shop() as url:
        code, summary, log = crawl(tmp_path, url, "CLOSESPIDER_PAGECOUNT=3", "CONCURRENT_REQUESTS=1")
    assert summary["finish_reason"] == "closespider_pagecount"
    assert "finish_reason" in checks(summary)
    assert code == EXIT_ALARMS


def test_last_good_run_is_the_newest_without_alarms():
    earlier = [{ALARMS_STAT: [{"check": "drop", "message": "…"}], "item_scraped_count": 3},
               {"item_scraped_count": 90},  # from before the monitors: not known to be good
               {ALARMS_STAT: [], "item_scraped_count": 80}, {ALARMS_STAT: [], "item_scraped_count": 70}]
    assert last_good_items(earlier) == 80
    assert last_good_items(earlier[:2]) is None


def test_judging_added_up_stats_recomputes_coverage():
    """A shared crawl's workers each judged their part; the coordinator judges the sum (coverage ratios
    do not add up, so they are computed again from the counts)."""
    worker_a = {"item_scraped_count": 6, "response_received_count": 8, "finish_reason": "finished",
                "spidermon_item_scraped_count/Listing": 6, "spidermon_item_scraped_count/Listing/title": 6,
                "spidermon_item_scraped_count/Listing/price": 6, "netwatch/listings_with_shop": 6,
                "spidermon_field_coverage/Listing/price": 1.0, "spidermon_field_coverage/Listing/title": 1.0}
    worker_b = {**worker_a, "spidermon_item_scraped_count/Listing/price": 0, "spidermon_field_coverage/Listing/price": 0.0}
    added = {key: worker_a[key] + worker_b[key] if key != "finish_reason" else "finished" for key in worker_a}
    settings = crawl_settings()
    judged = judge(added, settings)  # price on 6 of 12 listings
    assert judged["spidermon_field_coverage/Listing/price"] == 0.5
    alarms = alarms_from_stats(judged)
    assert [alarm.check for alarm in alarms] == ["field_coverage"] and "price (50%)" in alarms[0].message
    assert alarms_from_stats(judge(worker_a, settings)) == []
    assert alarms_from_stats(judge(worker_b, settings)) == []  # 6 listings are too few to judge coverage
