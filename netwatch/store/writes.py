"""Batched, idempotent upserts of crawl items into the store (one call per batch, inside its transaction).

Rows are de-duplicated by key before each statement (PostgreSQL refuses ON CONFLICT DO UPDATE touching one
row twice in a statement); netwatch.store.bulk writes them in key order on PostgreSQL, a fixed lock order that
keeps two concurrent crawls from deadlocking. Each table's upsert is declared once below.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.domain.items import Listing, ListingSeen, Shop
from netwatch.domain.vocab import SEVERITY_RANK
from netwatch.store.bulk import Reference, Upsert, upsert, upsert_values, upsert_with_referring
from netwatch.store.models import Lead, LeadHit, ListingRow, ReviewRow, Run, ShopRow, Snapshot
from netwatch.store.networks import write_identifiers
from netwatch.store.schema import StoreError

HIT_FIELDS = ("pack", "rule", "category", "severity", "field", "start", "end", "match", "context", "legal_basis")
MATCH_SEPARATOR = " | "


def parse_time(value: str | datetime | None, default: datetime) -> datetime:
    """An ISO 8601 time (or datetime) as naive UTC; `default` when absent or unreadable."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return default
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def hit_values(hit: Any) -> tuple:
    """A hit's HIT_FIELDS values, for netwatch.checks.text.Hit objects and plain dicts alike (missing ones None)."""
    if type(hit) is dict or isinstance(hit, Mapping):  # dict first: the ABC check costs a microsecond a hit
        return tuple(map(hit.get, HIT_FIELDS))
    try:
        return _HIT_ATTRIBUTES(hit)
    except AttributeError:
        return tuple(getattr(hit, name, None) for name in HIT_FIELDS)


_HIT_ATTRIBUTES = operator.attrgetter(*HIT_FIELDS)


class Sighting(NamedTuple):
    """A shop or listing seen in a run with the rule hits on its page, as upsert_leads takes them."""

    subject: str  # "listing" or "shop"
    subject_id: int
    listing_id: int | None
    shop_id: int | None
    seen_at: datetime
    hits: Iterable[Any]
    capture: Mapping[str, Any] | None = None  # the page's WARC record (netwatch.domain.capture.RecordPointer)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is written: the batch's rows (tens of thousands of tuples
    and lists, freed by reference counting when it ends) would otherwise set off collections that walk the
    whole heap, a tenth of the write's time."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@_cyclic_gc_paused()
def save_items(conn: sa.Connection, run_id: int, items: Sequence[Shop | Listing | ListingSeen]) -> None:
    now = utcnow()
    shops = {(item.platform, item.shop_id): item for item in items if isinstance(item, Shop)}
    listings = {(item.platform, item.canonical_id): item for item in items if isinstance(item, Listing)}
    seen = {(item.platform, item.canonical_id) for item in items if isinstance(item, ListingSeen)}
    unknown = [type(item).__name__ for item in items if not isinstance(item, (Shop, Listing, ListingSeen))]
    if unknown:
        raise TypeError(f"the store takes Shop, Listing and ListingSeen items, not {', '.join(sorted(set(unknown)))}")
    # Every other reference written below is an id this transaction has just read or written.
    if conn.scalar(sa.select(Run.id).where(Run.id == run_id)) is None:
        raise StoreError(f"there is no run {run_id}: start one with Store.start_run; nothing was saved")

    seen_at = {key: parse_time(item.fetched_at, now) for key, item in listings.items()}
    shop_ids = _upsert_shops(conn, run_id, now, shops)
    write_identifiers(conn, run_id, now, shops, shop_ids)
    mentioned = {(item.platform, item.shop_id): item.shop_name for item in listings.values() if item.shop_id}
    shop_ids |= _ensure_shops(conn, run_id, now, {key: name for key, name in mentioned.items() if key not in shop_ids})
    listing_ids = _upsert_listings(conn, run_id, listings, seen_at, shop_ids)
    _upsert_snapshots(conn, run_id, listings, seen_at, listing_ids)
    _insert_reviews(conn, run_id, listings, listing_ids)

    sightings = [Sighting("shop", shop_ids[key], None, shop_ids[key], parse_time(shop.fetched_at, now), shop.hits,
                          shop.capture) for key, shop in shops.items() if shop.hits]
    for key, listing in listings.items():
        if listing.hits:
            shop_ref = shop_ids.get((listing.platform, listing.shop_id)) if listing.shop_id else None
            sightings.append(Sighting("listing", listing_ids[key], listing_ids[key], shop_ref, seen_at[key],
                                      listing.hits, listing.capture))
    upsert_leads(conn, run_id, now, sightings)
    mark_seen(conn, run_id, now, sorted(seen - listings.keys()))
    revalidated = {(item.platform, item.canonical_id) for item in items
                   if isinstance(item, ListingSeen) and item.revalidated} - listings.keys()
    for platform in sorted({platform for platform, _ in revalidated}):
        # A 304 proved the stored page current: its revisit interval starts again.
        conn.execute(sa.update(ListingRow).where(
            ListingRow.platform == platform,
            ListingRow.canonical_id.in_(sorted(c for p, c in revalidated if p == platform))).values(fetched_at=now))


