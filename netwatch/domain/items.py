"""The items every part of netwatch passes around: one definition, used by spiders, import, scan and store.

Plain dataclasses (Scrapy handles them through itemadapter). Prices are floats in the listing's
currency; times are ISO 8601 strings in UTC. `hits` are filled by the item path
(netwatch.checks.process: netwatch.checks.text.Hit objects) and turned into leads by the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Shop:
    platform: str  # site/platform id, e.g. "netmall" or a self-built site's host
    shop_id: str
    url: str
    name: str | None = None
    licence_text: str | None = None  # the business-licence block as displayed
    credit_code: str | None = None  # 统一社会信用代码 as displayed (may be invalid or missing)
    food_licence: str | None = None  # 食品经营许可证 number as displayed, for food shops
    contact: str | None = None
    text: str | None = None  # other visible shop text (notices, terms) the rules read
    is_food: bool = False  # the shop sells food (then a food licence must be shown)
    fetched_at: str | None = None
    hits: list[Any] = field(default_factory=list)
    # (kind, normalised value, as shown) the item path read from the shop's text (netwatch.checks.identities)
    identifiers: list[Any] = field(default_factory=list)
    capture: dict[str, Any] | None = None  # the page's WARC record (netwatch.domain.capture.RecordPointer as a dict)


@dataclass
class Review:
    text: str
    reviewer: str | None = None
    rating: float | None = None
    time: str | None = None  # ISO 8601
    review_id: str | None = None


@dataclass
class Listing:
    url: str
    canonical_id: str  # stable id of the listing on its platform (item id, or the canonical URL)
    platform: str
    shop_id: str | None = None
    shop_name: str | None = None
    title: str | None = None
    price: float | None = None
    currency: str | None = None
    original_price: float | None = None  # comparison price (原价 / 划线价)
    list_price: float | None = None  # the price a list or front page shows for it (must not undercut the detail page)
    list_title: str | None = None  # the title the list page shows beside its link (incremental crawls compare it)
    description: str | None = None
    specs: dict[str, str] = field(default_factory=dict)
    category_hints: list[str] = field(default_factory=list)  # e.g. ["food"], ["cosmetics"], ["medical_device"]
    images: list[str] = field(default_factory=list)
    fetched_at: str | None = None
    content_hash: str | None = None  # sha256 of the page body as fetched
    etag: str | None = None  # the page's ETag validator, for a conditional re-fetch
    reviews: list[Review] = field(default_factory=list)
    hits: list[Any] = field(default_factory=list)
    capture: dict[str, Any] | None = None  # the page's WARC record (netwatch.domain.capture.RecordPointer as a dict)


@dataclass
class ListingSeen:
    """A known listing seen on a list page, unchanged there, whose page an incremental crawl did not fetch
    again: the store records it as seen in this run (not delisted; its open leads recurring)."""

    platform: str
    canonical_id: str
    url: str
    list_price: float | None = None
    list_title: str | None = None
    revalidated: bool = False  # its page was asked for again and answered 304 Not Modified: fetched as of now
