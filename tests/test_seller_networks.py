"""Seller networks: identifiers read and normalised from shop pages, shops sharing one linked, groups found
transitively with their evidence, on the demo marketplace crawled on loopback into SQLite and PostgreSQL."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from netwatch.checks.identities import find_identifiers
from netwatch.cli import cli
from netwatch.ops.nightly import crawl_specs_locally
from netwatch.ops.watchlist import add_target, make_spec
from netwatch.store import Store
from netwatch.store.models import Base

QUIET = {"LOG_LEVEL": "ERROR", "NETWATCH_PROGRESS_INTERVAL": 0}
SITES = ("netmall", "lvyuan", "zhenpin", "laopu", "globalgoods")


def values(text: str) -> set[tuple[str, str]]:
    return {(found.kind, found.value) for found in find_identifiers(text)}


def test_one_number_in_every_dress_is_one_value():
    landline = {("phone", "010-62551234")}
    assert values("客服电话：010-6255 1234") == landline
    assert values("热线 +86 10 6255-1234") == landline
    assert values("热线 （010）62551234") == landline
    mobile = {("mobile", "13800138000")}
    assert values("手机：138 0013 8000") == mobile
    assert values("联系电话 +86-13800138000") == mobile
    assert values("手机 ＋８６ １３８－００１３－８０００") == mobile  # full-width digits and signs
    assert values("0086 138 0013 8000") == mobile
    assert values("ＱＱ：２８８１２３４５６") == values("售后QQ 288123456") == {("qq", "288123456")}
    assert values("微信：Lvye_Fresh88") == {("wechat", "lvye_fresh88")}
    assert values("邮箱 Shop@Example.CN") == {("email", "shop@example.cn")}
    # one ICP filing, two of its sites
    assert values("浙ICP备2026031234号-1") == values("浙 ICP 备 2026031234 号-2") == {("icp", "浙ICP备2026031234号")}
    assert values("<script src=https://hm.baidu.com/hm.js?0123456789abcdef0123456789abcdef>") == \
        {("analytics", "0123456789abcdef0123456789abcdef")}
    assert values("gtag UA-12345678-1") == {("analytics", "UA-12345678-1")}
    assert values("partner=2088123412341234") == {("payment", "alipay:2088123412341234")}
    assert values("客服热线 400-820-8820") == {("phone", "4008208820")}


def test_what_is_not_an_identifier():
    import random

    from netwatch_fixtures.mall.creditcode import make_code

    valid, invalid = make_code(random.Random(3)), make_code(random.Random(3), valid=False)
    assert values(f"统一社会信用代码：{valid}") == {("credit_code", valid)}
    assert values(f"统一社会信用代码：{invalid}") == set()  # fails GB 32100-2015: never links two shops
    assert values("订单号 202603011234567890，价格 ¥138.00，库存 13800 件") == set()
    assert values("") == set() and values(None) == set()


@pytest.fixture
def crawled(db_url):
    """The default demo marketplace's five sites crawled through the normal crawl path, into a fresh store."""
    from netwatch_fixtures.mall.launch import start_mall

    with Store(db_url) as store:
        with store.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        with start_mall() as mall:
            add_target(store.engine, make_spec("NetMall", profile="netmall", url=mall.urls["netmall"], region="海淀"))
            add_target(store.engine, make_spec("绿源", profile="lvyuan", url=mall.urls["lvyuan"], region="朝阳"))
            outcomes = crawl_specs_locally({n: (site, {}, {site: mall.urls[site]}) for n, site in enumerate(SITES)},
                                           db_url, QUIET)
        assert all(outcome.run_id and not outcome.error for outcome in outcomes.values()), outcomes
        assert sum(int(o.stats.get("netwatch/items/shop", 0)) for o in outcomes.values()) == 12 + 4
        yield store


def linked_by(group) -> set[tuple[str, str]]:
    return {(link["kind"], link["value"]) for link in group["links"]}


def members(group) -> set[str]:
    return {f"{shop['platform']}/{shop['shop_id']}" for shop in group["shops"]}


def test_shops_sharing_identifiers_are_grouped_with_their_evidence(crawled):
    from netwatch_fixtures.mall.market import MallConfig, shop

    groups = {frozenset(members(group)): group for group in crawled.seller_groups()}
    tea = frozenset({"netmall/1001", "lvyuan/lvyuan", "netmall/1011", "globalgoods/globalgoods"})
    fashion = frozenset({"netmall/1004", "netmall/1006", "zhenpin/zhenpin"})
    assert set(groups) == {tea, fashion}  # netmall/1003's 400 number is its own: no group
    # transitive: 1001 and 1011 share nothing; lvyuan links them (phone on one side, QQ on the other)
    assert linked_by(groups[tea]) == {("phone", "010-62551234"), ("qq", "288123456"), ("icp", "浙ICP备2026031234号")}
    code = shop(MallConfig(), 5).credit_code
    assert linked_by(groups[fashion]) == {("mobile", "13800138000"), ("credit_code", code)}
    phone = next(link for link in groups[tea]["links"] if link["kind"] == "phone")
    shown = {showing["shown"] for showing in phone["shops"]}
    assert shown == {"010-6255 1234", "+86 10 6255-1234"}  # the evidence as each page showed it
    shop_row, group = crawled.seller_group("netmall/1011")
    assert shop_row["name"] == "好味零食铺" and members(group) == tea
    assert crawled.seller_group("netmall/1003")[1] is None


def test_cli_network_in_chinese_and_the_export_has_the_group(crawled, tmp_path):
    env = {"NETWATCH_DB_URL": crawled.url}
    shown = CliRunner().invoke(cli, ["shops", "network", "netmall/1001"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "关联卖家组 G" in shown.output and "4 家店铺" in shown.output
    assert "电话 010-62551234" in shown.output and "QQ号 288123456" in shown.output
    assert "页面显示 “+86 10 6255-1234”" in shown.output and "(Asia/Shanghai)" in shown.output
    english = CliRunner().invoke(cli, ["shops", "network", "好味零食铺", "--lang", "en"], env=env)
    assert "seller group G" in english.output and "linked by" in english.output
    alone = CliRunner().invoke(cli, ["shops", "network", "netmall/1003"], env=env)
    assert alone.exit_code == 0 and "未与其他店铺共用" in alone.output
    missing = CliRunner().invoke(cli, ["shops", "network", "netmall/9999"], env=env)
    assert missing.exit_code == 1 and "no shop 'netmall/9999'" in missing.output

    listing = CliRunner().invoke(cli, ["shops", "networks"], env=env)
    assert listing.exit_code == 0, listing.output
    blocks = [block for block in listing.output.split("\n\n") if block.strip()]
    # the tea group's leads are on two platforms in two regions (netmall 海淀, lvyuan 朝阳): it comes first
    assert "netmall/1001" in blocks[0] and "地区：朝阳、海淀" in blocks[0]

    out = tmp_path / "leads.csv"
    exported = CliRunner().invoke(cli, ["leads", "export", "--out", str(out), "--lang", "zh"], env=env)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    tea_group = crawled.seller_group("netmall/1001")[1]["group_id"]
    grouped = {row["店铺名称"] for row in rows if row["关联卖家组"] == str(tea_group)}
    assert "绿野生鲜旗舰店" in grouped and "古玩雅集" not in grouped
    assert any(row["关联卖家组"] == "" for row in rows)  # shops in no group
