"""Review-signal throughput, memory and growth; duplicate detection against datasketch objects and
against exact + pairwise shingle comparison; precision and recall per signal on the demo marketplace.

    python bench/bench_reviews.py                      # 10k, 100k, 1M reviews (1,000 listings per 100k)
    python bench/bench_reviews.py --sizes 10000 100000 --mall-shops 200
    python -m bench reviews -- --quick                 # 10k and 100k, small mall

Each size runs in its own child process, so the peak memory printed is that size's alone. Times are
CPU seconds of one core (time.process_time), the figure the goal is stated in.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from netwatch.domain.items import Listing, Review  # noqa: E402

WORDS = ("质量 物流 包装 颜色 尺码 客服 价格 做工 味道 分量 快递 面料 手感 效果 电池 屏幕 声音 味儿 款式 大小 厚度 "
         "不错 一般 偏大 偏小 很快 很慢 满意 失望 推荐 回购 划算 值得 正品 实惠 舒服 结实 好看 清晰 耐用 还行 "
         "孩子 老人 朋友 同事 家里 第一次 第二次 上周 昨天 今天 双十一 活动 优惠 赠品 发票 说明书 安装 售后").split()
TEMPLATES = ["宝贝收到了，质量非常好，和描述的一样，物流也很快，五星推荐！", "东西很好，卖家服务态度也很好，下次还来光顾",
             "非常满意的一次购物，包装精美，质量上乘，值得信赖"]
GENERIC = ["好评", "不错", "很好", "满意", "好", "挺好的", "赞", "五星"]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def synthetic_market(reviews: int, per_listing: int = 100, listings_per_shop: int = 10, seed: int = 7) -> list[Listing]:
    """Genuine varied reviews over two months; one listing in twenty is brushed (copies, a burst, a run)."""
    r = random.Random(seed)
    items = []
    count = max(1, reviews // per_listing)
    for n in range(count):
        item = Listing(url=f"http://bench/item/{n}", canonical_id=str(n), platform="bench",
                       shop_id=str(n // listings_per_shop))
        brushed = n % 20 == 7
        for k in range(per_listing):
            if brushed and k >= per_listing - 40:
                kind = k % 3
                if kind == 0:  # the same text, or nearly: one character dropped or doubled
                    text = r.choice(TEMPLATES)
                    cut = r.randrange(len(text))
                    text = r.choice((text, text[:cut] + text[cut + 1:], text[:cut] + text[cut] + text[cut:]))
                else:
                    text = r.choice(GENERIC) if kind == 1 else "".join(r.choice(WORDS) for _ in range(4))
                when = T0 + timedelta(days=50, minutes=k)
                rating = 5
            else:
                words = [r.choice(WORDS) for _ in range(r.randint(3, 14))]
                text = "，".join("".join(words[i:i + 3]) for i in range(0, len(words), 3))
                when = T0 + timedelta(days=r.uniform(0, 60))
                rating = r.choice((5, 5, 4, 4, 3, 2, 1))
            item.reviews.append(Review(text, f"u{r.randrange(reviews)}", rating, when.isoformat(), f"{n}-{k}"))
        items.append(item)
    return items


def child(size: int, batch: bool) -> dict:
    """One size, in this process: build data, then time the crawl path (assess per listing, shop context
    growing as it goes) and, if `batch`, the import path (whole file observed first)."""
    from netwatch.analysis.reviews import ReviewSignalScorer

    items = synthetic_market(size)
    scorer = ReviewSignalScorer()
    scorer.assess(Listing(url="x", canonical_id="warm", platform="warm", reviews=[Review("预热")]))  # engine, tables
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.process_time()
    leads = sum(1 for item in items if scorer.to_hit(scorer.assess(item)) is not None)
    streaming = time.process_time() - t
    batch_s, batch_leads = None, None
    if batch:
        config, phrase_check = scorer.config, scorer.phrase_check
        del scorer  # the batch run below starts from nothing, as an import does
        batch_scorer = ReviewSignalScorer(config, phrase_check)
        t = time.process_time()
        batch_scorer.observe(items)
        batch_leads = sum(1 for item in items
                          if batch_scorer.to_hit(batch_scorer.assess(item, observed=True)) is not None)
        batch_s = time.process_time() - t
    return {"size": size, "listings": len(items), "streaming_s": streaming, "batch_s": batch_s, "leads": leads,
            "batch_leads": batch_leads, "brushed": sum(1 for n in range(len(items)) if n % 20 == 7),
            "rss_before_mb": rss_before, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(size: int, batch: bool) -> dict:
    command = [sys.executable, __file__, "--child", str(size)] + (["--batch"] if batch else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def dedup_baselines(size: int) -> dict:
    """Near-duplicate pairs within each listing: our vectorised MinHash + bands, datasketch MinHash objects +
    MinHashLSH, and exact Jaccard over all pairs. Times cover signatures/index/query only."""
    from datasketch import MinHash, MinHashLSH

    from netwatch.analysis.reviews.config import default_signal_config
    from netwatch.analysis.reviews.shop_context import ShopContext
    from netwatch.analysis.reviews.text import jaccard, minhash_signatures, normalize_text, shingles

    cfg = default_signal_config().duplicate
    items = synthetic_market(size)
    keys = [[normalize_text(rv.text) for rv in item.reviews] for item in items]
    keys = [[k for k in ks if len(k) >= cfg.min_chars] for ks in keys]
    weights = (0.1, 0.9)  # as netwatch.analysis.reviews.scoring: few missed pairs, candidates verified exactly
    lsh_params = MinHashLSH(threshold=cfg.similarity, num_perm=cfg.num_perm, weights=weights)

    def pairs_from(near) -> set:
        return {(n, a, b) for n, ks in enumerate(keys) for a in set(ks) for b in near(n, a) if a < b}

    t = time.process_time()
    contexts = []
    for n, ks in enumerate(keys):
        distinct = list(dict.fromkeys(ks))
        sig = minhash_signatures([shingles(k, cfg.shingle_chars) for k in distinct], cfg.num_perm)
        ctx = ShopContext(lsh_params.b, lsh_params.r, cfg.shingle_chars, cfg.similarity, 10**9)
        ctx.add(str(n), [(k, str(i)) for i, k in enumerate(ks)], {k: sig[i] for i, k in enumerate(distinct)})
        contexts.append(ctx)
    ours_pairs = pairs_from(lambda n, a: contexts[n].near_keys(a))
    ours = time.process_time() - t

    t = time.process_time()
    indexes = []
    for ks in keys:
        lsh = MinHashLSH(threshold=cfg.similarity, num_perm=cfg.num_perm, weights=weights)
        sets = {}
        for k in dict.fromkeys(ks):
            m = MinHash(num_perm=cfg.num_perm)
            m.update_batch([s.encode("utf-8") for s in shingles(k, cfg.shingle_chars)])
            sets[k] = (m, shingles(k, cfg.shingle_chars))
            lsh.insert(k, m)
        indexes.append((lsh, sets))

    def ds_near(n, a):
        lsh, sets = indexes[n]
        return {b for b in lsh.query(sets[a][0]) if b != a and jaccard(sets[a][1], sets[b][1]) >= cfg.similarity}

    ds_pairs = pairs_from(ds_near)
    datasketch_s = time.process_time() - t

    t = time.process_time()
    exact_pairs = set()
    for n, ks in enumerate(keys):
        distinct = list(dict.fromkeys(ks))
        sh = [shingles(k, cfg.shingle_chars) for k in distinct]
        for i in range(len(distinct)):
            for j in range(i + 1, len(distinct)):
                if jaccard(sh[i], sh[j]) >= cfg.similarity:
                    a, b = sorted((distinct[i], distinct[j]))
                    exact_pairs.add((n, a, b))
    exact_s = time.process_time() - t
    return {"size": size, "ours_s": ours, "datasketch_s": datasketch_s, "all_pairs_s": exact_s,
            "pairs_true": len(exact_pairs), "ours_recall": len(ours_pairs & exact_pairs) / max(len(exact_pairs), 1),
            "datasketch_recall": len(ds_pairs & exact_pairs) / max(len(exact_pairs), 1),
            "ours_extra": len(ours_pairs - exact_pairs)}


def mall_listings(shops: int, items_per_shop: int, seed: int = 1, day: int = 0):
    """The demo marketplace's listings with their reviews as its API serves them on `day`, from its generator."""
    from netwatch_fixtures.mall import MallConfig, manifest, market

    cfg = MallConfig(seed=seed, shops=shops, items_per_shop=items_per_shop, day=day)
    truth = {e["id"]: e for e in manifest(cfg)["entries"] if e["site"] == "netmall" and e["kind"] == "listing"}
    items, kinds = [], {}
    for index in range(cfg.shops):
        owner = market.shop(cfg, index)
        for value in market.shop_listing_ids(cfg, index):
            source = market.listing(cfg, value)
            if source is None:
                continue
            reviews = [Review(rv["content"], rv["user"], rv["rating"], rv["time"], rv["id"])
                       for rv in market.all_reviews(cfg, source) if rv["offset"] <= cfg.day]
            items.append(Listing(url=f"http://127.0.0.1/item/{value}", canonical_id=str(value), platform="netmall",
                                 shop_id=str(owner.shop_id), title=source.title, description=source.description,
                                 category_hints=[source.category], reviews=reviews))
            kinds[str(value)] = source.reviews_kind
    return items, kinds, truth


