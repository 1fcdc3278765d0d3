"""The workbench in a real browser (Playwright driving Debian's chromium-headless-shell): two analysts of
different regions and an admin log in, triage, add notes, read the history, open a shop page and the dashboard.
Screenshots are kept in test-artefacts/workbench/ (NETWATCH_ARTEFACTS_DIR) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_store_helpers import store_url  # noqa: F401
from workbench_helpers import PASSWORDS, bench_store, workbench  # noqa: F401

from netwatch import config

pytestmark = pytest.mark.browser
ARTEFACTS = Path(os.environ.get("NETWATCH_ARTEFACTS_DIR") or Path(__file__).resolve().parent.parent / "test-artefacts")


@pytest.fixture
def browser():
    if config.chromium_path() is None:
        pytest.skip("Debian's chromium-headless-shell is not installed")
    from playwright.sync_api import sync_playwright

    from netwatch.crawl.browser import launch_options

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**launch_options())
        try:
            yield launched
        finally:
            launched.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = ARTEFACTS / "workbench"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(browser, base: str, name: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    page.goto(f"{base}/leads")
    assert "/login" in page.url  # no page without a login
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/leads")
    return page


def test_two_analysts_and_an_admin_work_their_leads(browser, workbench, bench_store):
    ivory, cure = bench_store.ids["象牙手镯 正品"], bench_store.ids["包治百病神药"]

    hd = log_in(browser, workbench, "hd")
    assert hd.locator("input.pick").count() == 3 and "包治百病" not in hd.content()
    first = hd.locator("table.leads tbody tr").first
    assert "严重" in first.inner_text() and "象牙手镯" in first.inner_text()  # the worst first
    shot(hd, "1-queue-haidian")
    hd.click(f"a[href='/leads/{ivory}'] >> nth=0")
    assert hd.locator("mark").first.inner_text() == "象牙"
    hd.select_option("#triage select[name=status]", "confirmed")
    hd.fill("#triage textarea[name=note]", "已截图，联系平台下架")
    hd.click("#triage-save")
    hd.wait_for_selector("text=已保存")
    hd.fill("#triage textarea[name=note]", "平台回复：已下架")
    hd.click("#triage-save")
    hd.wait_for_selector("text=平台回复：已下架")
    history = hd.locator("#history").inner_text()
    assert "新线索" in history and "已确认" in history and history.count("hd") == 3
    assert hd.locator("#lead-status").inner_text() == "已确认"
    shot(hd, "2-lead-haidian-history")
    hd.click("#shop-link")
    assert "lvyuan" in hd.locator("#related").inner_text()  # the same credit code on another site
    shot(hd, "3-shop")
    hd.goto(f"{workbench}/leads/{cure}")
    assert "无权查看" in hd.content()  # 朝阳's lead, by URL

    cy = log_in(browser, workbench, "cy")
    assert cy.locator("input.pick").count() == 1 and "包治百病" in cy.content()
    cy.locator("#select-all").check()
    cy.select_option("#bulk select[name=status]", "dismissed")
    cy.fill("#bulk input[name=note]", "宣传用语，非药品")
    cy.click("#bulk-apply")
    cy.wait_for_selector("text=1 条线索已更新")
    assert "已排除" in cy.locator("table.leads tbody").inner_text()
    shot(cy, "4-queue-chaoyang-bulk")

    admin = log_in(browser, workbench, "admin")
    assert admin.locator("input.pick").count() == 4
    admin.goto(f"{workbench}/leads/{ivory}")
    history = admin.locator("#history").inner_text()
    assert "已截图，联系平台下架" in history and "平台回复：已下架" in history  # the analyst's notes, kept
    admin.goto(f"{workbench}/dashboard")
    assert admin.locator("svg").count() == 5 and "每晚新线索" in admin.content()
    shot(admin, "5-dashboard")
    admin.click("a.lang")
    admin.wait_for_selector("h1:has-text(\"Dashboard\")")
    assert "New leads per night" in admin.content()
    shot(admin, "6-dashboard-english")
    assert bench_store.lead(cure)["status"] == "dismissed" and bench_store.lead(ivory)["status"] == "confirmed"


def test_an_analyst_applies_a_change_to_every_lead_of_a_filter(browser, workbench, bench_store):
    ivory, tea, bangle, cure = (bench_store.ids[title] for title in ("象牙手镯 正品", "全网最佳茶叶", "最佳手镯", "包治百病神药"))
    hd = log_in(browser, workbench, "hd")
    hd.goto(f"{workbench}/leads?q=最佳")  # 海淀's two 最佳 leads; 朝阳 has none of them in sight
    hd.fill("#bulk input[name=assignee]", "王科")
    hd.fill("#bulk input[name=note]", "极限用语，统一约谈")
    assert hd.locator("#bulk-filter").inner_text() == "对筛选出的全部 2 条线索执行…"
    hd.click("#bulk-filter")  # nothing ticked: the whole filter
    hd.wait_for_selector("#bulk-confirm")
    assert hd.locator("#bulk-count").get_attribute("data-count") == "2"
    assert "关键词：最佳" in hd.locator("#bulk-filter-conditions").inner_text()
    shot(hd, "7-bulk-filter-confirm")
    hd.click("#bulk-confirm")
    hd.wait_for_selector("text=2 条线索已更新")
    assert hd.locator("table.leads tbody").inner_text().count("王科") == 2
    shot(hd, "8-bulk-filter-done")
    assert {bench_store.lead(lead)["assignee"] for lead in (tea, bangle)} == {"王科"}
    assert bench_store.lead(ivory)["assignee"] is None and bench_store.lead(cure)["assignee"] is None
    assert [(e["field"], e["new"]) for e in bench_store.lead_events([tea]) if e["user"] == "hd"] == [
        ("assignee", "王科"), ("note", "极限用语，统一约谈")]
