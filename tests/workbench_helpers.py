"""Shared by the workbench tests: a store with leads in two regions and three accounts, and the workbench
served by uvicorn on loopback (a real server, real HTTP)."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import requests
import uvicorn
from test_store_helpers import hit, listing, shop, store_url  # noqa: F401

from netwatch.store import Store
from netwatch.store.users import add_user
from netwatch.web.app import create_app
from netwatch.web.security import LoginThrottle

PASSWORDS = {"admin": "admin-pass-1", "hd": "haidian-pass", "cy": "chaoyang-pass"}


@pytest.fixture
def bench_store(store_url):
    """Leads in 海淀 (ivory, critical; an absolute term) and 朝阳 (a cure claim); the 海淀 shop's credit code
    also on a second site; accounts admin, hd (海淀 analyst) and cy (朝阳 analyst)."""
    with Store(store_url) as store:
        run = store.start_run("netmall")
        code = "91350100M000100Y43"
        store.save_batch(run, [
            shop("s1", credit_code=code), shop("s2", credit_code=None), shop("t1", credit_code=code, platform="lvyuan"),
            listing(1, title="象牙手镯 正品", hits=[hit("象牙", pack="banned", rule="ivory", category="banned_goods",
                                                   severity="critical", context="…出售象牙手镯，正品保证…")]),
            listing(2, title="全网最佳茶叶", hits=[hit("最佳")]),
            listing(3, shop="s2", title="包治百病神药", hits=[hit("包治百病", rule="cure", severity="high")]),
            listing(4, platform="lvyuan", shop="t1", title="最佳手镯", hits=[hit("最佳")]),
        ])
        store.finish_run(run, {}, "finished")
        ids = {row["title"]: row["lead_id"] for row in store.leads(limit=None)}
        store.set_status([ids["象牙手镯 正品"], ids["全网最佳茶叶"], ids["最佳手镯"]], region="海淀", user="setup")
        store.set_status([ids["包治百病神药"]], region="朝阳", user="setup")
        add_user(store.engine, "admin", PASSWORDS["admin"], "admin")
        add_user(store.engine, "hd", PASSWORDS["hd"], "analyst", ["海淀"])
        add_user(store.engine, "cy", PASSWORDS["cy"], "analyst", ["朝阳"])
        store.ids = ids  # type: ignore[attr-defined]
        yield store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def workbench(bench_store):
    """The workbench on a loopback port (uvicorn in a thread); yields its base URL."""
    port = _free_port()
    app = create_app(bench_store.url, throttle=LoginThrottle(failures=5, window=60))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the workbench did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(base: str, name: str, password: str | None = None) -> requests.Session:
    """A logged-in session (its CSRF token in session.csrf)."""
    session = requests.Session()
    token = csrf_of(session.get(f"{base}/login").text)
    answer = session.post(f"{base}/login", data={"csrf": token, "username": name,
                                                   "password": password or PASSWORDS[name], "next": "/leads"},
                          allow_redirects=False)
    assert answer.status_code == 303, answer.text
    session.csrf = csrf_of(session.get(f"{base}/leads").text)  # type: ignore[attr-defined]
    return session
