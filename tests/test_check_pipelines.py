"""The structured-check pipelines apply their check to their own item type only and count the hits."""

from scrapy.utils.test import get_crawler

from netwatch.domain.items import Listing, Shop
from netwatch.crawl.pipelines.checks import LicencePipeline, PriceMarksPipeline


def crawler():
    c = get_crawler()
    c.stats.open_spider()
    return c


def test_licence_pipeline_flags_shops_and_leaves_listings_alone():
    c = crawler()
    pipe = LicencePipeline.from_crawler(c)
    shop = pipe.process_item(Shop(platform="netmall", shop_id="1", url="http://127.0.0.1/shop/1"))
    assert [h.rule for h in shop.hits] == ["licence_not_displayed"]
    listing = Listing(url="u", canonical_id="1", platform="netmall", price=129.0, list_price=99.0)
    assert pipe.process_item(listing).hits == []
    assert c.stats.get_value("netwatch/hits/licence") == 1


def test_price_marks_pipeline_flags_bait_prices():
    c = crawler()
    pipe = PriceMarksPipeline.from_crawler(c)
    listing = pipe.process_item(Listing(url="u", canonical_id="1", platform="netmall", price=129.0, list_price=99.0))
    assert [h.category for h in listing.hits] == ["price_fraud"]
    assert pipe.process_item(Shop(platform="netmall", shop_id="1", url="u")).hits == []
    assert c.stats.get_value("netwatch/hits/price_fraud") == 1
