"""CheckPipeline: the crawl's thin door onto the item path (netwatch.checks.process), counting the hits in
the crawl stats, with the crawl's own rule packs (NETWATCH_RULES_DIR)."""

from __future__ import annotations

from pathlib import Path

from scrapy.utils.test import get_crawler

from netwatch.checks.text import Hit
from netwatch.crawl.pipelines.checks import CheckPipeline
from netwatch.domain.items import Listing, ListingSeen, Review, Shop

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def pipeline(rules_dir: Path = RULES_DIR):
    crawler = get_crawler(settings_dict={"NETWATCH_RULES_DIR": str(rules_dir)})
    crawler.stats.open_spider()
    pipe = CheckPipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe, crawler


def test_listing_fields_and_reviews_are_checked_with_category_hints():
    pipe, crawler = pipeline()
    item = Listing(
        url="http://127.0.0.1/item/1", canonical_id="1", platform="netmall",
        title="象@牙 手镯", description="七天根治湿疹", specs={"材质": "象牙", "产地": "云南"},
        category_hints=["cosmetics"], reviews=[Review("很好"), Review("卖家说五星好评返5元")],
        hits=["earlier"],
    )
    assert pipe.process_item(item) is item
    assert item.hits[0] == "earlier"
    hits = item.hits[1:]
    assert all(isinstance(h, Hit) for h in hits)
    assert [(h.field, h.category) for h in hits] == [
        ("title", "banned_goods"), ("description", "false_advertising"), ("specs", "banned_goods"),
        ("review", "fake_reviews"), ("review", "fake_reviews"),
    ]
    specs_hit = hits[2]
    assert "材质: 象牙" in specs_hit.context
    stats = crawler.stats.get_stats()
    assert stats["netwatch/hits/banned_goods"] == 2
    assert stats["netwatch/hits/false_advertising"] == 1
    assert stats["netwatch/hits/fake_reviews"] == 2
    assert stats["netwatch/match/items"] == 1


def test_medical_device_listing_is_left_alone():
    pipe, crawler = pipeline()
    item = Listing(url="u", canonical_id="2", platform="netmall", title="颈椎牵引器",
                   description="用于治疗颈椎病引起的疼痛", category_hints=["medical_device"])
    pipe.process_item(item)
    assert item.hits == []
    assert crawler.stats.get_value("netwatch/match/items") == 1
    assert not any(k.startswith("netwatch/hits/") for k in crawler.stats.get_stats())


def test_shop_name_and_text_then_licence():
    pipe, crawler = pipeline()
    shop = Shop(platform="netmall", shop_id="s1", url="u", name="全网最低价 百货",
                text="本店所有商品一经售出概不退换。活动最终解释权归本店所有。")
    pipe.process_item(shop)
    assert [(h.field, h.rule) for h in shop.hits] == [
        ("shop_name", "superlative_zui"), ("shop_text", "no_return_no_exchange"), ("shop_text", "final_interpretation"),
        ("licence", "licence_not_displayed"),  # the shop shows no licence at all
    ]
    assert crawler.stats.get_value("netwatch/hits/unfair_terms") == 2
    assert crawler.stats.get_value("netwatch/hits/licence") == 1


def test_the_crawls_rules_dir_is_used(tmp_path):
    (tmp_path / "demo.yaml").write_text(
        "id: demo\ntitle: Demo\ncategory: banned_goods\nlegal_basis: [{law: 电子商务法, article: 13}]\n"
        "rules:\n  - id: only\n    keywords: [玳瑁]\n", encoding="utf-8")
    pipe, crawler = pipeline(tmp_path)
    item = pipe.process_item(Listing(url="u", canonical_id="3", platform="p", title="象牙 玳瑁 梳子"))
    assert [(h.pack, h.match) for h in item.hits] == [("demo", "玳瑁")]  # not the shipped packs' 象牙
    assert crawler.stats.get_value("netwatch/hits/banned_goods") == 1


def test_other_items_pass_through():
    pipe, crawler = pipeline()
    item = {"title": "象牙"}
    assert pipe.process_item(item) == {"title": "象牙"}
    seen = ListingSeen(platform="p", canonical_id="1", url="u", list_title="象牙")
    assert pipe.process_item(seen) is seen
    assert crawler.stats.get_value("netwatch/match/items") is None
