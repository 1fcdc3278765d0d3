"""Pipeline step 1: clean scraped noise out of every text field before the rules read it."""

from __future__ import annotations

from netwatch.domain.text import clean_text
from netwatch.domain.items import Listing, Shop


class NormalizePipeline:
    def process_item(self, item):
        if isinstance(item, Listing):
            item.title = clean_text(item.title)
            item.description = clean_text(item.description)
            item.shop_name = clean_text(item.shop_name)
            item.specs = {clean_text(k) or k: clean_text(v) or "" for k, v in item.specs.items()}
            for review in item.reviews:
                review.text = clean_text(review.text) or ""
        elif isinstance(item, Shop):
            item.name = clean_text(item.name)
            item.text = clean_text(item.text)
            item.licence_text = clean_text(item.licence_text)
        return item
