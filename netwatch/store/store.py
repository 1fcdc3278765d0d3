"""The Store API: what crawls, the command line and exports call. No Scrapy here."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from netwatch import config
from netwatch.domain.clock import utcnow
from netwatch.domain.items import Listing, ListingSeen, Shop
from netwatch.domain.process import process_alive
from netwatch.domain.vocab import PARTIAL_CRAWL
from netwatch.store import coverage, evidence_reads, networks
from netwatch.store.models import Lead, LeadHit, ListingRow, Run, ShopRow, Snapshot
from netwatch.store.queries import UNASSIGNED, lead_query
from netwatch.store.reserve import keep_reserve, release_reserve
from netwatch.store.schema import (
    UNCHECKED_REFERENCES,
    StoreError,
    create_engine,
    ensure_schema,
    sqlite_path,
    translate_errors,
)
from netwatch.store.triage import change_leads, lead_events
from netwatch.store.writes import Sighting, hit_values, save_items, upsert_leads

logger = logging.getLogger(__name__)
RETRIED_SQLSTATES = {"40P01", "40001"}  # deadlock, serialization failure: the batch is retried whole
WRITE_ATTEMPTS = 5


class KnownListing(NamedTuple):
    list_price: float | None
    list_title: str | None
    fetched_at: datetime | None  # when its page was last fetched (None: never, e.g. known only by reference)
    active: bool
    etag: str | None = None  # the ETag its page was last served with


class Store:
    """The lead store on SQLite or PostgreSQL; the schema is created or upgraded on first use."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or config.db_url()
        self.engine = create_engine(self.url)
        try:
            ensure_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.file = sqlite_path(self.engine.url)
        if self.file is not None:
            keep_reserve(self.file)  # room to record a run's end on a full disk (netwatch.store.reserve)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A read-only connection (on SQLite it takes no write lock, so crawls go on while we read)."""
        with translate_errors(self.engine, "reading"):
            with self.engine.connect().execution_options(netwatch_readonly=True) as conn:
                yield conn

    def _write(self, work, doing: str, *, references_checked_by_work: bool = False):  # type: ignore[no-untyped-def]
        """Run work(conn) in one transaction; a deadlock between concurrent crawls retries it whole.

        references_checked_by_work: work writes only references it has just read or written (or checked),
        so SQLite may skip its per-row foreign-key checks."""
        engine = self.engine.execution_options(**{UNCHECKED_REFERENCES: True}) if references_checked_by_work \
            else self.engine
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with translate_errors(self.engine, doing):
                    with engine.begin() as conn:
                        return work(conn)
            except StoreError as exc:
                sqlstate = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None)
                if sqlstate not in RETRIED_SQLSTATES or attempt == WRITE_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    # -- crawl runs ------------------------------------------------------------------------------

    def start_run(self, spider: str, target: str | None = None) -> int:
        host, pid = socket.gethostname(), os.getpid()

        def work(conn: sa.Connection) -> int:
            self._mark_dead_runs_killed(conn, host)
            return conn.scalar(sa.insert(Run).values(
                spider=spider, target=target, started_at=utcnow(), status="running", host=host, pid=pid,
            ).returning(Run.id))

        return self._write(work, f"starting a run of {spider} in")

    @staticmethod
    def _mark_dead_runs_killed(conn: sa.Connection, host: str) -> None:
        """A run still "running" whose process on this host is gone was killed (its last batch is lost)."""
        running = conn.execute(sa.select(Run.id, Run.pid).where(Run.status == "running", Run.host == host)).all()
        dead = [run_id for run_id, pid in running if pid is None or not process_alive(pid)]
        if dead:
            # Killed, or its store failed so badly it could not record that (the crawl said so as it stopped).
            logger.warning("run(s) %s on %s ended without recording it: marked killed", dead, host)
            conn.execute(sa.update(Run).where(Run.id.in_(dead)).values(status="killed"))

    def save_batch(self, run_id: int, items: Sequence[Shop | Listing | ListingSeen]) -> None:
        """Upsert shops, listings (+ this run's snapshot), reviews and leads from the items' hits, in one transaction;
        ListingSeen items mark known listings seen in this run (see netwatch.store.writes.mark_seen)."""
        if items:
            self._write(lambda conn: save_items(conn, run_id, items), f"saving {len(items)} items of run {run_id} to",
                        references_checked_by_work=True)

    def known_listings(self, platform: str) -> dict[str, KnownListing]:
        """canonical_id -> what an incremental crawl compares, for every listing of the platform."""
        with self.reading() as conn:
            rows = conn.execute(sa.select(ListingRow.canonical_id, ListingRow.list_price, ListingRow.list_title,
                                          ListingRow.fetched_at, ListingRow.active, ListingRow.etag)
                                .where(ListingRow.platform == platform))
            return {row.canonical_id: KnownListing(row.list_price, row.list_title, row.fetched_at, row.active,
                                                   row.etag) for row in rows}

    def finish_run(self, run_id: int, stats: dict, status: str) -> None:
        """Record the run's end: its status and statistics. What follows a run (delisting, price checks,
        review scoring) is netwatch.analysis.post_run's, which calls this last."""
        safe_stats = json.loads(json.dumps(stats or {}, default=str))

        def work(conn: sa.Connection) -> None:
            self._run(conn, run_id)
            conn.execute(sa.update(Run).where(Run.id == run_id).values(
                finished_at=utcnow(), status=status, stats=safe_stats))

        try:
            self._write(work, f"finishing run {run_id} in")
        except StoreError as exc:
            # The run's last word: on a full disk, spend the space kept for it and try once more.
            if not (exc.disk_full and self.file is not None and release_reserve(self.file)):
                raise
            self._write(work, f"finishing run {run_id} in")

    def delist_unseen(self, run_id: int, *, partial: bool = False) -> int:
        """Mark delisted what this run covered and no longer saw (netwatch.store.coverage; call it only for a
        run that went through to the end); `partial`: the run crawled some shops of its site. Returns how many."""
        def work(conn: sa.Connection) -> int:
            self._run(conn, run_id)
            return coverage.delist_unseen(conn, run_id, partial=partial)

        return self._write(work, f"marking the listings run {run_id} no longer saw delisted in")

    def _run(self, conn: sa.Connection, run_id: int) -> sa.Row:
        run = conn.execute(sa.select(Run.spider, Run.target).where(Run.id == run_id)).one_or_none()
        if run is None:
            raise StoreError(f"there is no run {run_id} in {self.engine.url.render_as_string()}")
        return run

    def save_leads(self, run_id: int, sightings: Sequence[Sighting]) -> int:
        """Leads derived after a run (from its stored rows, e.g. price history), in one transaction; returns
        how many of the sightings' subjects had no lead for their rules before."""
        keys = {(sighting.subject, sighting.subject_id, *hit_values(hit)[:2])
                for sighting in sightings for hit in sighting.hits}

        def work(conn: sa.Connection) -> int:
            known = set(map(tuple, conn.execute(sa.select(Lead.subject, Lead.subject_id, Lead.pack, Lead.rule).where(
                Lead.subject.in_({key[0] for key in keys}), Lead.subject_id.in_({key[1] for key in keys})))))
            upsert_leads(conn, run_id, utcnow(), sightings)
            return len({key[:2] for key in keys - known})

        return self._write(work, f"saving the leads derived from run {run_id} in") if sightings else 0

    def earlier_runs_stats(self, run_id: int, last: int = 20) -> list[dict[str, Any]]:
        """The stats of the last finished runs of this run's spider and target before it, newest first."""
        with self.reading() as conn:
            run = conn.execute(sa.select(Run.spider, Run.target).where(Run.id == run_id)).one_or_none()
            if run is None:
                raise StoreError(f"there is no run {run_id}")
            return [stats or {} for stats in conn.scalars(
                sa.select(Run.stats).where(Run.spider == run.spider, coverage.same_target(run.target), Run.id < run_id,
                                           Run.status == "finished").order_by(Run.id.desc()).limit(last))]

    def run_stats(self, run_id: int) -> dict[str, Any]:
        """The crawl statistics a run was finished with ({} while it runs)."""
        with self.reading() as conn:
            return conn.scalar(sa.select(Run.stats).where(Run.id == run_id)) or {}

    def run_summary(self, run_id: int) -> dict[str, Any]:
        with self.reading() as conn:
            return _run_summary(conn, run_id)

    def runs(self, last: int = 10) -> list[dict[str, Any]]:
        """The last runs, newest first, each with its summary."""
        with self.reading() as conn:
            rows = conn.execute(sa.select(Run).order_by(Run.id.desc()).limit(last)).mappings().all()
            return [{**dict(row), **_run_summary(conn, row["id"])} for row in rows]

    # -- leads -----------------------------------------------------------------------------------

    def leads(self, *, limit: int | None = 100, **filters: Any) -> list[dict[str, Any]]:
        """Leads as the export shows them; filters as lead_query takes them."""
        with self.reading() as conn:
            return [dict(row) for row in conn.execute(lead_query(**filters).limit(limit)).mappings()]

    def count_leads(self, **filters: Any) -> int:
        """How many leads the filters select (lead_query's filters)."""
        with self.reading() as conn:
            query = lead_query(**filters).order_by(None).with_only_columns(sa.func.count(Lead.id))
            return conn.scalar(query)

    def lead(self, lead_id: int, scope: Sequence[str] | None = None) -> dict[str, Any]:
        """One lead with its hits (with context), its listing's price history, its shop and its recorded
        changes; scope: the regions the reader may see (a lead outside them is "no such lead")."""
        with self.reading() as conn:
            found = conn.execute(lead_query(scope=scope).where(Lead.id == lead_id)).mappings().one_or_none()
            if found is None:
                raise StoreError(f"there is no lead {lead_id}")
            lead = dict(found)
            lead["events"] = lead_events(conn, [lead_id])
            subject = conn.execute(sa.select(Lead.listing_id, Lead.shop_id).where(Lead.id == lead_id)).one()
            lead["hits"] = [dict(row) for row in conn.execute(
                sa.select(LeadHit.run_id, Run.started_at, LeadHit.field, LeadHit.start, LeadHit.end,
                          LeadHit.match, LeadHit.context, LeadHit.warc_file, LeadHit.warc_offset,
                          LeadHit.warc_length, LeadHit.warc_sha256)
                .join(Run, Run.id == LeadHit.run_id).where(LeadHit.lead_id == lead_id)
                .order_by(LeadHit.run_id, LeadHit.field, LeadHit.start)).mappings()]
            lead["price_history"] = [dict(row) for row in conn.execute(
                sa.select(Snapshot.run_id, Snapshot.fetched_at, Snapshot.price, Snapshot.original_price,
                          Snapshot.content_hash)
                .where(Snapshot.listing_id == subject.listing_id).order_by(Snapshot.fetched_at)).mappings()]
            shop = conn.execute(sa.select(ShopRow).where(ShopRow.id == subject.shop_id)).mappings().one_or_none()
            lead["shop"] = dict(shop) if shop else None
            lead["evidence"] = evidence_reads.first_and_latest(evidence_reads.sightings(conn, [lead_id]))
            return lead

    def sightings(self, lead_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """The leads' sightings with the WARC record of each (netwatch.store.evidence_reads.sightings)."""
        with self.reading() as conn:
            if lead_ids is not None:
                known = set(conn.scalars(sa.select(Lead.id).where(Lead.id.in_(sorted(set(lead_ids))))))
                missing = sorted(set(lead_ids) - known)
                if missing:
                    raise StoreError(f"no such lead: {', '.join(map(str, missing))}")
            return evidence_reads.sightings(conn, lead_ids)

    def new_serious_leads(self, run_id: int, min_severity: str = "high", limit: int = 50,
                          capture: str | None = None) -> list[dict[str, Any]]:
        """netwatch.store.evidence_reads.new_serious_leads."""
        with self.reading() as conn:
            return evidence_reads.new_serious_leads(conn, run_id, min_severity, limit, capture)

    def set_status(self, lead_ids: Sequence[int], status: str | None = None, *, assignee: str | None = None,
                   note: str | None = None, region: str | None = None, user: str = "cli",
                   scope: Sequence[str] | None = None) -> int:
        """Change leads (status along vocab.TRANSITIONS, assignee, region hand-off, a note), all or none, each
        change recorded with `user` (netwatch.store.triage). scope: the regions the user may change."""
        wanted = sorted(set(lead_ids))
        return self._write(lambda conn: change_leads(conn, wanted, user, status=status, assignee=assignee,
                                                     region=region, note=note, scope=scope),
                           f"changing lead(s) {', '.join(map(str, wanted))} in")

    def give_region(self, region: str, first_run_ids: Sequence[int]) -> int:
        """The leads these crawl runs found first, not yet in a region, are `region`'s (a nightly run hands
        each target's new leads to the target's region). A hand-off later changes it, recorded."""
        def work(conn: sa.Connection) -> int:
            return conn.execute(sa.update(Lead).where(Lead.first_run_id.in_(list(first_run_ids)),
                                                      Lead.region.is_(None)).values(region=region)).rowcount

        return self._write(work, f"giving the leads of run(s) {', '.join(map(str, first_run_ids))} to {region} in") \
            if first_run_ids and region != UNASSIGNED else 0

    def lead_events(self, lead_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every recorded change of these leads, oldest first."""
        with self.reading() as conn:
            return lead_events(conn, lead_ids)

    # -- the follow-up modules' queries (netwatch.store.rechecks, .sampling, .campaigns) ---------------

    def read(self, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """query(conn, *args, **kwargs) on a read-only connection."""
        with self.reading() as conn:
            return query(conn, *args, **kwargs)

    def write(self, work: Callable[..., Any], doing: str, *args: Any, **kwargs: Any) -> Any:
        """work(conn, *args, **kwargs) in one write transaction; `doing` names it in error messages."""
        return self._write(lambda conn: work(conn, *args, **kwargs), f"{doing} in")

    # -- seller networks (netwatch.store.networks) --------------------------------------------------

    def refresh_seller_groups(self) -> int:
        """Regroup shops by the identifiers they share (after a run stored shops); returns the groups."""
        return self._write(networks.refresh_groups, "grouping shops by the identifiers they share in")

    def seller_groups(self) -> list[dict[str, Any]]:
        """Every group of two or more linked shops, with its shops and linking evidence."""
        with self.reading() as conn:
            return networks.all_groups(conn)

    def seller_group(self, shop: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The shop a user named (`platform/shop_id`, a row id or a name) and its group (None: linked to none)."""
        with self.reading() as conn:
            found = networks.find_shops(conn, shop)
            if not found:
                raise StoreError(f"no shop {shop!r}: name one as platform/shop_id (e.g. netmall/1001), by its "
                                 "number or by its name")
            if len(found) > 1:
                raise StoreError(f"{shop!r} names {len(found)} shops ("
                                 + ", ".join(f"{row['platform']}/{row['shop_id']}" for row in found[:5])
                                 + "): name one as platform/shop_id")
            group_id = networks.group_of(conn, found[0]["id"])
            return found[0], (networks.group_details(conn, group_id) if group_id is not None else None)


def _run_summary(conn: sa.Connection, run_id: int) -> dict[str, Any]:
    run = conn.execute(sa.select(Run).where(Run.id == run_id)).mappings().one_or_none()
    if run is None:
        raise StoreError(f"there is no run {run_id}")
    stats = run["stats"] or {}
    seen = sa.select(LeadHit.lead_id).where(LeadHit.run_id == run_id).distinct().subquery()
    by_category = dict(conn.execute(
        sa.select(Lead.category, sa.func.count()).join(seen, seen.c.lead_id == Lead.id).group_by(Lead.category)).all())
    new = conn.scalar(sa.select(sa.func.count()).select_from(Lead).where(Lead.first_run_id == run_id))
    seen_total = sum(by_category.values())
    return {
        "pages": int(stats.get("response_received_count", 0)),
        "listings": conn.scalar(sa.select(sa.func.count()).select_from(Snapshot).where(Snapshot.run_id == run_id)),
        "leads_by_category": by_category,
        "new": new,
        "recurring": seen_total - new,
        "gone": coverage.gone_leads(conn, run, partial=bool(stats.get(PARTIAL_CRAWL))),
    }