def mark_seen(conn: sa.Connection, run_id: int, now: datetime, keys: Sequence[tuple[str, str]]) -> None:
    """Known listings seen unchanged on their list pages, not fetched: seen in this run (so not delisted),
    and the leads their last fetch raised seen again, with that sighting's hits copied to this run."""
    if not keys:
        return
    ids: list[int] = []
    for platform in sorted({platform for platform, _ in keys}):
        wanted = [canonical_id for key_platform, canonical_id in keys if key_platform == platform]
        ids += conn.scalars(sa.select(ListingRow.id).where(
            ListingRow.platform == platform, ListingRow.canonical_id.in_(wanted),
            ListingRow.last_run_id != run_id)).all()  # a listing already marked in this run is done
    if not ids:
        return
    ids.sort()  # a fixed lock order, as for the upserts
    # The open leads: those the listing's latest sighting raised (or carried), as read before the update.
    lead_ids = sorted(conn.scalars(sa.select(Lead.id).join(ListingRow, ListingRow.id == Lead.subject_id).where(
        Lead.subject == "listing", ListingRow.id.in_(ids), Lead.last_run_id == ListingRow.last_run_id)))
    if lead_ids:
        copied = ("field", "start", "end", "match", "context", *CAPTURE_COLUMNS)  # the evidence of that fetch
        conn.execute(sa.insert(LeadHit).from_select(("lead_id", "run_id", *copied), sa.select(
            LeadHit.lead_id, sa.literal(run_id), *(LeadHit.__table__.c[name] for name in copied))
            .join(Lead, Lead.id == LeadHit.lead_id)
            .where(Lead.id.in_(lead_ids), LeadHit.run_id == Lead.last_run_id)))
        conn.execute(sa.update(Lead).where(Lead.id.in_(lead_ids)).values(
            times_seen=Lead.times_seen + 1, last_run_id=run_id, updated_at=now,
            last_seen=sa.case((Lead.last_seen < now, now), else_=Lead.last_seen)))
    conn.execute(sa.update(ListingRow).where(ListingRow.id.in_(ids)).values(
        last_run_id=run_id, active=True, delisted_at=None,
        last_seen=sa.case((ListingRow.last_seen < now, now), else_=ListingRow.last_seen)))


# A shop page seen now says what the shop displays now, so its fields replace the stored ones.
SHOPS = Upsert(ShopRow.__table__, (
    "platform", "shop_id", "url", "name", "licence_text", "credit_code", "food_licence", "contact", "is_food",
    "first_seen", "last_seen", "last_run_id"), ("platform", "shop_id"), lambda new: {name: new[name] for name in (
        "url", "name", "licence_text", "credit_code", "food_licence", "contact", "is_food", "last_seen",
        "last_run_id")})
