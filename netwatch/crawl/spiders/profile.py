"""The profile spider: a site profile (netwatch/sites/*.yaml) says where to go and what to read.

    scrapy crawl profile -a profile=netmall -a base_url=http://127.0.0.1:8000
    netwatch crawl netmall -a base_url=http://127.0.0.1:8000
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.settings import SETTINGS_PRIORITIES

from netwatch.crawl.spiders.base import NetwatchSpider, is_html, is_readable, page_from_response
from netwatch.crawl.stats import record_error
from netwatch.domain.items import Listing
from netwatch.extract import item_id_from_url
from netwatch.sites import (
    PageRule,
    SiteProfile,
    carried_links,
    list_fields,
    load_profile,
    next_review_url,
    read_page,
    read_reviews,
    review_api_url,
)


class ProfileSpider(NetwatchSpider):
    name = "profile"

    def __init__(self, profile: str | SiteProfile | None = None, base_url: str | None = None,
                 start_url: str | None = None, follow: str | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if profile is None:
            raise ValueError("the profile spider needs -a profile=NAME (one of netwatch/sites/*.yaml) or a path")
        self.profile = profile if isinstance(profile, SiteProfile) else load_profile(profile, base_url)
        # -a start_url=URL[,URL…]: read these pages (and what they link to) instead of the whole site
        self.start_urls = [u.strip() for u in (start_url or "").split(",") if u.strip()]
        # Some of the site's pages (e.g. one shop's): the store delists only within the shops it saw.
        self.partial = bool(self.start_urls)
        # -a follow=no: read the start pages and nothing they link to (a re-check of leads' pages)
        self.follow = str(follow).strip().lower() not in {"no", "false", "0", "off"}
        self.platform = self.profile.key
        self.allowed_domains = list(self.profile.allowed_domains)

    def adjust_settings(self, settings: Any) -> None:
        profile = self.profile
        if not profile.robots_obey:
            self.logger.info("robots.txt not obeyed for %s: %s", profile.key, profile.robots_reason)
            settings.set("ROBOTSTXT_OBEY", False, priority="spider")
        if profile.politeness:
            slots = dict(settings.getdict("DOWNLOAD_SLOTS"))
            for host in profile.allowed_domains:
                slots[host] = dict(profile.politeness)
            settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
        # The site's own budgets (netwatch.crawl.budgets) win over the crawl-wide ones, -s included: a nightly
        # run's -s NETWATCH_SITE_MAX_PAGES is every target's default, the profile knows its site's size.
        for key, setting in (("pages", "NETWATCH_SITE_MAX_PAGES"), ("seconds", "NETWATCH_SITE_MAX_SECONDS")):
            if key in profile.budget:
                settings.set(setting, profile.budget[key], priority=SETTINGS_PRIORITIES["cmdline"] + 1)

    async def start(self) -> Any:
        if not self.start_urls:
            for url in self.profile.sitemaps:
                yield self.sitemap_request(url)
        for url in self.start_urls or self.profile.start_urls:
            yield self.routed(scrapy.Request(url, callback=self.parse, errback=self.on_error,
                                             meta={"netwatch_start": True}, dont_filter=True))

    def routed(self, request: scrapy.Request) -> scrapy.Request:
        """Pages whose rule always needs the browser go straight to it, without a plain fetch first."""
        matched = self.profile.rule_for(request.url)
        if matched and matched[0].render_always:
            return self.render_request(request, matched[0].wait_for, dont_filter=request.dont_filter)
        return request

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if response.status == 304:  # a conditional request's answer carries no page (netwatch.crawl.incremental)
            return
        matched = self.profile.rule_for(response.url)
        if matched is None or not is_readable(response):
            self.crawler.stats.inc_value("netwatch/pages_unmatched")
            return
        rule, ids = matched
        page = page_from_response(response)
        if is_html(response) and not response.meta.get("netwatch_rendered") and (
            rule.render_always or (rule.render_when and page.selector.css(rule.render_when))
        ):
            yield self.render_request(response.request, rule.wait_for)
            return
        item = read_page(page, self.profile, matched) if rule.item != "none" else None
        if isinstance(item, Listing) and "netwatch_carry" in response.meta:
            item.list_price, item.list_title = list_fields(response.meta["netwatch_carry"])
        if isinstance(item, Listing) and b"ETag" in response.headers:
            item.etag = response.headers[b"ETag"].decode("latin-1")[:200]
        if isinstance(item, Listing) and rule.reviews:
            api = review_api_url(page, rule, ids, response.urljoin)
            yield self.reviews_request(api, item, rule) if api else item
        elif item is not None:
            yield item
        elif rule.item == "listing":
            record_error(self.crawler.stats, "no_title")
            self.logger.warning("no listing title on %s (page rule %r)", response.url, rule.name)
        if not is_html(response) or not self.follow:
            return
        carried = carried_links(page, rule, response.urljoin)
        for css in rule.follow:
            # links from the page's own selector: the response's would parse the page a second time
            for request in response.follow_all(page.selector.css(css), callback=self.parse, errback=self.on_error):
                if request.url in carried:  # what the list page shows beside the link (netwatch.crawl.incremental)
                    request.meta["netwatch_carry"] = carried[request.url]
                yield self.routed(request)

    def listing_id(self, url: str) -> str | None:
        """The canonical id of the listing a URL's page shows, or None for other pages (incremental crawls ask)."""
        matched = self.profile.rule_for(url)
        if matched is None or matched[0].item != "listing":
            return None
        return matched[1].get("item_id") or item_id_from_url(url)

    def reviews_request(self, url: str, listing: Listing, rule: PageRule) -> scrapy.Request:
        # The rule travels as its place in the profile, not as itself: distributed crawls pickle requests into
        # the shared queue, and every worker's spider holds the same profile, selectors compiled.
        rule_index = next(i for i, candidate in enumerate(self.profile.pages) if candidate is rule)
        return scrapy.Request(
            url, callback=self.parse_reviews, errback=self.on_error, cb_kwargs={"rule_index": rule_index},
            meta={"netwatch_pending_item": listing},
        )

    def parse_reviews(self, response: Response, rule_index: int) -> Iterator[Any]:
        """One page of the review API; the listing goes out once the last page is read."""
        listing: Listing = response.meta["netwatch_pending_item"]
        rule = self.profile.pages[rule_index]
        api = rule.reviews
        assert api is not None
        try:
            reviews, pages = read_reviews(api, response.text)
        except ValueError:
            record_error(self.crawler.stats, "bad_review_json")
            self.logger.warning("review API answered no JSON: %s", response.url)
            yield listing
            return
        listing.reviews.extend(reviews)
        page_number = int(response.meta.get("netwatch_review_page", 1))
        next_url = next_review_url(api, response.url, page_number, pages)
        if next_url:
            request = self.reviews_request(next_url, listing, rule)
            request.meta["netwatch_review_page"] = page_number + 1
            yield request
        else:
            yield listing
