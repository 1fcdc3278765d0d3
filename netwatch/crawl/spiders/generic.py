"""The generic spider: any self-built shop from one start URL, with no profile and no code.

Finds product pages by the site's sitemaps (robots.txt, /sitemap.xml) and by following links on the
same site (pagination first); a page is a product when its markup or heuristics say so.

    scrapy crawl generic -a start_url=https://shop.example.cn/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor

from netwatch.crawl.spiders.base import NetwatchSpider, host_of, is_html, page_from_response
from netwatch.extract import extract_listing

# Pagination links are followed before other links, so listings are reached early.
_NEXT_PAGE_CSS = "a[rel=next], a.next, link[rel=next]"


class GenericSpider(NetwatchSpider):
    name = "generic"
    # Without a profile a site's shops are unknown: listings carry no shop, so its coverage is not checked.
    custom_settings = {**NetwatchSpider.custom_settings, "DEPTH_LIMIT": 10, "NETWATCH_COVERAGE_FIELDS": ["title", "price"]}

    def __init__(self, start_url: str | None = None, platform: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        urls = [u for u in (start_url or "").split(",") if u.strip()]
        if not urls:
            raise ValueError("the generic spider needs -a start_url=URL (several: comma-separated)")
        self.start_urls = [u.strip() for u in urls]
        self.allowed_domains = sorted({host_of(u) for u in self.start_urls})
        self.platform = platform or ""
        # Not LinkExtractor(allow_domains=…): it compares host:port, so sites on a port never match.
        self.links = LinkExtractor()

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.sitemap_request(urljoin(url, "/robots.txt"))
            yield self.sitemap_request(urljoin(url, "/sitemap.xml"))
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, meta={"netwatch_start": True},
                                 dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not is_html(response):
            return
        listing = extract_listing(page_from_response(response), self.platform or None)
        if listing is not None:
            yield listing
        for link in response.css(_NEXT_PAGE_CSS).xpath("@href").getall():
            yield response.follow(link, callback=self.parse, errback=self.on_error, priority=10)
        for link in self.links.extract_links(response):
            if host_of(link.url) in self.allowed_domains:
                yield scrapy.Request(link.url, callback=self.parse, errback=self.on_error)
