"""Bulk actions on a whole filter (#18), on the real workbench on loopback: the lead queue offers "apply to all
N leads matching this filter", shows the count and the changes on a confirmation page, and only then changes
the analyst's own region's matching leads, one audit event per lead; a 朝阳 lead matching the same filter is
untouched for a 海淀 analyst. The JSON API does the same in two steps; both need the CSRF token."""

from __future__ import annotations

import re
from html import unescape

from test_store_helpers import store_url  # noqa: F401
from workbench_helpers import bench_store, login, workbench  # noqa: F401


def hidden_fields(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html)}


def events_by(store, lead_ids, user):
    return [(e["lead_id"], e["field"], e["new"]) for e in store.lead_events(lead_ids) if e["user"] == user]


def prepared(store):
    """海淀: 象牙手镯 and 全网最佳茶叶 new, 最佳手镯 already confirmed (outside the filter); 朝阳: 包治百病神药 new."""
    ids = store.ids
    store.set_status([ids["最佳手镯"]], "confirmed", user="setup")
    return ids["象牙手镯 正品"], ids["全网最佳茶叶"], ids["最佳手镯"], ids["包治百病神药"]


def test_bulk_action_on_a_filter_through_the_queue_and_its_confirmation(workbench, bench_store):
    ivory, tea, bangle, chaoyang = prepared(bench_store)
    hd = login(workbench, "hd")
    queue = hd.get(f"{workbench}/leads?status=新线索").text
    assert 'id="bulk-filter"' in queue and "对筛选出的全部 2 条线索执行" in queue
    assert hidden_fields(queue)["filter"] == "status=%E6%96%B0%E7%BA%BF%E7%B4%A2"  # the queue's filter travels along
    form = {"csrf": hd.csrf, "filter": hidden_fields(queue)["filter"], "status": "confirmed", "note": "批量核实",
            "back": "/leads?status=新线索"}
    # first the confirmation: the count, the filter and the changes; nothing changed yet
    page = hd.post(f"{workbench}/leads/bulk/filter", data=form)
    assert page.status_code == 200 and 'data-count="2"' in page.text and "全部 2 条线索" in page.text
    assert "状态：新线索" in page.text and "改为状态：已确认" in page.text and "添加备注：批量核实" in page.text
    assert events_by(bench_store, [ivory, tea, bangle, chaoyang], "hd") == []
    # then the confirmation's own form
    confirm = hidden_fields(page.text)
    assert confirm["expected"] == "2" and confirm["confirm"] == "yes" and confirm["csrf"] == hd.csrf
    done = hd.post(f"{workbench}/leads/bulk/filter", data=confirm, allow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/leads?status=")
    assert "2 条线索已更新" in hd.get(workbench + done.headers["location"]).text
    assert {bench_store.lead(i)["status"] for i in (ivory, tea)} == {"confirmed"}
    assert sorted(events_by(bench_store, [ivory, tea, bangle, chaoyang], "hd")) == sorted(
        [(ivory, "status", "confirmed"), (ivory, "note", "批量核实"), (tea, "status", "confirmed"), (tea, "note", "批量核实")])
    # the 朝阳 lead matched the filter too, and is untouched; so is the 海淀 lead outside the filter
    assert bench_store.lead(chaoyang)["status"] == "new" and bench_store.lead(chaoyang)["note"] is None
    assert [e["user"] for e in bench_store.lead_events([chaoyang])] == ["setup"]
    assert [e["user"] for e in bench_store.lead_events([bangle])] == ["setup", "setup"]
    # the 朝阳 analyst's same filter finds only 朝阳's lead
    cy = login(workbench, "cy")
    assert 'data-count="1"' in cy.post(f"{workbench}/leads/bulk/filter", data={**form, "csrf": cy.csrf}).text


def test_a_count_that_changed_since_the_confirmation_changes_nothing(workbench, bench_store):
    ivory, tea, _, _ = prepared(bench_store)
    hd = login(workbench, "hd")
    page = hd.post(f"{workbench}/leads/bulk/filter", data={"csrf": hd.csrf, "filter": "status=new", "status": "dismissed"})
    confirm = hidden_fields(page.text)
    assert confirm["expected"] == "2"
    bench_store.set_status([tea], "confirmed", user="cli")  # meanwhile someone else confirmed one of them
    again = hd.post(f"{workbench}/leads/bulk/filter", data=confirm)
    assert again.status_code == 200 and "筛选结果已变为 1 条线索" in again.text and 'data-count="1"' in again.text
    assert bench_store.lead(ivory)["status"] == "new" and events_by(bench_store, [ivory, tea], "hd") == []
    assert hd.post(f"{workbench}/leads/bulk/filter", data=hidden_fields(again.text)).status_code == 200
    assert bench_store.lead(ivory)["status"] == "dismissed"
    # no change chosen: an error, not a confirmation
    answer = hd.post(f"{workbench}/leads/bulk/filter", data={"csrf": hd.csrf, "filter": "status=new"})
    assert answer.status_code == 400 and "未选择要执行的操作" in answer.text


def test_bulk_on_a_filter_needs_the_csrf_token(workbench, bench_store):
    ivory, tea, _, _ = prepared(bench_store)
    hd = login(workbench, "hd")
    form = {"filter": "status=new", "status": "dismissed", "expected": "2", "confirm": "yes"}
    assert hd.post(f"{workbench}/leads/bulk/filter", data=form).status_code == 403
    assert hd.post(f"{workbench}/leads/bulk/filter", data={**form, "csrf": "forged"}).status_code == 403
    assert hd.post(f"{workbench}/api/leads/bulk", json={"filter": {"status": "new"}, "status": "dismissed",
                                                         "expected": 2}).status_code == 403
    assert {bench_store.lead(i)["status"] for i in (ivory, tea)} == {"new"}
    assert events_by(bench_store, [ivory, tea], "hd") == []


def test_bulk_on_a_filter_through_the_api(workbench, bench_store):
    ivory, tea, bangle, chaoyang = prepared(bench_store)
    hd = login(workbench, "hd")
    headers = {"X-CSRF-Token": hd.csrf}
    body = {"filter": {"status": "新线索"}, "assignee": "王科"}
    first = hd.post(f"{workbench}/api/leads/bulk", json=body, headers=headers)
    assert first.json() == {"matching": 2, "changed": 0}  # only counted
    wrong = hd.post(f"{workbench}/api/leads/bulk", json={**body, "expected": 3}, headers=headers)
    assert wrong.status_code == 409 and wrong.json()["matching"] == 2
    assert events_by(bench_store, [ivory, tea], "hd") == []
    done = hd.post(f"{workbench}/api/leads/bulk", json={**body, "expected": 2}, headers=headers)
    assert done.status_code == 200 and done.json() == {"matching": 2, "changed": 2}
    assert sorted(events_by(bench_store, [ivory, tea, bangle, chaoyang], "hd")) == sorted(
        [(ivory, "assignee", "王科"), (tea, "assignee", "王科")])
    assert bench_store.lead(chaoyang)["assignee"] is None
    # a filter naming another region finds nothing of it; bad filters are refused with the valid names
    assert hd.post(f"{workbench}/api/leads/bulk", json={"filter": {"region": "朝阳"}, "note": "x"},
                   headers=headers).json() == {"matching": 0, "changed": 0}
    bad = hd.post(f"{workbench}/api/leads/bulk", json={"filter": {"colour": "red"}, "note": "x"}, headers=headers)
    assert bad.status_code == 400 and "unknown filter(s) colour" in bad.json()["error"]
    bad = hd.post(f"{workbench}/api/leads/bulk", json={"filter": {"category": "banend"}, "note": "x"}, headers=headers)
    assert bad.status_code == 400 and "banned_goods" in bad.json()["error"]
    # by ids too: another region's lead among them is "no such lead" and nothing changes
    mixed = hd.post(f"{workbench}/api/leads/bulk", json={"ids": [ivory, chaoyang], "note": "越权"}, headers=headers)
    assert mixed.status_code == 404 and mixed.json() == {"error": "no such lead"}
    assert [e["user"] for e in bench_store.lead_events([chaoyang])] == ["setup"]
    # the admin's filter reaches every region
    admin = login(workbench, "admin")
    assert admin.post(f"{workbench}/api/leads/bulk", json={"filter": {"status": "new"}, "note": "x"},
                      headers={"X-CSRF-Token": admin.csrf}).json() == {"matching": 3, "changed": 0}
