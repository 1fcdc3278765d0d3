"""The lead store on SQLite and PostgreSQL: schema, idempotent upserts, lead lifecycle, price history, errors."""

from __future__ import annotations

import importlib
import os
import pkgutil
import stat
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from test_store_helpers import hit, listing, review, shop, store_url  # noqa: F401  (store_url is a fixture)

import netwatch.store
from netwatch.analysis.post_run import finish
from netwatch.analysis.price_history import check_price_fraud
from netwatch.store import Store, StoreError
from netwatch.store.models import Base
from netwatch.store.schema import alembic_config, create_engine


def count(store: Store, table: str, where: str = "1=1") -> int:
    with store.engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"))


def lead_rows(store: Store) -> list[dict]:
    return store.leads(limit=None)


def test_schema_is_created_on_first_use_and_matches_the_models(store_url):
    for module in pkgutil.iter_modules(netwatch.store.__path__):  # every table declared on Base
        if module.name.endswith("models"):
            importlib.import_module(f"netwatch.store.{module.name}")
    with Store(store_url) as store:
        with store.engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
            assert MigrationContext.configure(conn).get_current_heads() == (head,)
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with Store(store_url) as again:  # opening an up-to-date store changes nothing
        assert count(again, "runs") == 0


def test_new_sqlite_file_opened_by_several_threads_at_once_is_migrated_once(tmp_path):
    """Two spiders in one process opening a new database: Alembic's context is process-global, so
    concurrent migrations ran on each other's connection (an error, or a crash of the interpreter)."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start, errors = threading.Barrier(4), []

    def open_store() -> None:
        start.wait()
        try:
            Store(url).close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(url) as store:
        assert count(store, "runs") == 0


def test_rerun_adds_snapshots_and_sightings_but_no_duplicate_lead(store_url):
    with Store(store_url) as store:
        items = [shop("s1"), listing(1, hits=[hit("最佳"), hit("最佳", field="description", start=7)]),
                 listing(2, hits=[hit("国家级", rule="national")]), listing(3)]
        first = store.start_run("netmall")
        store.save_batch(first, items)
        store.save_batch(first, items)  # the same batch twice in one run is idempotent
        finish(store, first, {"response_received_count": 5}, "finished")
        assert count(store, "leads") == 2 and count(store, "lead_hits") == 3
        assert {row["times_seen"] for row in lead_rows(store)} == {1}

        second = store.start_run("netmall")
        moved = [listing(1, port=9001, hits=[hit("最佳")]), listing(2, port=9001, hits=[hit("国家级", rule="national")]),
                 listing(3, port=9001)]  # the port changed: still the same listings
        store.save_batch(second, moved)
        finish(store, second, {}, "finished")

        assert count(store, "listings") == 3
        assert count(store, "listing_snapshots") == 6
        assert count(store, "leads") == 2
        assert {row["times_seen"] for row in lead_rows(store)} == {2}
        assert {row["listing_url"] for row in lead_rows(store)} == {
            "http://127.0.0.1:9001/item/1", "http://127.0.0.1:9001/item/2"}
        summary = store.run_summary(second)
        assert summary["listings"] == 3 and summary["new"] == 0 and summary["recurring"] == 2
        assert store.run_summary(first)["pages"] == 5 and store.run_summary(first)["new"] == 2


def test_shop_hits_make_shop_leads_and_reviews_are_stored_once(store_url):
    with Store(store_url) as store:
        run = store.start_run("netmall")
        licence = hit("未公示营业执照", pack="licence", rule="missing_licence", category="missing_licence",
                      field="licence")
        reviews = [review("好评返现5元", "r1"), review("很好"), review("很好")]
        store.save_batch(run, [shop("s9", hits=[licence], credit_code=None), listing(1, shop="s9", reviews=reviews)])
        store.save_batch(run, [listing(1, shop="s9", reviews=reviews)])
        assert count(store, "reviews") == 2
        (row,) = lead_rows(store)
        assert row["shop_name"] == "店铺s9" and row["listing_url"] is None and row["category"] == "missing_licence"


def test_severity_keeps_the_highest_seen(store_url):
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, hits=[hit(severity="low"), hit(severity="critical", start=5)])])
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit(severity="medium")])])
        (row,) = lead_rows(store)
        assert row["severity"] == "critical"


def test_status_transitions_and_invalid_ones_refused(store_url):
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(n, hits=[hit()]) for n in (1, 2, 3)])
        one, two, three = (row["lead_id"] for row in lead_rows(store))
        with pytest.raises(StoreError, match=r"new → handed_off"):
            store.set_status([one], "handed_off")
        with pytest.raises(StoreError, match="no such lead: 999"):
            store.set_status([one, 999], "confirmed")
        assert store.set_status([one, two], "confirmed", assignee="王科长", note="核查属实") == 2
        # all or nothing: lead three cannot be handed off, so lead one is not either
        with pytest.raises(StoreError, match="refused"):
            store.set_status([one, three], "handed_off")
        assert store.lead(one)["status"] == "confirmed"
        store.set_status([one], "handed_off")
        store.set_status([one], "resolved")
        with pytest.raises(StoreError, match="unknown status"):
            store.set_status([two], "closed")
        lead = store.lead(one)
        assert (lead["status"], lead["assignee"], lead["note"]) == ("resolved", "王科长", "核查属实")

        # a resolved listing flagged again is a new lead again (the same lead, with its history)
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit()])])
        assert store.lead(one)["status"] == "new" and store.lead(one)["times_seen"] == 2


def test_dismissed_stays_dismissed_unless_the_matched_text_changes(store_url):
    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit("最佳")])])
        (lead_id,) = (row["lead_id"] for row in lead_rows(store))
        store.set_status([lead_id], "dismissed", note="象牙白是颜色")
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit("最佳")])])
        assert store.lead(lead_id)["status"] == "dismissed"
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit("最佳"), hit("第一", start=9)])])
        lead = store.lead(lead_id)
        assert lead["status"] == "new" and lead["times_seen"] == 3 and count(store, "leads") == 1


def test_price_fraud_comparison_price_above_seven_day_low(store_url):
    with Store(store_url) as store:
        day = lambda n: f"2024-05-{n:02d}T02:00:00+08:00"  # noqa: E731
        for number, (price, original) in enumerate([(100.0, None), (120.0, None), (300.0, None)], start=1):
            run = store.start_run("netmall")
            store.save_batch(run, [listing(1, price=price, original=original, fetched_at=day(number)),
                                   listing(2, price=200.0, fetched_at=day(number))])
            finish(store, run, {}, "finished")
        assert count(store, "leads") == 0

        # day 8: "原价 ¥300, now ¥150" while it sold at ¥100 on day 1, within the seven days before
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, price=150.0, original=300.0, fetched_at=day(8)),
                               listing(2, price=180.0, original=200.0, fetched_at=day(8))])  # honest: 200 was the low
        finish(store, run, {}, "finished")
        (lead,) = lead_rows(store)
        assert lead["category"] == "price_fraud" and lead["severity"] == "high"
        assert lead["matched_text"] == "原价 ¥300.00 > 7日最低价 ¥100.00"
        assert lead["legal_basis"] == "《明码标价和禁止价格欺诈规定》第十六条第二款、第十九条第（三）项"
        assert "2024-04-30" in lead["context"]  # day 1 at 02:00+08:00 is 2024-04-30 18:00 UTC
        assert len(store.lead(lead["lead_id"])["price_history"]) == 4
        assert check_price_fraud(store, run) == 0  # checking again creates nothing new
        assert count(store, "leads") == 1


def test_price_fraud_ignores_a_comparison_price_that_stood_all_week(store_url):
    """A standing 划线价 is a reference price; the rule targets one set or raised before a discount."""
    with Store(store_url) as store:
        for number in range(1, 9):
            run = store.start_run("netmall")
            store.save_batch(run, [listing(1, price=100.0, original=300.0, fetched_at=f"2024-05-{number:02d}T00:00:00Z")])
            finish(store, run, {}, "finished")
        assert count(store, "leads") == 0
        # ... but raising it again, above the week's low, is flagged.
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, price=150.0, original=399.0, fetched_at="2024-05-09T00:00:00Z")])
        finish(store, run, {}, "finished")
        assert [row["matched_text"] for row in lead_rows(store)] == ["原价 ¥399.00 > 7日最低价 ¥100.00"]


def test_price_history_definitions_examples_hold():
    """rules/checks/price_history.yaml's examples, crawl by crawl through a scratch store and the real check."""
    from netwatch import config
    from netwatch.checks.definitions import load_check_definitions
    from netwatch.checks.examples import run_check_examples

    run, failures = run_check_examples(load_check_definitions(config.rules_dir() / "checks"), "price_history")
    assert run >= 5 and failures == [], "\n".join(map(str, failures))


