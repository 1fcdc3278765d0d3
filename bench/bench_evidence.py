"""The evidence archive's cost (#15) on the demo marketplace.

    python -m bench evidence                       # 30 shops x 40 listings, 3 rounds
    python -m bench evidence -- --shops 10 --items-per-shop 20 --rounds 1 --screenshots 5

Figures:
0. the WARC writer's CPU per page (netwatch.crawl.warc.WarcRun.write, in this process): the pages of the first
   archived crawl written again into a scratch archive, then the same once more as revisits.
1. crawl pages/s with the WARC archive on and off (the netmall profile, all pipelines, SQLite store; rounds
   alternate on/off so machine load hits both alike; screenshots off): the ratio on/off (target >= 0.85).
2. disk per 1,000 pages: the first crawl of a site (every page a response record) and a second crawl of the
   unchanged site (revisit records), WARC files plus index and provenance.
3. screenshot time per lead page: Playwright on Debian's chromium-headless-shell after a crawl, full page,
   plain and marked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_crawl import available_pipelines, netwatch_crawl


def archive_bytes(archive: Path) -> int:
    return sum(path.stat().st_size for path in archive.rglob("*") if path.is_file() and "screens" not in path.parts)


def crawl(base_url: str, tmp: Path, archive: Path | None, screenshots: int = 0) -> dict[str, Any]:
    extra = ["-s", "NETWATCH_NTP_SERVER=", "-s", f"NETWATCH_SCREENSHOTS={'true' if screenshots else 'false'}",
             "-s", f"NETWATCH_SCREENSHOTS_MAX={screenshots}"]
    extra += ["-s", f"NETWATCH_ARCHIVE_DIR={archive}"] if archive else ["-s", "NETWATCH_ARCHIVE=false"]
    return netwatch_crawl(base_url, tmp, available_pipelines(), extra=extra)


def writer_cpu_ms(archive: Path, scratch: Path) -> dict[str, float]:
    """CPU per page of WarcRun.write over the exchanges an archived crawl holds (bodies, headers, requests)."""
    from datetime import UTC, datetime

    from warcio.archiveiterator import ArchiveIterator

    from netwatch.crawl.warc import Exchange, WarcRun

    exchanges = []
    for path in sorted(archive.glob("*/*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    http = record.http_headers
                    exchanges.append(Exchange(
                        url=record.rec_headers.get_header("WARC-Target-URI"), method="GET",
                        request_headers=[("User-Agent", "netwatch"), ("Accept", "text/html")], request_body=b"",
                        status=int(http.get_statuscode()), reason="", protocol=http.protocol,
                        response_headers=http.headers, body=record.raw_stream.read(),
                        ip_address="127.0.0.1", fetched_at=datetime.now(UTC)))
    run = WarcRun(scratch, "netwatch-20261206T000000-1-99", 1 << 30, {"software": "bench"})
    figures = {}
    for kind in ("response", "revisit"):  # the second pass finds every payload archived already
        began = time.process_time()
        for exchange in exchanges:
            run.write(exchange)
        figures[kind] = (time.process_time() - began) / len(exchanges) * 1000
    run.close()
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench evidence")
    parser.add_argument("--shops", type=int, default=30)
    parser.add_argument("--items-per-shop", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--screenshots", type=int, default=10, help="lead pages to screenshot (0: skip)")
    args = parser.parse_args(argv)
    from netwatch_fixtures.mall.launch import start_mall

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="nwbench-evidence-") as scratch, \
            start_mall(shops=args.shops, items_per_shop=args.items_per_shop) as mall:
        tmp = Path(scratch)
        base_url = mall.urls["netmall"]
        rates: dict[str, list[float]] = {"off": [], "on": []}
        for round_number in range(args.rounds):
            for mode in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
                archive = tmp / f"archive-{round_number}" if mode == "on" else None
                run = crawl(base_url, tmp, archive)
                rates[mode].append(run["pages"] / run["seconds"])
                print(f"  round {round_number + 1} archive {mode:3}: {run['pages']} pages in {run['seconds']:.1f} s "
                      f"= {rates[mode][-1]:.0f} pages/s", flush=True)
                if mode == "on" and round_number == 0:
                    cpu = writer_cpu_ms(archive, tmp / "writer")
                    figures.update(writer_cpu_ms_response=round(cpu["response"], 3),
                                   writer_cpu_ms_revisit=round(cpu["revisit"], 3))
                    print(f"  WARC writer CPU per page: {cpu['response']:.2f} ms (response), "
                          f"{cpu['revisit']:.2f} ms (revisit)", flush=True)
                    first_bytes, first_pages = archive_bytes(archive), run["pages"]
                    again = crawl(base_url, tmp, archive)
                    second_bytes = archive_bytes(archive) - first_bytes
                    figures["disk_kib_per_1000_pages_first"] = round(first_bytes / first_pages * 1000 / 1024, 1)
                    figures["disk_kib_per_1000_pages_unchanged"] = round(second_bytes / again["pages"] * 1000 / 1024, 1)
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        figures.update(pages_per_s_on=round(on, 1), pages_per_s_off=round(off, 1), ratio=round(on / off, 3))
        print(f"crawl pages/s (median of {args.rounds}): archive off {off:.0f}, on {on:.0f}, ratio {on / off:.2f} "
              f"(target >= 0.85)")
        print(f"disk per 1,000 pages: first crawl {figures['disk_kib_per_1000_pages_first']:.0f} KiB, "
              f"unchanged site again {figures['disk_kib_per_1000_pages_unchanged']:.0f} KiB (revisits)")
        if args.screenshots:
            archive = tmp / "archive-screens"
            crawl(base_url, tmp, archive, screenshots=args.screenshots)
            (record,) = [json.loads(path.read_text()) for path in archive.glob("*/*.screens.json")]
            seconds = [page["seconds"] for page in record["pages"]]
            if seconds:
                figures.update(screenshot_pages=len(seconds), screenshot_s_median=round(statistics.median(seconds), 2),
                               screenshot_s_max=round(max(seconds), 2))
                print(f"screenshots: {len(seconds)} lead pages, median {statistics.median(seconds):.2f} s, "
                      f"max {max(seconds):.2f} s per page (plain + marked, full page)")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
