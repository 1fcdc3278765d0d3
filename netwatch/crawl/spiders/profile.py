"""The profile spider: a site profile (netwatch/sites/*.yaml) says where to go and what to read.

    scrapy crawl profile -a profile=netmall -a base_url=http://127.0.0.1:8000
    netwatch crawl netmall -a base_url=http://127.0.0.1:8000
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response
from w3lib.url import add_or_replace_parameter

from netwatch import config
from netwatch.extract import extract_field, extract_fields, item_id_from_url, make_review
from netwatch.domain.items import Listing, ListingSeen
from netwatch.sites import PageRule, SiteProfile, load_profile, read_page
from netwatch.crawl.spiders.base import NetwatchSpider, is_html, is_readable, page_from_response
from netwatch.crawl.incremental import (KNOWN_STAT, NOT_MODIFIED_STAT, SKIPPED_STAT, IncrementalPlan,
                                          carried_list_fields)
from netwatch.crawl.stats import record_error


class ProfileSpider(NetwatchSpider):
    name = "profile"

    def __init__(self, profile: str | SiteProfile | None = None, base_url: str | None = None,
                 start_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if profile is None:
            raise ValueError("the profile spider needs -a profile=NAME (one of netwatch/sites/*.yaml) or a path")
        self.profile = profile if isinstance(profile, SiteProfile) else load_profile(profile, base_url)
        # -a start_url=URL[,URL…]: read these pages (and what they link to) instead of the whole site
        self.start_urls = [u.strip() for u in (start_url or "").split(",") if u.strip()]
        self.platform = self.profile.key
        self.allowed_domains = list(self.profile.allowed_domains)
        self.incremental: IncrementalPlan | None = None
        self.skipped: set[str] = set()  # canonical ids whose page this incremental crawl did not fetch

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

    async def start(self) -> Any:
        settings = self.crawler.settings
        if settings.getbool("NETWATCH_INCREMENTAL"):
            db_url = settings.get("NETWATCH_DB_URL") or config.db_url()
            self.incremental = await asyncio.to_thread(IncrementalPlan.load, db_url, self.platform,
                                                       settings.getfloat("NETWATCH_REVISIT_DAYS"))
            self.crawler.stats.set_value(KNOWN_STAT, len(self.incremental.known))
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
        if response.status == 304:  # asked conditionally (see `conditional`): the stored page is current
            seen = self.not_modified(response)
            if seen is not None:
                yield seen
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
            item.list_price, item.list_title = carried_list_fields(response.meta["netwatch_carry"])
        if isinstance(item, Listing) and b"ETag" in response.headers:
            item.etag = response.headers[b"ETag"].decode("latin-1")[:200]
        if isinstance(item, Listing) and rule.reviews:
            api = extract_field(page.selector, rule.reviews.api)
            if not api and rule.reviews.fallback_url:
                api = rule.reviews.fallback_url.format(**ids)
            yield self.reviews_request(response.urljoin(api), item, rule) if api else item
        elif item is not None:
            yield item
        elif rule.item == "listing":
            record_error(self.crawler.stats, "no_title")
            self.logger.warning("no listing title on %s (page rule %r)", response.url, rule.name)
        if not is_html(response):
            return
        carried = self.carried(page, rule, response)
        for css in rule.follow:
            # links from the page's own selector: the response's would parse the page a second time
            for request in response.follow_all(page.selector.css(css), callback=self.parse, errback=self.on_error):
                if request.url in carried:
                    request.meta["netwatch_carry"] = carried[request.url]
                    seen = self.seen_unchanged(request.url, carried[request.url])
                    if seen is not None:
                        self.skipped.add(seen.canonical_id)  # a listing linked twice is skipped once
                        self.crawler.stats.set_value(SKIPPED_STAT, len(self.skipped))
                        yield seen
                        continue
                yield self.routed(self.conditional(request))

    def listing_id(self, url: str) -> str | None:
        """The canonical id of the listing a URL's page shows, or None for other pages."""
        matched = self.profile.rule_for(url)
        if matched is None or matched[0].item != "listing":
            return None
        return matched[1].get("item_id") or item_id_from_url(url)

    def conditional(self, request: scrapy.Request) -> scrapy.Request:
        """A known listing's page asked for with the ETag it was last served with (incremental crawls)."""
        canonical_id = self.listing_id(request.url) if self.incremental is not None else None
        etag = self.incremental.etag(canonical_id) if canonical_id else None
        if etag:
            request.headers["If-None-Match"] = etag
            request.meta["handle_httpstatus_list"] = [304]
        return request

    def not_modified(self, response: Response) -> ListingSeen | None:
        canonical_id = self.listing_id(response.url)
        if canonical_id is None:
            return None
        self.crawler.stats.inc_value(NOT_MODIFIED_STAT)
        list_price, list_title = carried_list_fields(response.meta.get("netwatch_carry", {}))
        return ListingSeen(self.platform, canonical_id, response.url, list_price, list_title, revalidated=True)

    def seen_unchanged(self, url: str, carry: dict[str, Any]) -> ListingSeen | None:
        """With incremental crawling, a known listing its list page shows unchanged: not fetched again."""
        canonical_id = self.listing_id(url) if self.incremental is not None else None
        if canonical_id is None:
            return None
        list_price, list_title = carried_list_fields(carry)
        if not self.incremental.unchanged(canonical_id, list_price, list_title):
            return None
        return ListingSeen(self.platform, canonical_id, url, list_price, list_title)

    @staticmethod
    def carried(page: Any, rule: PageRule, response: Response) -> dict[str, dict[str, Any]]:
        """URL -> fields the list page shows beside its link (rule.carry)."""
        if rule.carry is None:
            return {}
        carried = {}
        for entry in page.selector.css(rule.carry.each):
            href = extract_field(entry, rule.carry.link)
            if href:
                carried[response.urljoin(href)] = extract_fields(entry, rule.carry.fields)
        return carried

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
            document = Selector(root=json.loads(response.text), type="json")
        except ValueError:
            record_error(self.crawler.stats, "bad_review_json")
            self.logger.warning("review API answered no JSON: %s", response.url)
            yield listing
            return
        for entry in api.entries(document):
            review = make_review({field: entry.get(key) for field, key in api.fields.items()})
            if review is not None:
                listing.reviews.append(review)
        page_number = int(response.meta.get("netwatch_review_page", 1))
        pages = api.page_count(document) if api.page_count else None
        if pages is not None and page_number < int(pages):
            next_url = add_or_replace_parameter(response.url, api.page_param, str(page_number + 1))
            request = self.reviews_request(next_url, listing, rule)
            request.meta["netwatch_review_page"] = page_number + 1
            yield request
        else:
            yield listing
