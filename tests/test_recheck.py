"""Re-checks on the demo marketplace over three days, crawled on loopback into SQLite and PostgreSQL: a listing
taken down after its lead (404), one whose violating text the shop removed, one taken down and put up again (the
resolved lead reopened with a note), one left as it was; the nightly run's report shows takedown status."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_nightly import empty_store

from netwatch.cli import cli
from netwatch.ops.nightly import RecheckOptions, crawl_specs_locally, run_nightly
from netwatch.ops.recheck import parse_age, recheck
from netwatch.ops.watchlist import add_target, make_spec
from netwatch.store import Store
from netwatch.store.followup_models import LeadRecheck
from netwatch.store.models import Base, Lead, ListingRow

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}
CLEANED, TAKEN_DOWN, COMES_BACK, LEFT = "100001", "200001", "200006", "200002"  # netmall item ids (plants.yaml)


@pytest.fixture
def store(db_url):
    with Store(db_url) as store:
        empty_store(store.engine)
        yield store


def lead_of(store: Store, item_id: str) -> int:
    with store.reading() as conn:
        return conn.scalar(sa.select(Lead.id).join(ListingRow, ListingRow.id == Lead.listing_id).where(
            ListingRow.platform == "netmall", ListingRow.canonical_id == item_id).order_by(Lead.id).limit(1))


def status(store: Store, lead_id: int) -> tuple[str, str | None]:
    with store.reading() as conn:
        return tuple(conn.execute(sa.select(Lead.status, Lead.note).where(Lead.id == lead_id)).one())


def test_parse_age():
    assert parse_age("3d") == timedelta(days=3) and parse_age("12h") == timedelta(hours=12)
    assert parse_age("2") == timedelta(days=2)
    with pytest.raises(ValueError, match="not an age"):
        parse_age("three days")


def test_takedowns_changes_and_a_reappearance(store, db_url):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(day=0) as mall:
        port = mall.port
        crawled = crawl_specs_locally({0: ("netmall", {}, {"netmall": mall.urls["netmall"]})}, db_url, QUIET)
    assert crawled[0].run_id and int(crawled[0].stats["item_scraped_count"]) > 100
    leads = {item: lead_of(store, item) for item in (CLEANED, TAKEN_DOWN, COMES_BACK, LEFT)}
    assert all(leads.values()), leads
    store.set_status(list(leads.values()), "confirmed")
    store.set_status(list(leads.values()), "handed_off", assignee="王科")
    store.set_status([leads[COMES_BACK]], "resolved")  # the bureau closed it once the listing went
    untouched = lead_of(store, "200003")  # a new lead: not followed, not re-checked

    with start_mall(day=2, port=port):  # two days later
        first = recheck(db_url, settings=QUIET)
    assert not first.errors, first.errors
    assert {leads[k]: first.outcomes[leads[k]] for k in leads} == {
        leads[CLEANED]: "changed", leads[TAKEN_DOWN]: "gone", leads[COMES_BACK]: "gone", leads[LEFT]: "present"}
    assert untouched not in first.outcomes
    assert status(store, leads[COMES_BACK])[0] == "resolved" and first.reopened == []

    # re-checked a moment ago: nothing is due within three days
    assert recheck(db_url, older_than=timedelta(days=3), settings=QUIET).outcomes == {}

    with start_mall(day=3, port=port):  # the 穿山甲 listing is back
        second = recheck(db_url, statuses=["resolved", "handed_off"], settings=QUIET)
    assert second.outcomes[leads[COMES_BACK]] == "reappeared" and second.reopened == [leads[COMES_BACK]]
    state, note = status(store, leads[COMES_BACK])
    assert state == "new" and "再次出现" in note and "穿山甲" in note
    assert second.outcomes[leads[TAKEN_DOWN]] == "gone" and second.outcomes[leads[LEFT]] == "present"
    with store.reading() as conn:
        kept = conn.execute(sa.select(LeadRecheck.outcome, LeadRecheck.lead_status).where(
            LeadRecheck.lead_id == leads[COMES_BACK]).order_by(LeadRecheck.id)).all()
    assert [tuple(row) for row in kept] == [("gone", "resolved"), ("reappeared", "resolved")]

    shown = CliRunner().invoke(cli, ["takedowns"], env={"NETWATCH_DB_URL": db_url})
    assert shown.exit_code == 0, shown.output
    lines = {line.split("\t")[0]: line.split("\t") for line in shown.output.splitlines()[1:]}
    assert lines[str(leads[TAKEN_DOWN])][3] == "已下架" and lines[str(leads[TAKEN_DOWN])][5] == "2"
    assert lines[str(leads[TAKEN_DOWN])][7].endswith("小时")  # time from first found to taken down
    assert lines[str(leads[CLEANED])][3].startswith("已整改")
    assert lines[str(leads[LEFT])][3] == "仍在" and lines[str(leads[LEFT])][7] == "—"
    assert "(Asia/Shanghai)" in lines[str(leads[LEFT])][4]


def test_nightly_run_with_rechecks_reports_takedowns(store, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall(day=0) as mall:
        port = mall.port
        add_target(store.engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀",
                                           tags="nightly"))
        first = run_nightly(db_url, outbox=tmp_path, settings=QUIET, day=date(2026, 3, 1),
                            recheck=RecheckOptions())
    assert first.takedowns is not None and len(first.takedowns) == 1  # nothing followed yet: the header only
    taken = lead_of(store, TAKEN_DOWN)
    store.set_status([taken], "confirmed")
    with start_mall(day=2, port=port):
        second = run_nightly(db_url, outbox=tmp_path, settings=QUIET, day=date(2026, 3, 3),
                             recheck=RecheckOptions(statuses=("confirmed",)))
    assert [row[0] for row in second.takedowns[1:]] == [str(taken)]
    report = second.report_path.read_text(encoding="utf-8")
    assert "## 复查：下架情况" in report  # the report's language: NETWATCH_LANG, Chinese by default
    assert f"| {taken} | 禁限售商品 |" in report and "| 已下架 |" in report
