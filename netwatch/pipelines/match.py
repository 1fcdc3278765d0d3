"""Pipeline step: run the rule packs over each listing's and shop's text (see netwatch.rules).

Listings: title, description, specs (as "key: value" lines) and each review (field `review`), with the
listing's category hints as product categories. Shops: name (`shop_name`) and text (`shop_text`).
Hits are appended to `item.hits` and counted in the crawl stats as netwatch/hits/<category>.
"""

from __future__ import annotations

from itemadapter import ItemAdapter

from netwatch.items import Listing, Shop
from netwatch.rules import Hit, RuleEngine, default_engine


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

    def process_item(self, item):
        adapter = ItemAdapter(item)
        if isinstance(item, Listing):
            hits = self.listing_hits(adapter)
        elif isinstance(item, Shop):
            hits = self.engine.check_fields({"shop_name": adapter.get("name"), "shop_text": adapter.get("text")})
        else:
            return item
        adapter["hits"] = list(adapter.get("hits") or []) + hits
        self.stats.inc_value("netwatch/match/items")
        for hit in hits:
            self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item

    def listing_hits(self, adapter: ItemAdapter) -> list[Hit]:
        categories = tuple(adapter.get("category_hints") or ())
        specs = adapter.get("specs") or {}
        fields = {
            "title": adapter.get("title"),
            "description": adapter.get("description"),
            "specs": "\n".join(f"{key}: {value}" for key, value in specs.items()),
        }
        hits = self.engine.check_fields(fields, categories)
        for review in adapter.get("reviews") or ():
            text = review.get("text") if isinstance(review, dict) else getattr(review, "text", None)
            hits.extend(self.engine.check(text, "review", categories))
        return hits
