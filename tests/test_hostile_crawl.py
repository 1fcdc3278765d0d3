"""Hostile sites against a real crawl (issue #14): a link trap stopped by the site's page or time budget
with an alarm, calendar / query / repeating-path traps dropped, sites answering 429 with Retry-After
(seconds and HTTP-date) waited for and finally given up, a redirect loop recorded as a failure.

The sites are netwatch_fixtures.hostile on their own loopback addresses; every crawl is the real
`netwatch crawl` in a subprocess, and the tests judge what the server saw as well as the crawl's summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netwatch_fixtures.hostile import PRODUCTS, REFUSE_FIRST, RETRY_AFTER, HostileSite
from test_nightly import QUIET, engine  # noqa: F401 - a fixture, shared with the nightly tests

from netwatch.crawl.runner import crawl_settings
from netwatch.exits import EXIT_ALARMS, EXIT_OK


def crawl(tmp: Path, *args: str, timeout: int = 240) -> tuple[int, dict, str, float]:
    """`netwatch crawl …` in a subprocess: (exit code, the crawl's summary, log, seconds it took)."""
    tmp.mkdir(parents=True, exist_ok=True)
    stats = tmp / "stats.json"
    command = [sys.executable, "-c", "from netwatch.cli import main; main()", "crawl", *args,
               "--stats", str(stats), "--progress", "0"]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp)
    took = time.monotonic() - started
    assert stats.exists(), done.stderr[-3000:]
    return done.returncode, json.loads(stats.read_text(encoding="utf-8"))[0], done.stderr, took


def generic(tmp: Path, *urls: str, settings: dict | None = None, store: bool = False) -> tuple[int, dict, str, float]:
    args = ["generic", "-a", f"start_url={','.join(urls)}"]
    for name, value in ({} if store else {"ITEM_PIPELINES": "{}"}).items() | (settings or {}).items():
        args += ["-s", f"{name}={value}"]
    return crawl(tmp, *args)


def checks(summary: dict) -> list[str]:
    return sorted(alarm["check"] for alarm in summary["alarms"])


def gaps(site: HostileSite) -> list[float]:
    times = [when for when, _ in site.requests]
    return [later - earlier for earlier, later in zip(times, times[1:])]


# -- budgets -----------------------------------------------------------------------------------------

def test_link_trap_stops_at_its_page_budget_with_an_alarm(tmp_path):
    with HostileSite("trap", host="127.0.0.31") as site:
        code, summary, log, took = generic(tmp_path, site.url, settings={"NETWATCH_SITE_MAX_PAGES": 120})
    # Without a budget: 15,067 pages in 90 s and no end. With one: 120 requests to the site, not one more.
    assert len(site.requests) == 120 and summary["pages"] == 120, (len(site.requests), summary["pages"])
    assert summary["items"] == PRODUCTS
    assert summary["budget_hits"] == [{"site": "127.0.0.31", "budget": "pages", "limit": 120, "pages": 120,
                                       "seconds": summary["budget_hits"][0]["seconds"]}]
    assert summary["closed_sites"] == {"127.0.0.31": "its pages budget (120 pages)"}
    # ~50 links a page were queued when the budget was spent; all dropped, none sent
    assert summary["dropped"]["closed_site"] > 1000
    assert summary["errors"] == 0  # dropping is not failing
    assert checks(summary) == ["budget"] and code == EXIT_ALARMS
    assert "127.0.0.31: stopped at its pages budget (120 pages) after 120 pages" in summary["alarms"][0]["message"]
    assert took < 120, took


