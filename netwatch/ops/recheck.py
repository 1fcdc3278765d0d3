"""Re-checks: the pages of leads in given statuses fetched again through the normal crawl path (the profile
spider in a crawl child, its items through the item path and the store, evidence and all), and per lead an
outcome recorded (netwatch.store.rechecks): still there, changed (the violating text removed), gone (404/410),
unreachable. A resolved lead whose violation is back is reopened (the store's status change, with a note
saying why).

Each re-check is a crawl of its own (`runs.target` "recheck@<time>"): no earlier run shares its target, so it
delists nothing and counts no lead gone (netwatch.store.coverage), and it follows no link (`-a follow=no`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from netwatch.domain.clock import utcnow
from netwatch.domain.vocab import label
from netwatch.ops.crawl_child import CrawlOutcome, crawl_specs_locally
from netwatch.sites import profile_names
from netwatch.store import Store, StoreError
from netwatch.store import rechecks as store_rechecks

logger = logging.getLogger(__name__)
DEFAULT_STATUSES = ("handed_off", "confirmed", "resolved")
GONE_KINDS = frozenset({"http_404", "http_410"})
RECHECK_TARGET = "recheck@"  # + the time: a target no other run has (see the module's doc)
_AGE = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")

Crawl = Callable[[Mapping[int, tuple[str, dict[str, Any], dict[str, str]]], str, Mapping[str, Any]],
                 dict[int, CrawlOutcome]]


def parse_age(text: str) -> timedelta:
    """'3d', '12h', '30m' (a bare number is days)."""
    match = _AGE.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an age: write e.g. 3d, 12h or 30m")
    number, unit = int(match.group(1)), match.group(2) or "d"
    return {"d": timedelta(days=number), "h": timedelta(hours=number), "m": timedelta(minutes=number)}[unit]


@dataclass
class RecheckResult:
    run_ids: list[int] = field(default_factory=list)  # the re-check crawls' store runs
    outcomes: dict[int, str] = field(default_factory=dict)  # lead id -> outcome
    reopened: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # platforms that could not be re-checked, and why

    @property
    def counts(self) -> Counter:
        return Counter(self.outcomes.values())


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def recheck(db_url: str, *, statuses: Sequence[str] = DEFAULT_STATUSES, older_than: timedelta | None = None,
            settings: Mapping[str, Any] | None = None, crawl: Crawl | None = None) -> RecheckResult:
    """Re-check the leads in `statuses` not re-checked (or changed) within `older_than`; see the module's doc."""
    crawl = crawl or crawl_specs_locally
    result = RecheckResult()
    started = utcnow()
    with Store(db_url) as store:
        leads = store.read(store_rechecks.due, list(statuses), started - older_than if older_than else None)
        by_platform: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for lead in leads:
            by_platform[lead["platform"]].append(lead)
        known = set(profile_names())
        specs: dict[int, tuple[str, dict[str, Any], dict[str, str]]] = {}
        platforms: dict[int, str] = {}
        for number, (platform, platform_leads) in enumerate(sorted(by_platform.items())):
            if platform not in known:
                result.errors.append(f"{platform}: no site profile to re-check its pages with "
                                     f"({len(platform_leads)} lead(s) not re-checked)")
                continue
            urls = list(dict.fromkeys(lead["url"] for lead in platform_leads))
            args = {"start_url": ",".join(urls), "follow": "no", "target": RECHECK_TARGET + started.isoformat()}
            specs[number], platforms[number] = (platform, args, {platform: _base_url(urls[0])}), platform
        # Every page fetched whole: a 304 (incremental crawling) would say nothing of the violating text.
        outcomes = crawl(specs, db_url, {**(settings or {}), "NETWATCH_INCREMENTAL": False}) if specs else {}
        for number, outcome in outcomes.items():
            platform = platforms[number]
            if outcome.error or outcome.run_id is None:
                result.errors.append(f"{platform}: {outcome.error or 'the crawl stored nothing'}")
                continue
            result.run_ids.append(outcome.run_id)
            _judge(store, outcome, by_platform[platform], result)
    return result


