"""The workbench's access control on a real server on loopback (#18): no page or API without a login, a 海淀
analyst can neither read nor change a 朝阳 lead (by URL or by API), forms without the CSRF token change nothing,
failed logins are throttled; and the queue, lead, shop and dashboard pages as an analyst sees them."""

from __future__ import annotations

import re

import requests
from test_store_helpers import store_url  # noqa: F401
from workbench_helpers import PASSWORDS, bench_store, csrf_of, login, workbench  # noqa: F401

PAGES = ["/", "/leads", "/shops", "/dashboard", "/api/leads", "/leads/1", "/api/leads/1", "/shops/1"]


def test_no_page_or_api_without_login(workbench):
    for path in PAGES:
        answer = requests.get(workbench + path, allow_redirects=False)
        if path.startswith("/api/"):
            assert answer.status_code == 401 and answer.json() == {"error": "login required"}, path
        else:
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    answer = requests.post(f"{workbench}/leads/1", data={"note": "x"}, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    login_page = requests.get(f"{workbench}/login")
    assert login_page.status_code == 200 and "登录" in login_page.text  # Chinese by default
    assert "default-src 'self'" in login_page.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', login_page.text)  # every asset from this server


def test_an_analyst_cannot_read_or_change_another_regions_lead(workbench, bench_store):
    chaoyang = bench_store.ids["包治百病神药"]
    haidian = bench_store.ids["象牙手镯 正品"]
    hd = login(workbench, "hd")
    queue = hd.get(f"{workbench}/leads").text
    assert "象牙手镯" in queue and "包治百病" not in queue
    assert hd.get(f"{workbench}/leads?region=朝阳").text.count('class="pick"') == 0
    assert hd.get(f"{workbench}/leads/{chaoyang}").status_code == 404
    assert hd.get(f"{workbench}/api/leads/{chaoyang}").status_code == 404
    assert [lead["lead_id"] for lead in hd.get(f"{workbench}/api/leads").json()["leads"]].count(chaoyang) == 0
    assert hd.get(f"{workbench}/api/leads?q=包治百病").json()["total"] == 0
    # changing it: by the page's form, the bulk form and the API; nothing changes, nothing is recorded
    answer = hd.post(f"{workbench}/leads/{chaoyang}", data={"csrf": hd.csrf, "status": "dismissed", "note": "越权"})
    assert answer.status_code == 404
    answer = hd.post(f"{workbench}/leads/bulk", data={"csrf": hd.csrf, "ids": [haidian, chaoyang], "status": "confirmed"})
    assert answer.status_code == 409  # all or none: the 海淀 lead is not changed either
    answer = hd.post(f"{workbench}/api/leads/{chaoyang}", json={"status": "dismissed"},
                     headers={"X-CSRF-Token": hd.csrf})
    assert answer.status_code == 404 and answer.json() == {"error": "no such lead"}
    for lead_id in (chaoyang, haidian):
        assert bench_store.lead(lead_id)["status"] == "new"
    assert [e["user"] for e in bench_store.lead_events([chaoyang])] == ["setup"]
    # the 朝阳 analyst and the admin do see it; the shop page of the 朝阳 shop is not the 海淀 analyst's
    assert login(workbench, "cy").get(f"{workbench}/leads/{chaoyang}").status_code == 200
    assert login(workbench, "admin").get(f"{workbench}/api/leads/{chaoyang}").json()["region"] == "朝阳"
    shop_ref = bench_store.lead(chaoyang)["shop"]["id"]
    assert hd.get(f"{workbench}/shops/{shop_ref}").status_code == 404


def test_changes_without_the_csrf_token_are_refused(workbench, bench_store):
    lead_id = bench_store.ids["象牙手镯 正品"]
    hd = login(workbench, "hd")
    for data in ({"status": "confirmed"}, {"status": "confirmed", "csrf": "forged"}):
        assert hd.post(f"{workbench}/leads/{lead_id}", data=data).status_code == 403
    assert hd.post(f"{workbench}/api/leads/{lead_id}", json={"status": "confirmed"}).status_code == 403
    other = login(workbench, "cy")  # another session's token is not this session's
    assert hd.post(f"{workbench}/leads/{lead_id}", data={"status": "confirmed", "csrf": other.csrf}).status_code == 403
    assert bench_store.lead(lead_id)["status"] == "new" and len(bench_store.lead_events([lead_id])) == 1
    # a login form without the token does not log in
    fresh = requests.Session()
    fresh.get(f"{workbench}/login")
    answer = fresh.post(f"{workbench}/login", data={"username": "hd", "password": PASSWORDS["hd"]}, allow_redirects=False)
    assert answer.status_code == 403 and fresh.get(f"{workbench}/leads", allow_redirects=False).status_code == 303


def test_failed_logins_are_throttled(workbench):
    session = requests.Session()
    token = csrf_of(session.get(f"{workbench}/login").text)
    for _ in range(5):
        answer = session.post(f"{workbench}/login", data={"csrf": token, "username": "hd", "password": "guess-123"})
        assert answer.status_code == 401 and "用户名或密码错误" in answer.text
    # the sixth try is refused even with the right password, and says when to come back
    answer = session.post(f"{workbench}/login", data={"csrf": token, "username": "hd", "password": PASSWORDS["hd"]},
                          allow_redirects=False)
    assert answer.status_code == 429 and "登录失败次数过多" in answer.text
    # other users from other clients are not locked out by it... but this client address is
    answer = session.post(f"{workbench}/login", data={"csrf": token, "username": "cy", "password": PASSWORDS["cy"]},
                          allow_redirects=False)
    assert answer.status_code == 429


def test_triage_notes_and_history_through_the_form(workbench, bench_store):
    lead_id = bench_store.ids["象牙手镯 正品"]
    hd = login(workbench, "hd")
    page = hd.get(f"{workbench}/leads/{lead_id}").text
    assert "<mark>象牙</mark>" in page and "禁限售商品" in page and "广告法" in page
    assert "时间均为 Asia/Shanghai" in page
    for data in ({"status": "confirmed", "note": "已联系平台"}, {"note": "店铺已下架", "assignee": "王科"}):
        answer = hd.post(f"{workbench}/leads/{lead_id}", data={"csrf": hd.csrf, **data}, allow_redirects=False)
        assert answer.status_code == 303
    answer = hd.post(f"{workbench}/leads/{lead_id}", data={"csrf": hd.csrf, "status": "resolved"})
    assert answer.status_code == 409 and "confirmed → resolved" in answer.text
    events = bench_store.lead_events([lead_id])
    assert [(e["user"], e["field"], e["new"]) for e in events[1:]] == [
        ("hd", "status", "confirmed"), ("hd", "note", "已联系平台"), ("hd", "assignee", "王科"), ("hd", "note", "店铺已下架")]
    page = hd.get(f"{workbench}/leads/{lead_id}").text
    assert "已联系平台" in page and "店铺已下架" in page and "已确认" in page
    # bulk: both 海淀 leads confirmed at once; the queue's counts follow
    other = bench_store.ids["全网最佳茶叶"]
    answer = hd.post(f"{workbench}/leads/bulk", data={"csrf": hd.csrf, "ids": [other], "status": "confirmed",
                                                      "back": "/leads"}, allow_redirects=False)
    assert answer.status_code == 303 and bench_store.lead(other)["status"] == "confirmed"
    assert hd.get(f"{workbench}/api/leads?status=已确认").json()["total"] == 2
    # hand-off: the lead leaves the 海淀 analyst's sight
    hd.post(f"{workbench}/leads/{other}", data={"csrf": hd.csrf, "region": "朝阳"})
    assert hd.get(f"{workbench}/leads/{other}").status_code == 404


def test_queue_order_filters_counts_shop_page_and_dashboard(workbench, bench_store):
    admin = login(workbench, "admin")
    leads = admin.get(f"{workbench}/api/leads").json()
    assert leads["total"] == 4 and leads["leads"][0]["severity"] == "critical"
    assert [lead["severity"] for lead in leads["leads"]] == ["critical", "high", "medium", "medium"]
    page = admin.get(f"{workbench}/leads?category=虚假宣传/违法广告&region=海淀").text
    assert page.count('class="pick"') == 2 and "共 2 条线索" in page
    bad = admin.get(f"{workbench}/leads?severity=urgent")
    assert bad.status_code == 400 and "critical (严重)" in bad.text
    assert admin.get(f"{workbench}/api/leads?site=lvyuan").json()["total"] == 1
    assert admin.get(f"{workbench}/api/leads?shop=91350100M000100Y43").json()["total"] == 3
    # the shop page: every shop with the credit code across sites, the one with most leads first
    shop_ref = bench_store.lead(bench_store.ids["最佳手镯"])["shop"]["id"]
    page = admin.get(f"{workbench}/shops/{shop_ref}").text
    related = page.split('id="related"')[1].split("</table>")[0]
    assert related.index("netmall") < related.index("lvyuan") and "象牙手镯" in page and "最佳手镯" in page
    dashboard = admin.get(f"{workbench}/dashboard").text
    assert dashboard.count("<svg") == 5 and "禁限售商品" in dashboard and "每晚新线索" in dashboard
    english = admin.get(f"{workbench}/lang?to=en&next=/dashboard")
    assert "New leads per night" in english.text and "banned_goods" in english.text


def test_the_queue_page_is_the_same_whichever_way_the_database_finds_it(bench_store, monkeypatch):
    from netwatch.store import workbench as reads

    bench_store.set_status([bench_store.ids["全网最佳茶叶"]], "confirmed", user="hd")
    pages = []
    for sort_at_most in (5_000, 0):  # few matches: sorted by the database; many: walked along ix_leads_triage
        monkeypatch.setattr(reads, "SORT_AT_MOST", sort_at_most)
        with bench_store.reading() as conn:
            found = reads.queue(conn, {"status": "new", "scope": None}, page=1, per_page=2)
            later = reads.queue(conn, {"status": "new", "scope": None}, page=2, per_page=2)
        pages.append([row["lead_id"] for row in found["rows"] + later["rows"]])
        assert found["total"] == 3 and found["facets"]["status"] == {"new": 3}
    assert pages[0] == pages[1] and len(set(pages[0])) == 3
    assert pages[0][0] == bench_store.ids["象牙手镯 正品"]  # critical first
