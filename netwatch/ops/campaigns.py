"""Campaign watches: a promotion period (双十一, 618) watched harder. A campaign is a watch tag with a date
window (local dates, in the configured zone) and its own schedule (every N hours); each of its runs is a
nightly run of the tag (netwatch.ops.nightly: lock, outbox, report, resume), with the price-history check's
window widened to the campaign's rule (e.g. the comparison price must not exceed the lowest price of the 30
days before). `campaign_report` gathers its runs' leads by category and by shop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from netwatch import config
from netwatch.domain.clock import utcnow
from netwatch.ops.nightly import NightlyResult, run_nightly
from netwatch.store import Store
from netwatch.store import campaigns as store_campaigns


@dataclass(frozen=True)
class CampaignWindow:
    starts_on: date
    ends_on: date  # inclusive
    zone: str

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as the store's naive UTC times: local midnight of the first day to that after the last."""
        tz = ZoneInfo(self.zone)

        def utc(day: date) -> datetime:
            return datetime.combine(day, time(0), tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

        return utc(self.starts_on), utc(self.ends_on + timedelta(days=1))

    def contains(self, moment: datetime) -> bool:
        start, end = self.bounds()
        return start <= moment < end


def window_of(campaign: Mapping[str, Any], zone: str | None = None) -> CampaignWindow:
    return CampaignWindow(campaign["starts_on"].date(), campaign["ends_on"].date(), zone or config.time_zone())


def add_campaign(store: Store, name: str, *, tag: str, starts_on: date, ends_on: date, every_hours: int = 4,
                 price_window_days: int | None = None) -> None:
    if ends_on < starts_on:
        raise ValueError(f"campaign {name!r} ends ({ends_on}) before it starts ({starts_on})")
    if not 1 <= every_hours <= 24:
        raise ValueError(f"campaign {name!r}: --every must be 1 to 24 hours, not {every_hours}")
    rules = {"price_window_days": price_window_days} if price_window_days else None
    store.write(store_campaigns.save, f"saving campaign {name}", {
        "name": name, "tag": tag, "starts_on": datetime.combine(starts_on, time(0)),
        "ends_on": datetime.combine(ends_on, time(0)), "every_hours": every_hours, "rules": rules})


def campaign_settings(campaign: Mapping[str, Any]) -> dict[str, Any]:
    """The crawl settings a campaign's rules tighten (netwatch.crawl.settings)."""
    rules = campaign["rules"] or {}
    return {"NETWATCH_PRICE_WINDOW_DAYS": int(rules["price_window_days"])} if rules.get("price_window_days") else {}


def run_campaign(db_url: str, name: str, *, outbox: str | Path = "outbox", settings: Mapping[str, Any] | None = None,
                 now: datetime | None = None, **nightly: Any) -> NightlyResult | None:
    """One scheduled run of the campaign: None outside its window (the schedule may fire on any day), else
    a nightly run of its tag with its tightened settings, its outbox under outbox/<campaign>/."""
    now = now or utcnow()
    with Store(db_url) as store:
        campaign = store.read(store_campaigns.get, name)
    window = window_of(campaign)
    if not window.contains(now):
        return None
    local_day = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(window.zone)).date()
    return run_nightly(db_url, tag=campaign["tag"], outbox=Path(outbox) / name, day=local_day,
                       settings={**(settings or {}), **campaign_settings(campaign)}, **nightly)


def campaign_report(store: Store, name: str) -> dict[str, Any]:
    """The campaign's runs within its window and their leads: distinct leads per category and per shop, and per
    run the leads seen and those first found by it."""
    campaign = store.read(store_campaigns.get, name)
    start, end = window_of(campaign).bounds()
    runs = store.read(store_campaigns.runs_between, f"tag:{campaign['tag']}", start, end)
    hits = store.read(store_campaigns.leads_of_runs, [run["id"] for run in runs])
    distinct = {hit["lead_id"]: hit for hit in hits}
    by_run = {run["id"]: {**run, "leads": 0, "new": 0} for run in runs}
    for hit in hits:
        by_run[hit["nightly_run_id"]]["leads"] += 1
        by_run[hit["nightly_run_id"]]["new"] += bool(hit["new"])
    return {
        "campaign": campaign, "runs": list(by_run.values()), "leads": len(distinct),
        "by_category": Counter(hit["category"] for hit in distinct.values()),
        "by_shop": Counter((hit["platform"], hit["shop_name"] or hit["shop_id"] or "—") for hit in distinct.values()),
    }


def report_markdown(report: Mapping[str, Any], lang: str = "zh", zone: str | None = None) -> str:
    """The campaign report as Markdown (Chinese by default; times in the configured zone, labelled)."""
    from netwatch.domain.clock import local_text
    from netwatch.ops.export import VALUES_ZH

    zone = zone or config.time_zone()
    campaign, zh = report["campaign"], lang == "zh"
    category_name = (lambda c: VALUES_ZH["category"].get(c, c)) if zh else (lambda c: c)
    lines = [f"# {'专项监测报告' if zh else 'Campaign report'}：{campaign['name']}" if zh
             else f"# Campaign report: {campaign['name']}", "",
             (f"标签 {campaign['tag']}；时段 {campaign['starts_on']:%Y-%m-%d} 至 {campaign['ends_on']:%Y-%m-%d}"
              f"（{zone}）；每 {campaign['every_hours']} 小时一轮；共 {len(report['runs'])} 轮，线索 {report['leads']} 条")
             if zh else
             (f"tag {campaign['tag']}; {campaign['starts_on']:%Y-%m-%d} to {campaign['ends_on']:%Y-%m-%d} ({zone}); "
              f"every {campaign['every_hours']} h; {len(report['runs'])} runs, {report['leads']} leads"), ""]

    def table(title: str, header: list[str], rows: list[list[str]]) -> None:
        lines.extend([f"## {title}", ""])
        if not rows:
            lines.extend(["无" if zh else "none", ""])
            return
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)
        lines.append("")

    table("按违法类型" if zh else "Leads per category", ["违法类型" if zh else "category", "线索" if zh else "leads"],
          [[category_name(c), str(n)] for c, n in report["by_category"].most_common()])
    table("按店铺" if zh else "Leads per shop", ["平台" if zh else "platform", "店铺" if zh else "shop",
                                                "线索" if zh else "leads"],
          [[str(p), str(s), str(n)] for (p, s), n in report["by_shop"].most_common()])
    table("各轮监测" if zh else "Runs", ["运行" if zh else "run", "开始时间" if zh else "started", "状态" if zh else "status",
                                      "命中线索" if zh else "leads seen", "新线索" if zh else "new"],
          [[str(r["id"]), local_text(r["started_at"], zone), r["status"], str(r["leads"]), str(r["new"])]
           for r in report["runs"]])
    return "\n".join(lines)
