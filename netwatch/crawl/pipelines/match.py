"""Pipeline step: run the rule packs over each listing's and shop's text (see netwatch.checks.text).

Listings: title, description, specs (as "key: value" lines) and each review (field `review`), with the
listing's category hints as product categories. Shops: name (`shop_name`) and text (`shop_text`).
Hits are appended to `item.hits` and counted in the crawl stats as netwatch/hits/<category>.
"""

from __future__ import annotations

from netwatch.domain.items import Listing, Shop
from netwatch.checks.text import Hit, RuleEngine, default_engine


class MatchPipeline:
    def __init__(self, stats, engine: RuleEngine):
        self.stats = stats
        self.engine = engine

    @classmethod
    def from_crawler(cls, crawler):
        # NETWATCH_RULES_DIR as a setting lets one crawl use other packs than the process default.
        rules_dir = crawler.settings.get("NETWATCH_RULES_DIR")
        engine = RuleEngine.from_dir(rules_dir) if rules_dir else default_engine()
        return cls(crawler.stats, engine)

    def open_spider(self):
        # Before the first page, not on the first word-boundary hit: that would stall every download for ~1 s.
        self.engine.prepare()

    def process_item(self, item):
        if isinstance(item, Listing):
            hits = self.listing_hits(item)
        elif isinstance(item, Shop):
            hits = self.engine.check_fields({"shop_name": item.name, "shop_text": item.text})
        else:
            return item
        item.hits.extend(hits)
        self.stats.inc_value("netwatch/match/items")
        for hit in hits:
            self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item

    def listing_hits(self, listing: Listing) -> list[Hit]:
        categories = frozenset(listing.category_hints or ())
        fields = {
            "title": listing.title,
            "description": listing.description,
            "specs": "\n".join(f"{key}: {value}" for key, value in (listing.specs or {}).items()),
        }
        hits = self.engine.check_fields(fields, categories)
        for review in listing.reviews or ():
            text = review.get("text") if isinstance(review, dict) else getattr(review, "text", None)
            hits.extend(self.engine.check(text, "review", categories))
        return hits