def test_price_fraud_ignores_prices_older_than_seven_days(store_url):
    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(1, price=100.0, fetched_at="2024-05-01T00:00:00Z")])
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, price=250.0, original=300.0, fetched_at="2024-05-10T00:00:00Z")])
        assert check_price_fraud(store, run) == 0


def test_finished_run_marks_unseen_listings_delisted_and_counts_gone_leads(store_url):
    with Store(store_url) as store:
        first = store.start_run("netmall", target="http://127.0.0.1:8000/")
        store.save_batch(first, [listing(1, hits=[hit()]), listing(2, hits=[hit()]), listing(3)])
        finish(store, first, {}, "finished")
        second = store.start_run("netmall", target="http://127.0.0.1:8000/")
        store.save_batch(second, [listing(1, hits=[hit()]), listing(3)])
        finish(store, second, {}, "finished")
        assert count(store, "listings", "active = false") == 1  # listing 2 went
        summary = store.run_summary(second)
        assert (summary["new"], summary["recurring"], summary["gone"]) == (0, 1, 1)
        assert summary["leads_by_category"] == {"false_advertising": 1}
        # a failed run delists nothing: it may simply not have got that far
        third = store.start_run("netmall", target="http://127.0.0.1:8000/")
        store.save_batch(third, [listing(3)])
        finish(store, third, {}, "failed")
        assert count(store, "listings", "active = false") == 1
        assert [row["id"] for row in store.runs(last=2)] == [third, second]


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(StoreError, match="unreachable"):
        Store("postgresql+psycopg://postgres@127.0.0.1:1/test")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'nowhere' / 'netwatch.db'}")