# Shops known only from their listings: create them, fill a missing name, change nothing else (and rewrite
# no row that has its name: every batch mentions the shops of its listings again).
MENTIONED_SHOPS = Upsert(ShopRow.__table__, (
    "platform", "shop_id", "name", "is_food", "first_seen", "last_seen", "last_run_id"), ("platform", "shop_id"),
    lambda new: {"name": new.name}, update_where=lambda new: ShopRow.name.is_(None) & new.name.is_not(None))
LISTINGS = Upsert(ListingRow.__table__, (
    "platform", "canonical_id", "shop_ref", "url", "title", "price", "original_price", "currency", "content_hash",
    "list_price", "list_title", "fetched_at", "etag", "first_seen", "last_seen", "last_run_id", "active", "delisted_at"),
    ("platform", "canonical_id"),
    lambda new: {
        # A listing known only by reference (no title, no price: e.g. a reviews-only import) must not
        # overwrite what a crawl saw of it.
        **{name: sa.case((sa.and_(new.title.is_(None), new.price.is_(None)), ListingRow.__table__.c[name]),
                         else_=new[name])
           for name in ("url", "title", "price", "original_price", "currency", "content_hash", "list_price",
                        "list_title", "fetched_at", "etag")},
        "shop_ref": sa.func.coalesce(new.shop_ref, ListingRow.shop_ref),
        **{name: new[name] for name in ("last_run_id", "active", "delisted_at")},
        "last_seen": sa.case((new.last_seen > ListingRow.last_seen, new.last_seen), else_=ListingRow.last_seen),
    })
CAPTURE_COLUMNS = ("warc_file", "warc_offset", "warc_length", "warc_sha256")
_NO_CAPTURE = (None, None, None, None)


def capture_values(capture: Mapping[str, Any] | None) -> tuple:
    """An item's record pointer (netwatch.domain.capture.RecordPointer as a dict) as CAPTURE_COLUMNS' values."""
    if not capture:
        return _NO_CAPTURE
    return capture["file"], int(capture["offset"]), int(capture["length"]), capture["sha256"]


SNAPSHOTS = Upsert(Snapshot.__table__, (
    "listing_id", "run_id", "fetched_at", "price", "original_price", "content_hash", *CAPTURE_COLUMNS),
    ("listing_id", "run_id"),
    lambda new: {name: new[name] for name in ("fetched_at", "price", "original_price", "content_hash",
                                              *CAPTURE_COLUMNS)})
REVIEWS = Upsert(ReviewRow.__table__, (
    "listing_id", "review_key", "reviewer", "rating", "time", "text", "first_run_id"), ("listing_id", "review_key"))


def _lead_updates(new: Any) -> dict[str, Any]:
    return {
        # one more sighting per run, however many batches of the run flag it
        "times_seen": Lead.times_seen + sa.case((Lead.last_run_id == new.last_run_id, 0), else_=1),
        "last_seen": sa.case((new.last_seen > Lead.last_seen, new.last_seen), else_=Lead.last_seen),
        "last_run_id": new.last_run_id,
        "severity": sa.case((new.severity_rank > Lead.severity_rank, new.severity), else_=Lead.severity),
        "severity_rank": sa.case((new.severity_rank > Lead.severity_rank, new.severity_rank),
                                 else_=Lead.severity_rank),
        "category": new.category,
        "legal_basis": sa.func.coalesce(new.legal_basis, Lead.legal_basis),
        "matched_text": new.matched_text,
        "context": new.context,
        "listing_id": sa.func.coalesce(new.listing_id, Lead.listing_id),
        "shop_id": sa.func.coalesce(new.shop_id, Lead.shop_id),
        # dismissed stays dismissed unless the text changed; a resolved listing flagged again is new again
        "status": sa.case(
            ((Lead.status == "dismissed")
             & (sa.func.coalesce(Lead.dismissed_text, "") != sa.func.coalesce(new.matched_text, "")), "new"),
            ((Lead.status == "resolved") & (Lead.last_run_id != new.last_run_id), "new"),
            else_=Lead.status),
        "updated_at": new.updated_at,
    }