def test_time_budget_stops_the_trap_within_bounded_time(tmp_path):
    with HostileSite("trap", host="127.0.0.32") as site:
        code, summary, log, took = generic(tmp_path, site.url, settings={"NETWATCH_SITE_MAX_SECONDS": 3})
    first = site.requests[0][0]
    # Nothing leaves the scheduler after the budget; what the downloader had already taken (at most
    # CONCURRENT_REQUESTS) still goes.
    late = [path for when, path in site.requests if when - first > 3.2]
    assert len(late) <= crawl_settings().getint("CONCURRENT_REQUESTS"), late
    assert summary["budget_hits"][0]["budget"] == "seconds" and checks(summary) == ["budget"]
    assert "seconds budget (3 s)" in summary["alarms"][0]["message"]
    assert summary["duration_s"] < 15 and code == EXIT_ALARMS


TRAP_PROFILE = """
key: trapshop
name: a shop whose pages link fifty new pages each
base_url: null
start_urls: ["{base_url}/"]
budget: {pages: 40}
pages:
  - name: product
    match: '^/products/(?P<item_id>[0-9]+)\\\\.html$'
    item: listing
    fields: {title: "css:h1"}
  - name: anything else
    match: '^/'
    follow: ["a"]
"""


def test_a_profile_sets_its_own_budget(tmp_path):
    profile = tmp_path / "trapshop.yaml"
    profile.write_text(TRAP_PROFILE, encoding="utf-8")
    with HostileSite("trap", host="127.0.0.33") as site:
        code, summary, log, took = crawl(tmp_path / "run", str(profile), "-a", f"base_url={site.url}",
                                         "-s", "ITEM_PIPELINES={}", "-s", "NETWATCH_SITE_MAX_PAGES=1000")
    assert len(site.requests) == 40 and summary["budget_hits"][0]["limit"] == 40
    assert "budget" in checks(summary) and code == EXIT_ALARMS


def test_a_bad_profile_budget_is_refused_naming_the_file(tmp_path):
    from netwatch.sites import ProfileError, load_profile

    profile = tmp_path / "bad.yaml"
    profile.write_text(TRAP_PROFILE.replace("{pages: 40}", "{pages: -1}"), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"bad.yaml: budget.pages: expected a number >= 0"):
        load_profile(profile, "http://127.0.0.1:1")


# -- refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "host", "least"), [("refuse", "127.0.0.34", RETRY_AFTER - 0.05),
                                                      ("refuse_date", "127.0.0.35", RETRY_AFTER - 0.05)])
def test_a_site_that_keeps_refusing_is_waited_for_then_given_up(tmp_path, kind, host, least):
    with HostileSite(kind, host=host) as site:
        code, summary, log, took = generic(tmp_path, site.url, settings={"NETWATCH_MAX_REFUSALS": 3})
    # Ignoring Retry-After: 600 requests in 23 s. Honoured: three, each after the wait the site asked for
    # (an HTTP-date has whole seconds: 2-3 s).
    assert len(site.requests) == 3, site.requests
    assert all(gap >= least for gap in gaps(site)), gaps(site)
    assert summary["refusals"] == 3 and summary["closed_sites"][host].startswith("gave up: 3 refusals in a row")
    [failure] = summary["site_failures"]
    assert failure["site"] == host and failure["reason"] == (
        "refused (HTTP 429): 3 refusals in a row (NETWATCH_MAX_REFUSALS=3)")
    assert checks(summary) == ["site_failed", "zero_items"] and code == EXIT_ALARMS
    assert took < 60


def test_a_site_that_refuses_then_recovers_is_slowed_then_crawled(tmp_path):
    with HostileSite("refuse_first", host="127.0.0.36") as site:
        code, summary, log, took = generic(tmp_path, site.url)
    spacing = gaps(site)
    # Each refusal waited for (Retry-After: 2), and the next request, to another page, spaced as much:
    # the whole site slowed, not the one URL; then the wait halves with each answer.
    assert all(gap >= RETRY_AFTER - 0.05 for gap in spacing[:REFUSE_FIRST + 1]), spacing
    assert min(spacing[REFUSE_FIRST + 1:]) < RETRY_AFTER / 2, spacing
    assert summary["refusals"] == REFUSE_FIRST and summary["refusal_wait_s"] == REFUSE_FIRST * RETRY_AFTER
    assert summary["items"] == PRODUCTS and summary["site_failures"] == []
    assert summary["alarms"] == [] and code == EXIT_OK