def test_read_only_file_is_refused_and_left_intact(tmp_path):
    path = tmp_path / "netwatch.db"
    with Store(f"sqlite:///{path}") as store:
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit()])])
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(StoreError, match="read-only"):
            Store(f"sqlite:///{path}")
    finally:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with Store(f"sqlite:///{path}") as store:
        assert count(store, "leads") == 1


def test_upgrade_from_w001_keeps_leads_and_their_hits(store_url):
    """Migration 0002 copies leads on SQLite: with foreign keys on, dropping the old table would cascade."""
    engine = create_engine(store_url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "w001")
        conn.commit()
    engine.dispose()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (id, spider, started_at, status) "
                             "VALUES (1000, 'netmall', '2024-05-01', 'finished')"))
        conn.execute(sa.text(
            "INSERT INTO leads (id, subject, subject_id, pack, rule, category, severity, severity_rank, first_seen, "
            "last_seen, times_seen, first_run_id, last_run_id, status, updated_at) VALUES (1000, 'shop', 7, 'ads', "
            "'best', 'false_advertising', 'low', 1, '2024-05-01', '2024-05-01', 1, 1000, 1000, 'new', '2024-05-01')"))
        conn.execute(sa.text('INSERT INTO lead_hits (lead_id, run_id, field, start, "end", match) '
                             "VALUES (1000, 1000, 'title', 0, 2, '最佳')"))
    engine.dispose()
    with Store(store_url) as store:
        assert [hit["match"] for hit in store.lead(1000)["hits"]] == ["最佳"]
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit()])])
        assert count(store, "leads") == 2 and count(store, "lead_hits") == 2


def test_schema_from_a_newer_version_is_refused_untouched(store_url):
    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit()])])
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError, match="0099, newer than this netwatch"):
        Store(store_url)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0099"
        assert conn.scalar(sa.text("SELECT count(*) FROM leads")) == 1
    engine.dispose()


def test_full_disk_loses_only_the_batch_in_flight(tmp_path):
    url = f"sqlite:///{tmp_path / 'netwatch.db'}"
    with Store(url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(n, hits=[hit()]) for n in range(10)])
        with store.engine.connect() as conn:
            used = conn.exec_driver_sql("PRAGMA page_count").scalar()
        # SQLite's page limit gives the same SQLITE_FULL error as a full disk.
        sa.event.listen(store.engine, "connect",
                        lambda dbapi, _rec: dbapi.execute(f"PRAGMA max_page_count = {used + 2}"))
        store.engine.dispose()
        big = [listing(n, hits=[hit("最佳" * 200)], title="长" * 5000) for n in range(10, 400)]
        with pytest.raises(StoreError, match="disk is full"):
            store.save_batch(run, big)
        assert count(store, "listings") == 10 and count(store, "leads") == 10