LEADS = Upsert(Lead.__table__, (
    "subject", "subject_id", "listing_id", "shop_id", "pack", "rule", "category", "severity", "severity_rank",
    "legal_basis", "matched_text", "context", "first_seen", "last_seen"), ("subject", "subject_id", "pack", "rule"),
    _lead_updates, constants=("times_seen", "first_run_id", "last_run_id", "status", "updated_at"))
_SEVERITY, _SEVERITY_RANK, _MATCHED_TEXT = map(LEADS.columns.index, ("severity", "severity_rank", "matched_text"))
# A hit names its lead by the lead's key: the database finds the id, so the leads' ids are never read back.
LEAD_HITS = Upsert(LeadHit.__table__, (
    "subject", "subject_id", "pack", "rule", "field", "start", "end", "match", "context", *CAPTURE_COLUMNS),
    ("lead_id", "run_id", "field", "start", "end"), constants=("run_id",),
    reference=Reference("lead_id", Lead.__table__, ("subject", "subject_id", "pack", "rule")))


def _upsert_shops(conn: sa.Connection, run_id: int, now: datetime, shops: dict[tuple[str, str], Shop]) -> dict:
    rows = []
    for key in sorted(shops):
        shop = shops[key]
        seen_at = parse_time(shop.fetched_at, now)
        rows.append({
            "platform": shop.platform, "shop_id": shop.shop_id, "url": shop.url, "name": shop.name,
            "licence_text": shop.licence_text, "credit_code": shop.credit_code, "food_licence": shop.food_licence,
            "contact": shop.contact, "is_food": bool(shop.is_food), "first_seen": seen_at, "last_seen": seen_at,
            "last_run_id": run_id,
        })
    return upsert(conn, SHOPS, rows, ids=True)


def _ensure_shops(conn: sa.Connection, run_id: int, now: datetime, names: dict[tuple[str, str], str | None]) -> dict:
    rows = [{"platform": platform, "shop_id": shop_id, "name": names[(platform, shop_id)], "is_food": False,
             "first_seen": now, "last_seen": now, "last_run_id": run_id} for platform, shop_id in sorted(names)]
    return upsert(conn, MENTIONED_SHOPS, rows, ids=True)


def _upsert_listings(conn: sa.Connection, run_id: int, listings: dict, seen_at: dict, shop_ids: dict) -> dict:
    rows = []  # in LISTINGS.columns' order
    for key in sorted(listings):
        item = listings[key]
        seen = seen_at[key]
        observed = item.title is not None or item.price is not None  # else a bare reference: no page fetched
        rows.append((
            item.platform, item.canonical_id, shop_ids.get((item.platform, item.shop_id)) if item.shop_id else None,
            item.url, item.title, item.price, item.original_price, item.currency, item.content_hash,
            item.list_price, item.list_title, seen if observed else None, item.etag, seen, seen, run_id, True, None))
    return upsert_values(conn, LISTINGS, rows, ids=True)


def _upsert_snapshots(conn: sa.Connection, run_id: int, listings: dict, seen_at: dict, listing_ids: dict) -> None:
    rows = [(listing_ids[key], run_id, seen_at[key], item.price, item.original_price,
             item.content_hash, *capture_values(item.capture))
            for key, item in sorted(listings.items())  # in SNAPSHOTS.columns' order
            if item.price is not None or item.title is not None]  # a bare reference observed no page
    upsert_values(conn, SNAPSHOTS, rows)


