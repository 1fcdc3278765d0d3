"""MatchPipeline: a thin adapter from items to the rule engine, counting hits in the crawl stats."""

from __future__ import annotations

from pathlib import Path

from scrapy.utils.test import get_crawler

from netwatch.domain.items import Listing, Review, Shop
from netwatch.crawl.pipelines.match import MatchPipeline
from netwatch.checks.text import Hit

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def pipeline():
    crawler = get_crawler(settings_dict={"NETWATCH_RULES_DIR": str(RULES_DIR)})
    return MatchPipeline.from_crawler(crawler), crawler


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


def test_shop_name_and_text():
    pipe, crawler = pipeline()
    shop = Shop(platform="netmall", shop_id="s1", url="u", name="全网最低价 百货",
                text="本店所有商品一经售出概不退换。活动最终解释权归本店所有。")
    pipe.process_item(shop)
    assert [(h.field, h.rule) for h in shop.hits] == [
        ("shop_name", "superlative_zui"), ("shop_text", "no_return_no_exchange"), ("shop_text", "final_interpretation"),
    ]
    assert crawler.stats.get_value("netwatch/hits/unfair_terms") == 2


def test_other_items_pass_through():
    pipe, _ = pipeline()
    item = {"title": "象牙"}
    assert pipe.process_item(item) == {"title": "象牙"}
