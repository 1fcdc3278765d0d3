"""Extraction without a profile (what the generic spider and `netwatch scan` do per page): CPU ms per page on
the demo marketplace's saved pages, whole (markup, embedded state, heuristics, page-kind score) and by part, so
a change that makes one part slower shows where. CPU time (time.process_time): other load matters less.

    python -m bench.bench_extract [--rounds 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from netwatch.extract import Page
from netwatch.extract.embedded import embedded_fields
from netwatch.extract.heuristics import heuristic_fields
from netwatch.extract.listing import listing_fields
from netwatch.extract.pagekind import classify_page, grid_links
from netwatch.extract.structured import structured_sources

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


def _ms_per_page(bodies: list[bytes], step, rounds: int) -> float:
    pages = [Page(url="http://127.0.0.1/item/1", body=body) for body in bodies]
    for page in pages:  # parsing is shared by every part: measured once, as "parse"
        page.selector  # noqa: B018 - the cached parse
    started = time.process_time()
    for _ in range(rounds):
        for page in pages:
            step(page)
    return (time.process_time() - started) / (rounds * len(pages)) * 1000


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="bench_extract")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv or [])
    bodies = [path.read_bytes() for path in sorted(PAGES.glob("*.html"))]
    started = time.process_time()
    for _ in range(args.rounds):
        for body in bodies:
            Page(url="http://127.0.0.1/item/1", body=body).selector  # noqa: B018 - decode and parse
    figures = {"parse": (time.process_time() - started) / (args.rounds * len(bodies)) * 1000}
    figures["structured data"] = _ms_per_page(bodies, structured_sources, args.rounds)
    figures["embedded state"] = _ms_per_page(bodies, lambda p: embedded_fields(p.text), args.rounds)
    figures["heuristics"] = _ms_per_page(bodies, lambda p: heuristic_fields(p.selector), args.rounds)
    figures["page-kind score"] = _ms_per_page(bodies, lambda p: classify_page(p.selector, 0, buy_controls=1),
                                              args.rounds)
    figures["grid links"] = _ms_per_page(bodies, lambda p: grid_links(p.selector), args.rounds)
    figures["whole (after parse)"] = _ms_per_page(bodies, listing_fields, args.rounds)
    print(f"{len(bodies)} saved pages, {args.rounds} rounds, CPU ms per page:")
    for name, value in figures.items():
        print(f"  {name:22s} {value:7.2f}")
    return figures


if __name__ == "__main__":
    main()
