"""The structured checks on the item path: licence display for shops, price marks for listings; each
applies to its own item type only, and the crawl counts their hits (netwatch/hits/<category>)."""

from scrapy.utils.test import get_crawler

from netwatch.checks import process
from netwatch.checks.licence import uscc_check_char
from netwatch.crawl.pipelines.checks import CheckPipeline
from netwatch.domain.items import Listing, Shop


def pipeline():
    c = get_crawler()
    c.stats.open_spider()
    return CheckPipeline.from_crawler(c), c


def test_licence_check_flags_shops_and_leaves_listings_alone():
    pipe, c = pipeline()
    shop = pipe.process_item(Shop(platform="netmall", shop_id="1", url="http://127.0.0.1/shop/1"))
    assert [h.rule for h in shop.hits] == ["licence_not_displayed"]
    listing = Listing(url="u", canonical_id="1", platform="netmall", price=129.0)
    assert pipe.process_item(listing).hits == []
    assert c.stats.get_value("netwatch/hits/licence") == 1


def test_price_marks_check_flags_bait_prices():
    pipe, c = pipeline()
    listing = pipe.process_item(Listing(url="u", canonical_id="1", platform="netmall", price=129.0, list_price=99.0))
    assert [h.category for h in listing.hits] == ["price_fraud"]
    code = "91350100M000100Y4"
    shop = Shop(platform="netmall", shop_id="1", url="u", credit_code=code + uscc_check_char(code))
    assert pipe.process_item(shop).hits == []  # a shop with a valid licence: no price check, no licence hit
    assert c.stats.get_value("netwatch/hits/price_fraud") == 1
    assert c.stats.get_value("netwatch/hits/licence") is None


def test_process_returns_the_hits_it_appended_after_cleaning():
    listing = Listing(url="u", canonical_id="1", platform="p", title="  象牙(xiàng)  手镯 ", hits=["earlier"])
    hits = process(listing)
    assert listing.title == "象牙 手镯"  # cleaned before the rules read it; the hit is shown on the text as it came in
    assert listing.hits == ["earlier", *hits] and [(h.field, h.match, h.start) for h in hits] == [("title", "象牙", 2)]
    assert process({"title": "象牙"}) == []
