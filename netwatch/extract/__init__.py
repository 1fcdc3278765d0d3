"""Page → fields. No Scrapy here: spiders, `netwatch scan` and tests call the same functions."""

from __future__ import annotations

from netwatch.extract.encoding import decode_body
from netwatch.extract.fields import FieldSpecError, extract_field, extract_fields
from netwatch.extract.listing import extract_listing, extract_shop, item_id_from_url, make_review
from netwatch.extract.page import Page
from netwatch.extract.prices import parse_price

__all__ = [
    "FieldSpecError", "Page", "decode_body", "extract_field", "extract_fields", "extract_listing", "extract_shop",
    "item_id_from_url", "make_review", "parse_price",
]