def review_key(review: Any) -> str:
    if review.review_id:
        return str(review.review_id)[:200]
    content = "\x1f".join(str(part or "") for part in (review.reviewer, review.time, review.rating, review.text))
    return "sha1:" + hashlib.sha1(content.encode()).hexdigest()


def _insert_reviews(conn: sa.Connection, run_id: int, listings: dict, listing_ids: dict) -> None:
    rows = {}
    for key, item in listings.items():
        for review in item.reviews:
            row_key = (listing_ids[key], review_key(review))
            rows[row_key] = {"listing_id": row_key[0], "review_key": row_key[1], "reviewer": review.reviewer,
                             "rating": review.rating, "time": review.time, "text": review.text or "",
                             "first_run_id": run_id}
    upsert(conn, REVIEWS, [rows[key] for key in sorted(rows)])


def _snapshot_records(conn: sa.Connection, run_id: int, listing_ids: list[int]) -> dict[int, tuple]:
    """listing id -> the record of its page in the run's snapshot, for the listings that have one."""
    if not listing_ids:
        return {}
    columns = [Snapshot.__table__.c[name] for name in CAPTURE_COLUMNS]
    rows = conn.execute(sa.select(Snapshot.listing_id, *columns).where(
        Snapshot.run_id == run_id, Snapshot.listing_id.in_(sorted(set(listing_ids))),
        Snapshot.warc_file.is_not(None)))
    return {row[0]: tuple(row[1:]) for row in rows}


def upsert_leads(conn: sa.Connection, run_id: int, now: datetime, sightings: Iterable[Sighting]) -> None:
    """Insert new leads or update the ones already known, one per (subject, pack, rule) however many of its
    hits the sightings hold; record each hit once per run."""
    leads: dict[tuple, list] = {}  # lead key -> row in LEADS.columns' order
    folded: dict[tuple, set[str]] = {}  # lead key -> its matched texts, for leads with several hits
    # in LEAD_HITS.columns' order; a hit twice at one place is the same hit, stored once by ON CONFLICT DO NOTHING
    hits: list[tuple] = []
    sightings = list(sightings)
    fetched = _snapshot_records(conn, run_id, [s.listing_id for s in sightings if not s.capture and s.listing_id])
    for subject, subject_id, listing_id, shop_id, seen_at, subject_hits, capture in sightings:
        # A lead derived after the run (price history, review signals): the listing's page as the run fetched it
        record = capture_values(capture) if capture else fetched.get(listing_id, _NO_CAPTURE)
        for hit in subject_hits:
            pack, rule, category, severity, where, start, end, match, context, legal_basis = hit_values(hit)
            key = (subject, subject_id, str(pack or ""), str(rule or ""))
            match = str(match or "")
            hits.append((*key, str(where or ""), int(start or 0), int(end or 0), match, context, *record))
            severity = str(severity or "low")
            lead = leads.get(key)
            if lead is None:
                leads[key] = [subject, subject_id, listing_id, shop_id, key[2], key[3], str(category or "unknown"),
                              severity, SEVERITY_RANK.get(severity, 0), legal_basis, match, context, seen_at, seen_at]
                continue
            # Several hits of one rule on one page: the worst severity, the first hit's other fields, and
            # every distinct matched text (sorted, so a re-run in another order gives the same text).
            folded.setdefault(key, {lead[_MATCHED_TEXT]}).add(match)
            if SEVERITY_RANK.get(severity, 0) > lead[_SEVERITY_RANK]:
                lead[_SEVERITY], lead[_SEVERITY_RANK] = severity, SEVERITY_RANK[severity]
    for key, matches in folded.items():
        leads[key][_MATCHED_TEXT] = MATCH_SEPARATOR.join(sorted(matches))
    upsert_with_referring(conn, LEADS, list(leads.values()), LEAD_HITS, hits, child_constants={"run_id": run_id},
                          parent_constants={"times_seen": 1, "first_run_id": run_id, "last_run_id": run_id,
                                            "status": "new", "updated_at": now})
