"""Seller networks: identifiers read per second (netwatch.checks.identities), what writing them adds to a shop
batch (the same shops saved without identifiers, measured in the same run, is the baseline), and the time to
regroup every shop (union-find over the shared identifiers) after a run.

    python -m bench.bench_networks [--shops 20000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from netwatch.checks.identities import shop_identifiers
from netwatch.domain.items import Shop
from netwatch.store import Store

BATCH = 500


def make_shops(count: int) -> list[Shop]:
    """Shops whose contact blocks draw phones and QQ ids from pools twice their number: many small groups."""
    rng = random.Random(7)
    phones = [f"010-{rng.randrange(2000, 9999)} {rng.randrange(1000, 9999)}" for _ in range(count * 2)]
    qqs = [str(rng.randrange(10**7, 10**9)) for _ in range(count * 2)]
    return [Shop(platform="bench", shop_id=str(n), url=f"http://bench/shop/{n}", name=f"店铺{n}",
                 contact=f"客服电话：{rng.choice(phones)}　ＱＱ：{rng.choice(qqs)}　邮箱 s{n}@example.cn")
            for n in range(count)]


def save(url: str, shops: list[Shop]) -> float:
    with Store(url) as store:
        run_id = store.start_run("bench")
        started = time.perf_counter()
        for first in range(0, len(shops), BATCH):
            store.save_batch(run_id, shops[first:first + BATCH])
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=20_000)
    args = parser.parse_args(argv)
    shops = make_shops(args.shops)
    started = time.perf_counter()
    for shop in shops:
        shop.identifiers = [tuple(found) for found in shop_identifiers(shop)]
    read_s = time.perf_counter() - started
    bare = [Shop(platform=s.platform, shop_id=s.shop_id, url=s.url, name=s.name, contact=s.contact) for s in shops]
    with tempfile.TemporaryDirectory() as tmp:
        baseline_s = save(f"sqlite:///{Path(tmp) / 'bare.db'}", bare)
        url = f"sqlite:///{Path(tmp) / 'networks.db'}"
        with_ids_s = save(url, shops)
        with Store(url) as store:
            started = time.perf_counter()
            groups = store.refresh_seller_groups()
            group_s = time.perf_counter() - started
    figures = {"shops": args.shops, "identifiers_per_s": round(sum(len(s.identifiers) for s in shops) / read_s),
               "shops_read_per_s": round(args.shops / read_s), "save_baseline_s": round(baseline_s, 2),
               "save_with_identifiers_s": round(with_ids_s, 2), "groups": groups, "regroup_s": round(group_s, 2)}
    for name, value in figures.items():
        print(f"{name:>26}: {value}")
    return figures


if __name__ == "__main__":
    main()
