"""CheckPipeline: the crawl's door onto the one item path (netwatch.checks.process: clean text -> text
rules -> shop licence -> price marks), the same steps `netwatch scan` and `netwatch import` run. It only
picks the crawl's rule packs and counts what the path found in the crawl stats: netwatch/match/items
(items checked) and netwatch/hits/<category>."""

from __future__ import annotations

from netwatch.checks import CHECKED_TYPES, process
from netwatch.checks.text import RuleEngine, default_engine


class CheckPipeline:
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
        if isinstance(item, CHECKED_TYPES):
            self.stats.inc_value("netwatch/match/items")
            for hit in process(item, self.engine):
                self.stats.inc_value(f"netwatch/hits/{hit.category}")
        return item
