"""How fast the demo marketplace serves item pages at 100k listings, so benchmarks measure crawlers, not the mall.

    python -m bench mall                      # 1,000 shops x 100 items, 20,000 requests
    python -m bench mall -- --requests 5000   # quicker

Figures: item pages/s over HTTP (the mall in its own process, an aiohttp client with N connections here),
against a baseline measured in the same run: /robots.txt, the cheapest answer the same server gives (the
aiohttp floor). Also the in-process cost of generating one item page (no HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import aiohttp
from netwatch_fixtures.mall import MallConfig, market, pages
from netwatch_fixtures.mall.launch import start_mall


async def hammer(urls: list[str], concurrency: int) -> tuple[float, int, int]:
    """Fetch every URL with `concurrency` workers; returns (seconds, ok count, bytes)."""
    queue = list(reversed(urls))
    ok = size = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal ok, size
            while queue:
                url = queue.pop()
                async with session.get(url) as answer:
                    body = await answer.read()
                    ok += answer.status == 200
                    size += len(body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, ok, size


def item_paths(cfg: MallConfig, count: int, seed: int = 7) -> list[str]:
    """Random listings across the whole market (few repeats, so no cache helps), fault items excluded."""
    chooser = random.Random(seed)
    faults = set(market.fault_ids(cfg).values())
    paths = []
    while len(paths) < count:
        value = market.item_id(chooser.randrange(cfg.shops), chooser.randrange(cfg.items_per_shop))
        if value not in faults:
            paths.append(f"/item/{value}")
    return paths


def generation_cost(cfg: MallConfig, paths: list[str]) -> float:
    """Microseconds to build one item page in-process (cold caches: ids not seen before)."""
    started = time.perf_counter()
    built = 0
    for path in paths:
        item = market.listing(cfg, int(path.rsplit("/", 1)[1]))
        if item is not None:
            pages.item_page(cfg, item).encode()
            built += 1
    return (time.perf_counter() - started) / max(built, 1) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_mall")
    parser.add_argument("--shops", type=int, default=1000)
    parser.add_argument("--items-per-shop", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    cfg = MallConfig(shops=args.shops, items_per_shop=args.items_per_shop)
    paths = item_paths(cfg, args.requests)
    cost = generation_cost(cfg, item_paths(cfg, 2000, seed=99))
    print(f"market: {args.shops} shops x {args.items_per_shop} items = {args.shops * args.items_per_shop:,} listings")
    print(f"generate one item page in-process: {cost:.0f} us ({1e6 / cost:,.0f} pages/s on one core)")
    with start_mall(shops=args.shops, items_per_shop=args.items_per_shop) as mall:
        base = mall.urls["netmall"]
        asyncio.run(hammer([base + p for p in paths[:500]], args.concurrency))  # warm-up: connections, imports
        floor_seconds, floor_ok, _ = asyncio.run(hammer([base + "/robots.txt"] * args.requests, args.concurrency))
        seconds, ok, size = asyncio.run(hammer([base + p for p in paths], args.concurrency))
    if ok != len(paths) or floor_ok != args.requests:
        print(f"FAILED: {ok}/{len(paths)} item pages and {floor_ok}/{args.requests} robots.txt answered 200")
        return 1
    rate, floor = ok / seconds, floor_ok / floor_seconds
    print(f"baseline /robots.txt over HTTP: {floor:,.0f} requests/s ({args.concurrency} connections)")
    print(f"item pages over HTTP: {rate:,.0f} requests/s, {size / seconds / 1e6:.1f} MB/s, "
          f"{size / ok / 1024:.1f} KB a page")
    print(f"ratio item pages / baseline: {rate / floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
