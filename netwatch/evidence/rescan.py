"""`netwatch rescan --since DATE`: today's rule packs over the pages archived since DATE, without fetching
anything. Each archived page is read as its crawl read it: through the crawl's site profile (recorded in its
provenance) or as the generic spider reads any shop (netwatch.extract.any_shop: canonical URLs, no review
forms or carts). A listing gets what its crawl gave it from other pages too: the price
and title its list page showed beside its link (the price-marks check), and the reviews of its review API,
every page of it, from the archive. The items go through the one item path (netwatch.checks.process) into a
store, as a run of spider "rescan", and the review pass scores that run's reviews (netwatch.analysis.reviews).

Each URL is read once, from its latest capture since DATE. The price-history check is not run: it compares a
listing's prices across nights, and a rescan reads one capture of each page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from netwatch.analysis.reviews.store_pass import score_run
from netwatch.checks import CHECKED_TYPES, process
from netwatch.checks.text import RuleEngine
from netwatch.crawl.provenance import seal_killed
from netwatch.crawl.warc import day_dirs
from netwatch.domain.capture import INDEX_SUFFIX, PROVENANCE_SUFFIX, RecordPointer
from netwatch.domain.items import Listing, Shop
from netwatch.evidence.records import EvidenceError, Record, index_entries, read_json, read_record
from netwatch.extract import Page
from netwatch.extract.any_shop import host_aliases, read_shop_page
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
from netwatch.store import Store
from netwatch.store.evidence_reads import run_hits

SPIDER = "rescan"
BATCH = 500  # items per store transaction


@dataclass
class Archived:
    entry: dict[str, Any]  # its index line
    file: Path
    provenance: dict[str, Any]


def archived_pages(root: Path, since: date) -> dict[str, Archived]:
    """URL -> the latest capture since `since` of every URL archived with a 200 answer."""
    latest: dict[str, Archived] = {}
    days = [day for day in day_dirs(root) if day.name >= since.isoformat()]
    seal_killed(days)  # a killed crawl's capture is read too, once sealed
    for day in days:
        for provenance_path in sorted(day.glob(f"*{PROVENANCE_SUFFIX}")):
            stamp = provenance_path.name[: -len(PROVENANCE_SUFFIX)]
            provenance = read_json(provenance_path)
            for entry in index_entries(day / f"{stamp}{INDEX_SUFFIX}"):
                if entry.get("type") in ("response", "revisit") and entry.get("status") == 200:
                    known = latest.get(entry["uri"])
                    if known is None or known.entry["date"] <= entry["date"]:
                        latest[entry["uri"]] = Archived(entry, root / entry["file"], provenance)
    return dict(sorted(latest.items()))


class ArchiveReader:
    """Reads archived pages the way the crawl that archived them did."""

    def __init__(self, pages: dict[str, Archived]) -> None:
        self.pages = pages
        self.profiles: dict[tuple[str, str | None], SiteProfile] = {}

    def record(self, archived: Archived) -> Record | None:
        entry = archived.entry
        try:
            return read_record(archived.file, entry["offset"], entry["length"])
        except EvidenceError:
            return None  # verify names it; a rescan reads what is readable

    def profile_rule(self, archived: Archived) -> tuple[SiteProfile, tuple[PageRule, dict[str, str]] | None] | None:
        """The crawl's profile and the page rule for this URL; None for a page read by the generic extraction."""
        info = archived.provenance.get("profile")
        if not info:
            return None
        key = (info["source"], info.get("base_url"))
        if key not in self.profiles:
            self.profiles[key] = load_profile(info["source"], info.get("base_url"))
        profile = self.profiles[key]
        return profile, profile.rule_for(archived.entry["uri"])

    def carried(self) -> dict[str, dict[str, Any]]:
        """URL -> what the archived list pages show beside their links to it."""
        carried: dict[str, dict[str, Any]] = {}
        for uri, archived in self.pages.items():
            found = self.profile_rule(archived)
            if not found or not found[1] or found[1][0].carry is None:
                continue
            record = self.record(archived)
            if record is not None:
                page = Page(url=uri, body=record.payload, headers={"Content-Type": record.content_type})
                carried.update(carried_links(page, found[1][0], lambda href, base=uri: urljoin(base, href)))
        return carried

    def reviews(self, listing: Listing, rule: PageRule, first_url: str) -> None:
        """Add the reviews of the listing's archived review-API pages, as the crawl followed them."""
        assert rule.reviews is not None
        url: str | None = first_url
        page_number = 1
        while url and url in self.pages:
            record = self.record(self.pages[url])
            if record is None:
                return
            try:
                reviews, pages = read_reviews(rule.reviews, record.payload.decode("utf-8", "replace"))
            except ValueError:
                return
            listing.reviews.extend(reviews)
            url = next_review_url(rule.reviews, url, page_number, pages)
            page_number += 1

    def shop_page_item(self, page: Page, archived: Archived) -> Listing | None:
        """A page of a crawl without a profile, read as the generic spider read it (netwatch.extract.any_shop)."""
        provenance = archived.provenance
        hosts = set().union(*(host_aliases(urlsplit(url).hostname or "") for url in provenance.get("source_urls") or []))
        read = read_shop_page(page, provenance.get("platform"), hosts or host_aliases(urlsplit(page.url).hostname or ""))
        if read.canonical_elsewhere:
            # its canonical page is read itself where archived; where not (it led back here), this page is the listing
            return None if read.canonical_elsewhere in self.pages else read.own_listing
        return read.listing

    def items(self) -> Iterator[Listing | Shop]:
        """The items the archived pages give, each with its record pointer and capture time."""
        carried = self.carried()
        for uri, archived in self.pages.items():
            found = self.profile_rule(archived)
            if found is not None and (not found[1] or found[1][0].item == "none"):
                continue  # a list page, a review-API page: read for what they give listings, above
            record = self.record(archived)
            if record is None:
                continue
            page = Page(url=uri, body=record.payload, headers={"Content-Type": record.content_type})
            if found is not None:
                profile, matched = found
                assert matched is not None
                item = read_page(page, profile, matched)
                if isinstance(item, Listing):
                    if uri in carried:
                        item.list_price, item.list_title = list_fields(carried[uri])
                    api = review_api_url(page, matched[0], matched[1], lambda href, base=uri: urljoin(base, href))
                    if api:
                        self.reviews(item, matched[0], api)
            elif "html" in record.content_type:
                item = self.shop_page_item(page, archived)
            else:
                item = None
            if item is None:
                continue
            entry = archived.entry
            item.capture = RecordPointer(str(archived.file.resolve()), entry["offset"], entry["length"],
                                         entry["sha256"]).to_dict()
            item.fetched_at = record.date
            yield item


def rescan(root: Path, since: date, engine: RuleEngine, store: Store, *,
           signals_file: str | None = None) -> tuple[int, int, list[dict[str, Any]]]:
    """Run the rule packs over the archive into `store` as one run, then score its reviews: (run id, pages
    read, one row per hit of the run)."""
    run_id = store.start_run(SPIDER, f"since {since.isoformat()}")
    pending: list[Listing | Shop] = []
    read = 0
    for item in ArchiveReader(archived_pages(root, since)).items():
        if not isinstance(item, CHECKED_TYPES):
            continue
        process(item, engine)
        pending.append(item)
        read += 1
        if len(pending) >= BATCH:
            store.save_batch(run_id, pending)
            pending = []
    if pending:
        store.save_batch(run_id, pending)
    stats: dict[str, Any] = {"netwatch/rescan/pages": read, **score_run(store, run_id, signals_file=signals_file)}
    rows = store.read(run_hits, run_id)
    stats["netwatch/leads"] = len(rows)
    store.finish_run(run_id, stats, "finished")
    return run_id, read, rows