def test_hit_objects_work_like_dicts(store_url):
    """The rule engine's frozen Hit dataclass (any object with the attributes) is accepted."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Hit:
        pack: str
        rule: str
        category: str
        severity: str
        field: str
        start: int
        end: int
        match: str
        context: str
        legal_basis: str

    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[Hit(**hit("象牙", severity="critical"))])])
        (row,) = lead_rows(store)
        assert (row["matched_text"], row["severity"]) == ("象牙", "critical")


def test_a_listing_twice_in_one_batch_is_stored_once_as_last_seen(store_url):
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, hits=[hit("最佳")], title="旧标题"), listing(2),
                               listing(1, hits=[hit("第一")], title="新标题", price=80.0)])
        assert count(store, "listings") == 2 and count(store, "listing_snapshots") == 2
        (row,) = lead_rows(store)
        assert (row["title"], row["price"], row["matched_text"]) == ("新标题", 80.0, "第一")
        assert count(store, "lead_hits") == 1


def test_a_batch_mixing_new_and_known_leads_links_each_hit_to_its_own_lead(store_url):
    with Store(store_url) as store:
        first = store.start_run("netmall")
        store.save_batch(first, [listing(n, hits=[hit(f"词{n}")]) for n in range(1, 21)])
        known = {row["title"]: row["lead_id"] for row in lead_rows(store)}
        second = store.start_run("netmall")
        # the known leads of listings 11-20, a new rule on listing 15 and new listings 21-40, in one batch
        store.save_batch(second, [listing(n, hits=[hit(f"词{n}")] + ([hit("国家级", rule="national", start=5)]
                                                                   if n == 15 else []))
                                  for n in range(11, 41)])
        rows = lead_rows(store)
        assert len(rows) == 41 and count(store, "lead_hits") == 20 + 31
        for row in rows:
            number = int(row["title"].removeprefix("商品"))
            assert row["times_seen"] == (2 if 11 <= number <= 20 and row["rule"] == "ads/absolute_terms" else 1)
            if row["rule"] == "ads/absolute_terms" and number <= 20:
                assert row["lead_id"] == known[row["title"]]  # the same lead, updated in place
            hits = store.lead(row["lead_id"])["hits"]
            assert {h["match"] for h in hits} == {row["matched_text"]}  # each hit went to its own lead
            assert [h["run_id"] for h in hits] == ([first, second] if row["times_seen"] == 2 else
                                                   [first] if number <= 10 else [second])


def test_a_dismissed_lead_in_a_mixed_batch_comes_back_only_when_its_text_changes(store_url):
    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(n, hits=[hit("最佳")]) for n in (1, 2, 3)])
        one, two, three = (row["lead_id"] for row in lead_rows(store))
        store.set_status([one, two], "dismissed")
        store.save_batch(store.start_run("netmall"), [
            listing(1, hits=[hit("最佳")]),                        # same text: stays dismissed
            listing(2, hits=[hit("最佳"), hit("顶级", start=4)]),  # text changed: new again
            listing(3, hits=[hit("最佳")]), listing(4, hits=[hit("最佳")])])
        status = {row["lead_id"]: row["status"] for row in lead_rows(store)}
        assert (status[one], status[two], status[three]) == ("dismissed", "new", "new") and len(status) == 4
        assert store.lead(two)["matched_text"] == "最佳 | 顶级"


def test_a_batch_for_an_unknown_run_is_refused_and_the_next_batch_still_saved(store_url):
    with Store(store_url) as store:
        with pytest.raises(StoreError, match="no run 999"):
            store.save_batch(999, [listing(1, hits=[hit()])])
        assert count(store, "listings") == 0
        store.save_batch(store.start_run("netmall"), [listing(1, hits=[hit()]), shop("s1")])
        assert count(store, "leads") == 1 and count(store, "shops") == 1


def test_a_listing_known_only_by_reference_keeps_what_is_known(store_url):
    """A reviews-only import names a listing by id: its title, price and price history stay as crawled."""
    from netwatch.domain.items import Listing, Review

    with Store(store_url) as store:
        store.save_batch(store.start_run("netmall"), [listing(1, price=99.0, original=199.0, title="充电宝")])
        reference = Listing(url="import://netmall/item/1", canonical_id="1", platform="netmall",
                            reviews=[Review(text="很好", reviewer="u1", review_id="r1")])
        store.save_batch(store.start_run("import"), [reference])
        with store.reading() as conn:
            row = conn.execute(sa.text("SELECT title, price, original_price, url FROM listings")).one()
            assert tuple(row) == ("充电宝", 99.0, 199.0, "http://127.0.0.1:8000/item/1")
            assert conn.scalar(sa.text("SELECT count(*) FROM listing_snapshots")) == 1
            assert conn.scalar(sa.text("SELECT count(*) FROM reviews")) == 1


def test_shop_pages_after_shops_known_only_from_listings(store_url):
    """Regression: on PostgreSQL both kinds of shop rows were staged in one temporary table, shaped by
    whichever came first on the connection, so shop pages after listing-only batches failed."""
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, shop="s1")])  # s1 known only by name, from its listing
        store.save_batch(run, [shop("s2"), shop("s1", credit_code="91350100M000100Y43")])
        with store.reading() as conn:
            rows = conn.execute(sa.text("SELECT shop_id, url, credit_code FROM shops ORDER BY shop_id")).all()
        assert [tuple(row) for row in rows] == [
            ("s1", "http://127.0.0.1:8000/shop/s1", "91350100M000100Y43"),
            ("s2", "http://127.0.0.1:8000/shop/s2", "91350100M000100Y43")]


def test_a_batch_failing_midway_loses_only_itself(store_url):
    """The batch's shops and listings are written before its bad hit fails it: all of it is rolled back,
    and the next batch on the same connection starts clean (PostgreSQL's staging tables included)."""
    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, hits=[hit("最佳")])])
        with pytest.raises(ValueError):
            store.save_batch(run, [shop("s2"), listing(2, shop="s2", hits=[{**hit("顶级"), "start": "第五"}])])
        assert (count(store, "shops"), count(store, "listings"), count(store, "leads")) == (1, 1, 1)
        store.save_batch(run, [listing(3, hits=[hit("第一")])])
        rows = lead_rows(store)
        assert [row["matched_text"] for row in rows] == ["最佳", "第一"]
        assert count(store, "lead_hits") == 2 and count(store, "listing_snapshots") == 2


