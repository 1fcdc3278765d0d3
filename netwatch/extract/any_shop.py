"""A page of any shop read without a site profile: what the generic spider stores and what it reads instead.
Shared by the spider (netwatch.crawl.spiders.generic) and `netwatch rescan`, which reads its archived pages the
same way.

A page names its own URL with <link rel=canonical> or og:url: the listing is stored under that URL. A page whose
canonical is another page of the same site (a facet variant, a tracking parameter) is not a listing of its own:
that page is read instead. A review form, a cart or an account page may show a product but is never its page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from netwatch.domain.items import Listing
from netwatch.extract.listing import extract_listing
from netwatch.extract.page import Page
from netwatch.extract.pagekind import canonical_url

# Never followed, never stored: the same catalogue sorted or filtered, forms, or a visitor's own pages.
NEVER = re.compile(
    r"selected_facets=|[?&](?:sort|sort_by|order|orderby|dir|filter|filters|view|mode|limit|currency|lang)="
    r"|/(?:reviews?/add|review|reviews|basket|cart|checkout|accounts?|login|logout|register|signup|sign-in"
    r"|password-reset|wishlists?|compare|alerts?|offers|search)(?:/|$|\?)|[?&]q=|javascript:|mailto:",
    re.IGNORECASE,
)


def host_aliases(host: str) -> set[str]:
    """The host names one site answers to: www. and the bare domain, localhost and 127.0.0.1."""
    host = host.lower()
    loopback = {"localhost", "127.0.0.1", "::1"}
    if host in loopback:
        return set(loopback)
    bare = host.removeprefix("www.")
    return {bare, f"www.{bare}"}


def on_site(url: str, site_hosts: set[str]) -> bool:
    return (urlsplit(url).hostname or "").lower() in site_hosts


def same_page(a: str, b: str, site_hosts: set[str]) -> bool:
    """Two URLs of one page: equal but for the host alias, a trailing slash or a fragment."""
    def key(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url)
        host = min(host_aliases(parts.hostname or "")) if on_site(url, site_hosts) else parts.hostname or ""
        return (f"{host}:{parts.port}", parts.path.rstrip("/") or "/", parts.query)
    return key(a) == key(b)


@dataclass
class ShopPage:
    """What a page gives: its listing (None: a listing or navigation page), or the canonical page to read instead
    together with this page's own listing, kept for when that canonical leads back here."""

    listing: Listing | None
    canonical_elsewhere: str | None = None
    own_listing: Listing | None = None


def read_shop_page(page: Page, platform: str | None, site_hosts: set[str]) -> ShopPage:
    """The page of a site answering to `site_hosts`. A page read as a listing takes its canonical URL (page.url is
    set: a new Page would parse the HTML again)."""
    canonical = canonical_url(page.selector, page.url)
    canonical_on_site = bool(canonical) and on_site(canonical, site_hosts)
    if canonical_on_site and not same_page(canonical, page.url, site_hosts):
        own = None if NEVER.search(page.url) else extract_listing(page, platform)
        return ShopPage(None, canonical, own)
    if canonical_on_site:
        page.url = canonical
    return ShopPage(None if NEVER.search(page.url) else extract_listing(page, platform))
