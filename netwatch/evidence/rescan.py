"""`netwatch rescan --since DATE`: today's rule packs over the pages archived since DATE, without fetching
anything: each archived page is read as its crawl read it (the crawl's site profile, recorded in its
provenance, or the generic extraction) and goes through the one item path (netwatch.checks.process).

Only what a page shows by itself is re-checked: review texts fetched from a separate review API, a list
page's price beside a listing, and the after-run analyses (price history, review signals) are not.
Each URL is read once, from its latest capture since DATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from netwatch.checks import CHECKED_TYPES, process
from netwatch.checks.text import RuleEngine
from netwatch.domain.capture import INDEX_SUFFIX, PROVENANCE_SUFFIX, RecordPointer
from netwatch.domain.items import Listing, Shop
from netwatch.evidence.records import EvidenceError, index_entries, read_json, read_record
from netwatch.extract import Page, extract_listing
from netwatch.sites import load_profile, read_page


@dataclass
class Archived:
    entry: dict[str, Any]  # its index line
    file: Path
    provenance: dict[str, Any]


def archived_pages(root: Path, since: date) -> list[Archived]:
    """The latest capture since `since` of every URL archived with a 200 answer."""
    latest: dict[str, Archived] = {}
    if not root.is_dir():
        return []
    for day in sorted(path for path in root.iterdir() if path.is_dir() and path.name >= since.isoformat()):
        for provenance_path in sorted(day.glob(f"*{PROVENANCE_SUFFIX}")):
            stamp = provenance_path.name[: -len(PROVENANCE_SUFFIX)]
            provenance = read_json(provenance_path)
            for entry in index_entries(day / f"{stamp}{INDEX_SUFFIX}"):
                if entry.get("type") in ("response", "revisit") and entry.get("status") == 200:
                    found = Archived(entry, root / entry["file"], provenance)
                    known = latest.get(entry["uri"])
                    if known is None or known.entry["date"] <= entry["date"]:
                        latest[entry["uri"]] = found
    return [latest[uri] for uri in sorted(latest)]


def items_from_archive(root: Path, since: date) -> Iterator[Listing | Shop]:
    """The items the archived pages give, each with its record pointer and capture time."""
    profiles: dict[tuple[str, str | None], Any] = {}
    for archived in archived_pages(root, since):
        entry = archived.entry
        try:
            record = read_record(archived.file, entry["offset"], entry["length"])
        except EvidenceError:
            continue  # verify names it; a rescan reads what is readable
        page = Page(url=entry["uri"], body=record.payload, headers={"Content-Type": record.content_type})
        profile_info = archived.provenance.get("profile")
        if profile_info:
            key = (profile_info["source"], profile_info.get("base_url"))
            if key not in profiles:
                profiles[key] = load_profile(profile_info["source"], profile_info.get("base_url"))
            profile = profiles[key]
            matched = profile.rule_for(page.url)
            item = read_page(page, profile, matched) if matched and matched[0].item != "none" else None
        elif "html" in record.content_type:
            item = extract_listing(page, archived.provenance.get("platform"))
        else:
            item = None
        if item is None:
            continue
        item.capture = RecordPointer(str(archived.file.resolve()), entry["offset"], entry["length"],
                                     entry["sha256"]).to_dict()
        item.fetched_at = record.date
        yield item


def rescan(root: Path, since: date, engine: RuleEngine) -> tuple[list[Listing | Shop], list[dict[str, Any]]]:
    """Run the rule packs over the archive: the items read, and one row per hit."""
    items, rows = [], []
    for item in items_from_archive(root, since):
        if not isinstance(item, CHECKED_TYPES):
            continue
        hits = process(item, engine)
        items.append(item)
        subject = "listing" if isinstance(item, Listing) else "shop"
        ident = item.canonical_id if isinstance(item, Listing) else item.shop_id
        for hit in hits:
            rows.append({"subject": subject, "platform": item.platform, "id": ident, "url": item.url,
                         "pack": hit.pack, "rule": hit.rule, "category": hit.category, "severity": hit.severity,
                         "field": hit.field, "match": hit.match, "captured": item.fetched_at,
                         "record": f"{item.capture['file']}#{item.capture['offset']}"})
    return items, rows