# Which planted review mechanism each signal is meant to find.
INTENDED = {"phrase": {"cash"}, "duplicate": {"duplicate"}, "burst": {"burst"}, "short_praise_run": {"generic_run"},
            "ring": set()}


def mall_figures(shops: int, items_per_shop: int) -> dict:
    from netwatch.analysis.reviews import SIGNALS, ReviewSignalScorer
    from netwatch.checks.text import default_engine

    items, kinds, truth = mall_listings(shops, items_per_shop)
    engine = default_engine()
    for item in items:  # what the match step does before the review signals
        item.hits.extend(engine.check_fields({"title": item.title, "description": item.description},
                                             item.category_hints))
    scorer = ReviewSignalScorer()
    fired: dict[str, set[str]] = defaultdict(set)
    leads = set()
    for item in items:
        result = scorer.apply(item)
        for signal in result.signals:
            fired[signal].add(item.canonical_id)
        if any(h.category == "fake_reviews" for h in item.hits):
            leads.add(item.canonical_id)
    planted = {i for i, e in truth.items() if "fake_reviews" in e["categories"]}
    rows = {}
    for signal in SIGNALS:
        intended = {i for i, k in kinds.items() if k in INTENDED[signal]}
        hit = fired[signal]
        rows[signal] = {"fired": len(hit), "intended": len(intended),
                        "recall": len(hit & intended) / len(intended) if intended else None,
                        "precision": len(hit & planted) / len(hit) if hit else None,
                        "false_on_genuine": sorted(hit - planted)[:5]}
    traps = {i for i, e in truth.items() if not e["categories"]}
    return {"listings": len(items), "reviews": sum(len(i.reviews) for i in items), "planted_fake_reviews": len(planted),
            "signals": rows, "lead_recall": len(leads & planted) / max(len(planted), 1),
            "lead_precision": len(leads & planted) / max(len(leads), 1), "missed": sorted(planted - leads),
            "false_leads": sorted(leads - planted), "traps_flagged": sorted(leads & traps),
            "review_kinds_in_leads": sorted({kinds[i] for i in leads})}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dedup-sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--mall-shops", type=int, default=100)
    parser.add_argument("--mall-items", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only, small mall (about a minute)")
    parser.add_argument("--batch-max", type=int, default=100_000, help="largest size also timed on the import path")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.dedup_sizes, args.mall_shops, args.mall_items = [10_000, 100_000], [10_000], 12, 10
    if args.child:
        print(json.dumps(child(args.child, args.batch)))
        return

    print("== review analysis throughput (one core, CPU seconds; each size in its own process) ==")
    results = []
    for size in args.sizes:
        res = run_child(size, size <= args.batch_max)
        results.append(res)
        batch = f"{res['batch_s']:7.2f} s" if res["batch_s"] is not None else "    (skipped)"
        print(f"{size:>9,} reviews / {res['listings']:>6,} listings: crawl path {res['streaming_s']:7.2f} s "
              f"({size / res['streaming_s']:>8,.0f} reviews/s), import path {batch}; "
              f"peak RSS {res['peak_rss_mb']:6.0f} MB (before scoring: libraries, rules, data {res['rss_before_mb']:.0f} MB); "
              f"leads {res['leads']} (import path {res['batch_leads']}) of {res['brushed']} brushed")
    for a, b in zip(results, results[1:]):
        print(f"growth {a['size']:,} -> {b['size']:,} reviews (x{b['size'] / a['size']:.0f}): "
              f"time x{b['streaming_s'] / a['streaming_s']:.1f} (linear would be x{b['size'] / a['size']:.0f})")
    for res in results:
        if res["size"] == 100_000:
            ok = res["streaming_s"] <= 30 and res["peak_rss_mb"] <= 1024
            print(f"goal at 100k (<= 30 s, <= 1 GB): {'met' if ok else 'NOT met'}")

    print("\n== near-duplicate detection within listings (signatures + index + queries) ==")
    for size in args.dedup_sizes:
        d = dedup_baselines(size)
        print(f"{size:>9,} reviews: ours (numpy MinHash + bands) {d['ours_s']:.2f} s; datasketch MinHash objects + "
              f"MinHashLSH {d['datasketch_s']:.2f} s (ratio x{d['datasketch_s'] / d['ours_s']:.1f}); exact Jaccard "
              f"over all pairs {d['all_pairs_s']:.2f} s (x{d['all_pairs_s'] / d['ours_s']:.1f}); recall vs all pairs: "
              f"ours {d['ours_recall']:.3f}, datasketch {d['datasketch_recall']:.3f} of {d['pairs_true']} pairs; "
              f"ours false pairs {d['ours_extra']}")

    print(f"\n== demo marketplace ({args.mall_shops} shops x {args.mall_items} items, seed 1, day 0) ==")
    m = mall_figures(args.mall_shops, args.mall_items)
    print(f"{m['listings']} listings, {m['reviews']} reviews, {m['planted_fake_reviews']} planted fake_reviews listings")
    for signal, row in m["signals"].items():
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"  {signal:<17} fired on {row['fired']:>4}; recall on its planted kind {fmt(row['recall'])} "
              f"({row['intended']} planted); precision {fmt(row['precision'])}"
              + (f"; on genuine: {row['false_on_genuine']}" if row["false_on_genuine"] else ""))
    print(f"  fake_reviews leads (rule pack + review signals): recall {m['lead_recall']:.2f}, precision "
          f"{m['lead_precision']:.2f}; missed {m['missed']}; false {m['false_leads']}; traps flagged {m['traps_flagged']}")


if __name__ == "__main__":
    main()