def _judge(store: Store, outcome: CrawlOutcome, leads: list[dict[str, Any]], result: RecheckResult) -> None:
    """Record each lead's outcome from what the re-check crawl stored and why its start pages failed."""
    run_id = int(outcome.run_id)  # type: ignore[arg-type]
    failures: dict[str, str] = outcome.stats.get("netwatch/start_failures") or {}
    fetched, hit = store.read(store_rechecks.seen_by_run, run_id, leads)
    rows = []
    for lead in leads:
        if lead["id"] in hit:
            kind = "reappeared" if lead["status"] == "resolved" else "present"
            detail = lead["matched_text"]
        elif lead["id"] in fetched:
            kind, detail = "changed", "page fetched, the violating text is no longer on it"
        elif failures.get(lead["url"]) in GONE_KINDS:
            kind, detail = "gone", f"{failures[lead['url']].replace('http_', 'HTTP ')}: taken down"
        else:
            kind, detail = "unreachable", failures.get(lead["url"], "the page was not fetched")
        result.outcomes[lead["id"]] = kind
        rows.append({"lead_id": lead["id"], "run_id": run_id, "outcome": kind, "lead_status": lead["status"],
                     "detail": detail})
    store.write(store_rechecks.record, f"recording the re-checks of run {run_id}", rows)
    for row in rows:
        if row["outcome"] == "reappeared":
            # The store already made a resolved lead flagged again new; the note says why, for the analyst.
            note = (f"复查发现违法内容再次出现（{utcnow():%Y-%m-%d %H:%M} UTC，复查运行 {run_id}）：{row['detail']}")
            try:
                store.set_status([row["lead_id"]], "new", note=note)
            except StoreError as exc:
                result.errors.append(f"lead {row['lead_id']}: not reopened: {exc}")
                continue
            result.reopened.append(row["lead_id"])


OUTCOME_NAMES = {
    "zh": {"present": "仍在", "changed": "已整改（违法内容已删除）", "gone": "已下架", "unreachable": "无法访问",
           "reappeared": "再次出现，已重新打开"},
    "en": {"present": "still there", "changed": "changed (violating text removed)", "gone": "gone (taken down)",
           "unreachable": "unreachable", "reappeared": "reappeared, reopened"},
}
TAKEDOWN_HEADERS = {
    "zh": ["线索编号", "违法类型", "链接", "最近复查结果", "最近复查", "复查次数", "首次发现", "下架/整改用时"],
    "en": ["lead", "category", "url", "latest outcome", "last checked", "checks", "first found", "time to takedown"],
}


def duration_text(value: timedelta | None, lang: str) -> str:
    if value is None:
        return "—"
    days, hours = value.days, value.seconds // 3600
    return f"{days} 天 {hours} 小时" if lang == "zh" else f"{days} d {hours} h"


def takedown_table(store: Store, lead_ids: Sequence[int] | None = None, *, lang: str = "zh",
                   zone: str | None = None) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): each re-checked lead's takedown status and the time from first found to taken down."""
    from netwatch import config
    from netwatch.domain.clock import local_text

    zone = zone or config.time_zone()
    names = OUTCOME_NAMES[lang]
    rows = [[str(row["lead_id"]), label("category", row["category"], lang), row["url"] or "", names.get(row["outcome"], row["outcome"]),
             local_text(row["last_checked"], zone), str(row["checks"]), local_text(row["first_seen"], zone),
             duration_text(row["time_to_takedown"], lang)]
            for row in store.read(store_rechecks.takedowns, lead_ids)]
    return TAKEDOWN_HEADERS[lang], rows


def recheck_for_report(store: Store, db_url: str, statuses: Sequence[str], older_than: timedelta | None,
                       settings: Mapping[str, Any] | None) -> list[list[str]]:
    """The nightly run's re-checks: [header, *rows] of the re-checked leads' takedown status (in the report's
    language, NETWATCH_LANG); what could not be re-checked is logged."""
    from netwatch import config

    rechecked = recheck(db_url, statuses=statuses, older_than=older_than, settings=settings)
    for error in rechecked.errors:
        logger.warning("re-check: %s", error)
    headers, rows = takedown_table(store, sorted(rechecked.outcomes), lang=config.language())
    return [headers, *rows]