def test_a_retry_after_longer_than_allowed_gives_the_site_up_at_once(tmp_path):
    with HostileSite("refuse", host="127.0.0.37") as site:
        code, summary, log, took = generic(tmp_path, site.url, settings={"NETWATCH_MAX_RETRY_AFTER": 1})
    assert len(site.requests) == 1
    assert summary["site_failures"][0]["reason"] == (
        "refused (HTTP 429): asked to wait 2 s (NETWATCH_MAX_RETRY_AFTER=1)")
    assert "site_failed" in checks(summary) and code == EXIT_ALARMS


def test_retry_after_is_read_as_seconds_or_http_date():
    from email.utils import formatdate

    from netwatch.crawl.middlewares import retry_after_seconds

    now = time.time()
    assert retry_after_seconds(b"2") == 2.0
    assert retry_after_seconds(formatdate(now + 30, usegmt=True).encode(), now=now) == pytest.approx(30, abs=1)
    assert retry_after_seconds(formatdate(now - 30, usegmt=True).encode(), now=now) == 0.0
    assert [retry_after_seconds(value) for value in (None, b"", b"soon", b"-5", b"1.5")] == [None] * 5


# -- redirect loops ----------------------------------------------------------------------------------

def test_a_redirect_loop_is_recorded_as_a_failure_in_the_store(tmp_path):
    from netwatch.store import Store

    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    with HostileSite("redirect", host="127.0.0.38") as site:
        # the loop linked from the front page (dropped as a duplicate before), and the same loop as a start page
        # (never filtered: it runs into REDIRECT_MAX_TIMES)
        code, summary, log, took = generic(tmp_path, site.url, f"{site.url}loop/a", store=True,
                                           settings={"NETWATCH_DB_URL": db_url, "NETWATCH_MAX_ERROR_RATE": 0.5})
    loop = f"{site.url}loop/a"
    # one loop, reached twice: two errors, one failure record
    assert summary["site_failures"] == [{"site": "127.0.0.38", "url": loop, "reason": "redirect loop"}]
    assert summary["errors_by_kind"] == {"redirect_loop": 2} and summary["items"] == PRODUCTS
    # recorded and reported, not an alarm: one looping page of a shop is no reason to wake anyone
    assert summary["alarms"] == [] and code == EXIT_OK
    assert f"redirect loop: {loop} -> {site.url}loop/b -> {loop}" in log
    with Store(db_url) as store:
        [run] = store.runs(last=1)
    assert run["stats"]["netwatch/site_failures"] == summary["site_failures"]


# -- traps -------------------------------------------------------------------------------------------

def test_calendar_query_and_repeating_path_traps_are_dropped(tmp_path):
    with HostileSite("calendar", host="127.0.0.39") as calendar, HostileSite("query", host="127.0.0.40") as query, \
            HostileSite("repeat", host="127.0.0.41") as repeat:
        code, summary, log, took = generic(tmp_path, calendar.url, query.url, repeat.url,
                                           settings={"NETWATCH_TRAP_MAX_QUERY_VARIANTS": 40})
    traps = summary["traps"]
    # one calendar link past the window at each end of /calendar/YYYY/MM/ and of /events?date=
    assert traps["calendar"] == 4
    assert (traps["repeating_path"], traps["deep_path"]) == (1, 1)
    assert traps["query_params"] > 0 and traps["query_variants"] > 0
    # what the servers saw
    listed = {path for path in query.paths("/list")}
    assert len(listed) == 40 and not any(path.count("&") >= 8 for path in listed)
    assert not [path for path in repeat.paths() if path.startswith("/shop/shop/shop/")]
    assert max(path.count("/") for path in repeat.paths("/deep/")) <= 16
    assert len(calendar.paths("/calendar/")) < 12 and len(calendar.paths("/events")) < 16
    assert summary["items"] == 3 * PRODUCTS and summary["alarms"] == [] and code == EXIT_OK


