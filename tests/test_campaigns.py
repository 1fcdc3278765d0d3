"""Campaign watches: a tag crawled on its own schedule within a date window (the demo marketplace on loopback,
SQLite and PostgreSQL), the price check tightened to the campaign's window, and a report across its runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from test_nightly import empty_store

from netwatch.analysis.price_history import check_price_fraud
from netwatch.cli import cli
from netwatch.domain.clock import utcnow
from netwatch.domain.items import Listing
from netwatch.ops.campaigns import CampaignWindow, add_campaign, campaign_report, report_markdown, run_campaign
from netwatch.ops.watchlist import add_target, make_spec
from netwatch.store import Store

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}


@pytest.fixture
def store(db_url):
    with Store(db_url) as store:
        empty_store(store.engine)
        yield store


def test_window_in_local_days():
    window = CampaignWindow(date(2026, 11, 1), date(2026, 11, 11), "Asia/Shanghai")
    assert window.bounds() == (datetime(2026, 10, 31, 16, 0), datetime(2026, 11, 11, 16, 0))
    assert not window.contains(datetime(2026, 10, 31, 15, 59)) and window.contains(datetime(2026, 10, 31, 16, 0))
    assert window.contains(datetime(2026, 11, 11, 15, 59)) and not window.contains(datetime(2026, 11, 11, 16, 0))


def test_campaign_price_window_catches_a_comparison_price_the_week_misses(store):
    """A comparison price raised to 300 after a low of 100 twenty days ago: outside the 7-day rule, inside the
    campaign's 30 days."""
    now = utcnow()

    def crawl(days_ago: int, price: float, original: float | None) -> int:
        run_id = store.start_run("test")
        when = (now - timedelta(days=days_ago)).isoformat() + "+00:00"
        store.save_batch(run_id, [Listing(url="http://shop.test/item/1", canonical_id="1", platform="shop.test",
                                          title="羊绒围巾", price=price, original_price=original, fetched_at=when)])
        return run_id

    crawl(20, 100.0, None)
    crawl(5, 320.0, None)
    last = crawl(0, 240.0, 300.0)
    assert check_price_fraud(store, last) == 0  # the week's low is 320: 300 is no false comparison by it
    assert check_price_fraud(store, last, window=timedelta(days=30)) == 1
    lead = store.leads(category="price_fraud")[0]
    assert lead["matched_text"] == "原价 ¥300.00 > 30日最低价 ¥100.00"


def test_campaign_schedule_runs_and_report(store, db_url, tmp_path):
    from netwatch_fixtures.mall.launch import start_mall

    today = (utcnow() + timedelta(hours=8)).date()  # Asia/Shanghai
    add_campaign(store, "双十一", tag="campaign-双十一", starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1),
                 every_hours=4, price_window_days=30)
    with pytest.raises(ValueError, match="ends .* before it starts"):
        add_campaign(store, "bad", tag="x", starts_on=today, ends_on=today - timedelta(days=1))
    env = {"NETWATCH_DB_URL": db_url}
    line = CliRunner().invoke(cli, ["campaign", "schedule", "双十一"], env=env)
    assert line.exit_code == 0, line.output
    assert line.output.startswith("0 */4 ") and "campaign run '双十一' --outbox" in line.output
    assert line.output.strip().endswith("# netwatch nightly campaign 双十一")

    with start_mall(day=0) as mall:
        port = mall.port
        add_target(store.engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀",
                                           tags="campaign-双十一"))
        add_target(store.engine, make_spec("绿源", profile="lvyuan", url=mall.urls["lvyuan"], region="朝阳",
                                           tags="nightly"))
        outside = run_campaign(db_url, "双十一", outbox=tmp_path, settings=QUIET, now=utcnow() + timedelta(days=5))
        assert outside is None  # the schedule fires every day: out of the window nothing is crawled
        first = run_campaign(db_url, "双十一", outbox=tmp_path, settings=QUIET)
    with start_mall(day=1, port=port):
        second = run_campaign(db_url, "双十一", outbox=tmp_path, settings=QUIET)
    assert first.exit_code == 0 and second.exit_code == 0, (first.alarms, second.alarms)
    assert [t.name for t in first.targets] == ["NetMall"]  # the campaign's tag only
    assert first.report_path.parent.parent == tmp_path / "双十一"

    report = campaign_report(store, "双十一")
    assert [run["id"] for run in report["runs"]] == [first.nightly_run_id, second.nightly_run_id]
    assert report["runs"][0]["new"] == first.new and report["runs"][1]["new"] == second.new
    assert report["leads"] == first.new + second.new
    assert report["by_category"]["banned_goods"] >= 5 and report["by_category"]["price_fraud"] >= 1
    assert all(platform == "netmall" for platform, _ in report["by_shop"])  # 绿源 is not in the campaign
    assert report["by_shop"][("netmall", "古玩雅集")] >= 6
    text = report_markdown(report)
    assert "# 专项监测报告：双十一" in text and "| 禁限售商品 |" in text and "| netmall | 古玩雅集 |" in text
    assert "共 2 轮" in text and "(Asia/Shanghai)" in text
    shown = CliRunner().invoke(cli, ["campaign", "report", "双十一", "--lang", "en"], env=env)
    assert shown.exit_code == 0 and "| banned_goods |" in shown.output
