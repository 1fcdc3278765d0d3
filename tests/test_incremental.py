"""Incremental nightly crawls on the demo marketplace (issue 7): a second night on an unchanged market
skips every known listing page, yet sees every listing and every lead again; a listing repriced on its
list page is fetched again; a revisit interval of 0 asks for every page again, conditionally (304s)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from netwatch.crawl.incremental import NOT_MODIFIED_STAT, SKIPPED_STAT
from netwatch.exits import EXIT_OK
from netwatch.ops.nightly import run_nightly
from netwatch.ops.watchlist import add_target, make_spec, open_engine
from netwatch.store.models import Base, ListingRow, Run, Snapshot
from netwatch.store.watchlist_models import NightlyTargetRun

INCREMENTAL = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0, "NETWATCH_INCREMENTAL": True}
SIZE = {"shops": 3, "items_per_shop": 10}


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    with engine.begin() as conn:  # the PostgreSQL schema is shared by the session's tests
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield engine
    engine.dispose()


def crawl_stats(engine, nightly_run_id: int) -> dict:
    with engine.begin() as conn:
        return conn.scalar(sa.select(Run.stats).join(NightlyTargetRun, NightlyTargetRun.crawl_run_id == Run.id)
                           .where(NightlyTargetRun.nightly_run_id == nightly_run_id))


def listed(engine) -> dict[str, tuple]:
    """canonical_id -> (list price, list title, active) of the marketplace's listings seen on list pages."""
    with engine.begin() as conn:
        return {row.canonical_id: (row.list_price, row.list_title, row.active) for row in conn.execute(
            sa.select(ListingRow).where(ListingRow.platform == "netmall", ListingRow.list_title.is_not(None)))}


def test_unchanged_market_second_night_skips_known_pages(engine, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(**SIZE) as mall:
        add_target(engine, make_spec("netmall", profile="netmall", url=mall.urls["netmall"], tags="nightly"))
        first = run_nightly(db_url, outbox=tmp_path, settings=INCREMENTAL, day=date(2026, 3, 1))
        known = listed(engine)
        with engine.begin() as conn:
            with_etag = conn.scalar(sa.select(sa.func.count()).select_from(ListingRow).where(
                ListingRow.platform == "netmall", ListingRow.etag.is_not(None), ListingRow.list_title.is_not(None)))
        second = run_nightly(db_url, outbox=tmp_path, settings=INCREMENTAL, day=date(2026, 3, 2))
        third = run_nightly(db_url, outbox=tmp_path, settings={**INCREMENTAL, "NETWATCH_REVISIT_DAYS": 0},
                            day=date(2026, 3, 3))

    stats1, stats2, stats3 = (crawl_stats(engine, night.nightly_run_id) for night in (first, second, third))
    assert first.exit_code == second.exit_code == third.exit_code == EXIT_OK, (second.alarms, third.alarms)
    assert SKIPPED_STAT not in stats1  # nothing known yet
    assert len(known) >= 25 and all(active for _, _, active in known.values())
    # every listing reachable from a list page was known, active and unchanged: none fetched again
    assert stats2[SKIPPED_STAT] == len(known)
    assert stats2["downloader/request_count"] <= stats1["downloader/request_count"] - len(known)
    assert first.new > 5
    assert (second.new, second.recurring, second.gone) == (0, first.new, 0)
    assert (third.new, third.recurring, third.gone) == (0, first.new, 0)
    # revisit interval 0: every page is due again, asked for with its ETag, and answered 304 Not Modified
    assert stats3.get(SKIPPED_STAT, 0) == 0
    # (the mall's fault pages, e.g. its malformed item page, carry no ETag: those are fetched whole)
    assert len(known) - 2 <= with_etag <= len(known)
    assert stats3[NOT_MODIFIED_STAT] == stats3["downloader/response_status_count/304"] == with_etag
    assert stats3.get("netwatch/items/listing", 0) == len(known) - with_etag
    with engine.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ListingRow).where(ListingRow.active.is_(False))) == 0
        night2 = stats2["netwatch/run_id"]
        # skipped listings were not observed: no snapshot of them in night 2
        assert conn.scalar(sa.select(sa.func.count()).select_from(Snapshot).where(Snapshot.run_id == night2)) \
            == stats2.get("netwatch/items/listing", 0)


def test_listing_changed_on_its_list_page_is_fetched_again(engine, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(day=0, **SIZE) as mall:
        port = mall.port
        add_target(engine, make_spec("netmall", profile="netmall", url=mall.urls["netmall"], tags="nightly"))
        run_nightly(db_url, outbox=tmp_path, settings=INCREMENTAL, day=date(2026, 3, 1))
    before = listed(engine)
    with start_mall(day=1, port=port, **SIZE):
        second = run_nightly(db_url, outbox=tmp_path, settings=INCREMENTAL, day=date(2026, 3, 2))
    after = listed(engine)
    night2 = crawl_stats(engine, second.nightly_run_id)
    changed = {key for key, (price, title, _) in after.items()
               if key in before and (price, title) != before[key][:2]}
    added = after.keys() - before.keys()
    assert changed and added  # the market repriced or retitled some listings and added others
    with engine.begin() as conn:
        fetched = set(conn.scalars(sa.select(ListingRow.canonical_id).join(Snapshot, Snapshot.listing_id == ListingRow.id)
                                   .where(Snapshot.run_id == night2["netwatch/run_id"])))
        delisted = set(conn.scalars(sa.select(ListingRow.canonical_id).where(ListingRow.active.is_(False))))
    assert changed | added <= fetched
    assert delisted and not delisted & fetched  # gone from its shop's list: neither fetched nor kept active
    unchanged_active = {key for key in before if key not in changed and key not in delisted}
    assert night2[SKIPPED_STAT] == len(unchanged_active)