def test_trap_heuristics_one_by_one():
    from scrapy.utils.test import get_crawler

    from netwatch.crawl.runner import crawl_settings
    from netwatch.crawl.traps import TrapFilter

    settings = crawl_settings({"NETWATCH_TRAP_MAX_QUERY_VARIANTS": 3})
    traps = TrapFilter(get_crawler(settings_dict={name: settings[name] for name in settings
                                                  if name.startswith("NETWATCH_TRAP_")}))
    today = time.gmtime()
    far = f"{today.tm_year + 2}/{today.tm_mon:02d}"
    expected = {
        "https://shop.example/a/b/a/b/a/b": "repeating_path", "https://shop.example/trap/trap/trap/": "repeating_path",
        "https://shop.example/a/b/a/b": None, "https://shop.example/x/" + "d/" * 5: "repeating_path",
        "https://shop.example/" + "".join(f"s{n}/" for n in range(16)): "deep_path",
        f"https://shop.example/calendar/{far}/01/": "calendar", f"https://shop.example/news/{far}/": "calendar",
        f"https://shop.example/events?month={today.tm_year - 2}-05": "calendar",
        f"https://shop.example/events?date={time.strftime('%Y-%m-%d', today)}": None,
        "https://shop.example/item/1999-05.html": None,  # an id, not a calendar
        "https://shop.example/s?" + "&".join(f"p{n}=1" for n in range(9)): "query_params",
        "https://shop.example/list?page=1": None, "https://www.shop.example/list?page=2": None,
        "https://shop.example/list?page=3": None, "https://shop.example/list?page=4": "query_variants",
        "https://shop.example/list?page=1&again": "query_variants",
        "https://other.example/list?page=4": None,
    }
    assert {url: traps.trap(url) for url in expected} == expected


# -- the nightly report --------------------------------------------------------------------------------

def test_the_nightly_report_shows_the_budget_alarm_and_the_traps(engine, db_url, tmp_path):
    from netwatch.ops.nightly import run_nightly
    from netwatch.ops.watchlist import add_target, make_spec

    with HostileSite("trap", host="127.0.0.42") as trap, HostileSite("calendar", host="127.0.0.43") as calendar, \
            HostileSite("redirect", host="127.0.0.44") as redirect:
        add_target(engine, make_spec("陷阱店", url=trap.url, region="海淀", tags="nightly"))
        add_target(engine, make_spec("日历店", url=calendar.url, region="朝阳", tags="nightly"))
        add_target(engine, make_spec("环路店", url=redirect.url, region="朝阳", tags="nightly"))
        result = run_nightly(db_url, outbox=tmp_path, settings={**QUIET, "NETWATCH_SITE_MAX_PAGES": 60})
    assert len(trap.requests) == 60
    by_name = {target.name: target for target in result.targets}
    assert [alarm.check for alarm in by_name["陷阱店"].alarms] == ["budget"] and by_name["日历店"].alarms == []
    assert by_name["日历店"].not_sent == {"trap/calendar": 4}
    assert by_name["陷阱店"].not_sent["dropped/closed_site"] > 500
    assert result.exit_code == EXIT_ALARMS
    report = result.report_path.read_text(encoding="utf-8")
    # The alarm in the report's language (Chinese by default), its English in the stats
    assert "| 陷阱店 | 站点抓取上限 | 127.0.0.42：达到页面数上限（60 个页面），已抓取 60 个页面" in report
    assert "127.0.0.42: stopped at its pages budget (60 pages)" in by_name["陷阱店"].alarms[0].message
    assert "| 日历店 | trap/calendar | 4 |" in report
    assert f"| 环路店 | {redirect.url}loop/a | 重定向循环 |" in report and by_name["环路店"].alarms == []