def test_two_writes_of_one_listing_in_one_transaction(store_url):
    """Each write sees only its own rows: on PostgreSQL a staging table used twice in a transaction is
    emptied first (it is emptied by itself only at commit)."""
    from netwatch.store.writes import save_items

    with Store(store_url) as store:
        run = store.start_run("netmall")
        with store.engine.begin() as conn:
            save_items(conn, run, [listing(1, hits=[hit("最佳")], title="旧标题")])
            save_items(conn, run, [listing(1, hits=[hit("第一", start=5)], title="新标题")])
        (row,) = lead_rows(store)
        assert (row["title"], row["matched_text"], row["times_seen"]) == ("新标题", "第一", 1)
        assert count(store, "lead_hits") == 2 and count(store, "listing_snapshots") == 1


def test_a_bare_reference_with_hits_makes_leads_and_keeps_what_is_known(store_url):
    """A pass over stored listings (e.g. review signals after the crawl) names them by reference, with hits."""
    from netwatch.domain.items import Listing

    with Store(store_url) as store:
        run = store.start_run("netmall")
        store.save_batch(run, [listing(1, price=99.0, title="充电宝", hits=[hit("最佳")])])
        references = [Listing(url="http://127.0.0.1:8000/item/1", canonical_id="1", platform="netmall", shop_id="s1",
                              hits=[hit("好评返现", pack="reviews", rule="brushing_score", category="fake_reviews")])]
        store.save_batch(run, references)
        store.save_batch(run, references)  # saved again in the same run: no second sighting
        rows = {row["rule"]: row for row in lead_rows(store)}
        assert set(rows) == {"ads/absolute_terms", "reviews/brushing_score"}
        assert {(row["title"], row["price"], row["shop_name"], row["times_seen"]) for row in rows.values()} == {
            ("充电宝", 99.0, "店铺s1", 1)}
        assert count(store, "listing_snapshots") == 1 and count(store, "shops") == 1 and count(store, "lead_hits") == 2
