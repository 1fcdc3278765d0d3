"""The generic spider: any self-built shop from one start URL, with no profile and no code.

Finds product pages by the site's sitemaps (robots.txt, /sitemap.xml, gzipped or indexed) and by following
links on the same site. A page is stored only when its score says it is one product (netwatch.extract.pagekind);
listing and category pages are read for their links and never stored. Links are visited product and pagination
first, categories next; facets, sorting, filters, review forms, cart, account and login links never (on a shop
engine they multiply one catalogue page into hundreds and show the same products again).

What a page gives is netwatch.extract.any_shop's (shared with `netwatch rescan`): a page names its own URL with
<link rel=canonical> or og:url, and the listing is stored under that URL; a page whose canonical is another page
of the site (a facet variant, a tracking parameter) is not a second listing: the canonical page is fetched
instead. A canonical that redirects back to the page that named it (a shop engine
whose canonical is an alias of its product URL) leaves that page as the listing, under its own URL.

    scrapy crawl generic -a start_url=https://shop.example.cn/
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor

from netwatch.crawl.archive import CAPTURE_META
from netwatch.crawl.spiders.base import NetwatchSpider, host_of, is_html, page_from_response
from netwatch.extract.any_shop import NEVER, host_aliases, on_site, read_shop_page, same_page
from netwatch.extract.pagekind import grid_links

PRODUCT_PRIORITY, PAGINATION_PRIORITY, CATEGORY_PRIORITY = 30, 20, 0
REDIRECTS = (301, 302, 303, 307, 308)
# A canonical request's meta: the page that named it, and that page's listing should the canonical lead back.
CANONICAL_OF_META, FALLBACK_META = "netwatch_canonical_of", "netwatch_canonical_fallback"
_NEXT_PAGE_CSS = "a[rel=next], a.next, link[rel=next], li.next a, .pagination a, .pager a"
_PAGINATION = re.compile(r"[?&](?:page|p|pg|pageno|page_no|pagenum|start|offset)=\d+|/page/\d+/?$", re.IGNORECASE)
_PRODUCT_URL = re.compile(
    r"/(?:product|products|item|items|goods|detail|dp|p|catalogue/[^/]+_\d+)/|item\.htm|/item/|[?&](?:id|item_?id|"
    r"product_?id|goods_?id)=\w", re.IGNORECASE,
)


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
        self.site_hosts = set().union(*(host_aliases(host_of(u)) for u in self.start_urls))
        # Scrapy's offsite filter allows these and their subdomains; the spider checks exact hosts itself.
        self.allowed_domains = sorted(h for h in self.site_hosts if h != "::1")
        self.platform = platform or ""
        # Not LinkExtractor(allow_domains=…): it compares host:port, so sites on a port never match.
        self.links = LinkExtractor(deny=NEVER.pattern)

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.sitemap_request(urljoin(url, "/robots.txt"))
            yield self.sitemap_request(urljoin(url, "/sitemap.xml"))
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, meta={"netwatch_start": True},
                                 dont_filter=True)

    def on_site(self, url: str) -> bool:
        return on_site(url, self.site_hosts)

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """A sitemap's entries on this site (any of its host names); others are another site's."""
        for entry in entries:
            if entry.get("loc") and self.on_site(entry["loc"]):
                yield entry
            else:
                self.crawler.stats.inc_value("netwatch/sitemap_offsite")

    def sitemap_entry_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse, errback=self.on_error,
                              priority=PRODUCT_PRIORITY if _PRODUCT_URL.search(url) else CATEGORY_PRIORITY)

    def _same_page(self, a: str, b: str) -> bool:
        return same_page(a, b, self.site_hosts)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if response.status in REDIRECTS:  # a canonical's redirect, which the canonical request follows itself
            yield from self._canonical_redirect(response)
            return
        if not is_html(response):
            return
        page = page_from_response(response)
        read = read_shop_page(page, self.platform or None, self.site_hosts)
        if read.canonical_elsewhere:
            # Not a page of its own: read the page it names (once; the duplicate filter sees to that). Should that
            # redirect back here, the duplicate filter would drop the way back: this page's listing waits in meta.
            self.crawler.stats.inc_value("netwatch/pages_canonical_elsewhere")
            here = read.own_listing
            if here is not None:
                here.capture = response.meta.get(CAPTURE_META)  # the evidence is this page's record
            yield scrapy.Request(read.canonical_elsewhere, callback=self.parse, errback=self.on_error,
                                 priority=PRODUCT_PRIORITY,
                                 meta={"dont_redirect": True, "handle_httpstatus_list": list(REDIRECTS),
                                       CANONICAL_OF_META: response.url, FALLBACK_META: here})
            return
        if read.listing is not None:
            self.crawler.stats.inc_value("netwatch/pages_product")
            yield read.listing
        else:
            self.crawler.stats.inc_value("netwatch/pages_navigation")
        yield from self.follow_links(response, page.selector)

    def _canonical_redirect(self, response: Response) -> Iterator[Any]:
        """A canonical URL answered with a redirect: back to the page that named it, that page is the listing;
        elsewhere, followed as any link."""
        location = response.headers.get(b"Location")
        target = urljoin(response.url, location.decode("latin-1")) if location else None
        origin = response.meta.get(CANONICAL_OF_META)
        if target is None:
            return
        if origin and self._same_page(target, origin):
            self.crawler.stats.inc_value("netwatch/canonical_redirects_back")
            listing = response.meta.get(FALLBACK_META)
            if listing is not None:
                self.crawler.stats.inc_value("netwatch/pages_product")
                yield listing
            return
        if self.on_site(target):
            yield scrapy.Request(target, callback=self.parse, errback=self.on_error, priority=PRODUCT_PRIORITY)

    def follow_links(self, response: Response, selector: Any) -> Iterator[scrapy.Request]:
        """Product links (a grid's cards, product-like URLs) first, then pagination, then categories."""
        cards = {urljoin(response.url, href) for href in grid_links(selector)}
        pagination = {urljoin(response.url, href) for href in response.css(_NEXT_PAGE_CSS).xpath("@href").getall()}
        seen: set[str] = set()
        for link in self.links.extract_links(response):
            url = _without_fragment(link.url)
            if url in seen or not self.on_site(url) or NEVER.search(url):
                continue
            seen.add(url)
            if url in cards or (_PRODUCT_URL.search(url) and not _PAGINATION.search(url)):
                priority = PRODUCT_PRIORITY
            elif url in pagination or _PAGINATION.search(url):
                priority = PAGINATION_PRIORITY
            else:
                priority = CATEGORY_PRIORITY
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error, priority=priority)
        for url in pagination - seen:  # <link rel=next> is no anchor: the link extractor does not see it
            if self.on_site(url) and not NEVER.search(url):
                yield scrapy.Request(url, callback=self.parse, errback=self.on_error, priority=PAGINATION_PRIORITY)


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
