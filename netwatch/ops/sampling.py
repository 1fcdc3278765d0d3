"""Random inspections (双随机一公开): N shops or listings drawn from a population chosen by filters (region,
platform, category, tag), stratified by region, and optionally inspectors drawn at random for each, an
inspector never sent to their own region where asked.

Fair and checkable: the draw is a pure function of the recorded population (its members in key order), the
seed, the size and the inspector list, so `sample show` re-derives it from the record and compares; the
population's size and a SHA-256 of its member list are recorded too, so a changed population is told apart.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import os
import random
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwatch.domain.clock import utcnow
from netwatch.ops.export import spreadsheet_text
from netwatch.ops.regions import platform_regions, region_of
from netwatch.store import Store, StoreError
from netwatch.store import sampling as store_sampling


@dataclass(frozen=True)
class Inspector:
    name: str
    region: str | None = None

    @classmethod
    def parse(cls, text: str) -> Inspector:
        """NAME or NAME:REGION (the region an inspector belongs to)."""
        name, _, region = text.partition(":")
        if not name.strip():
            raise ValueError(f"inspector {text!r}: write NAME or NAME:REGION")
        return cls(name.strip(), region.strip() or None)


def population_hash(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


def allocate(strata: Mapping[str, int], size: int) -> dict[str, int]:
    """Members per stratum, proportional to its size (largest remainder; ties to the larger stratum, then by name)."""
    total = sum(strata.values())
    size = min(size, total)
    if total == 0 or size == 0:
        return {region: 0 for region in strata}
    exact = {region: count * size / total for region, count in strata.items()}
    counts = {region: int(share) for region, share in exact.items()}
    by_remainder = sorted(strata, key=lambda r: (-(exact[r] - counts[r]), -strata[r], r))
    for region in by_remainder[:size - sum(counts.values())]:
        counts[region] += 1
    return counts


def draw(members: Sequence[tuple[str, str]], size: int, seed: str, inspectors: Sequence[Inspector] = (),
         exclude_own_region: bool = False, per_task: int = 1) -> list[dict[str, Any]]:
    """[{member_key, region, inspectors}] drawn from (key, region) members: region by region (in name order),
    a simple random sample of each stratum's allocation; then inspectors per member, in draw order."""
    rng = random.Random(f"netwatch-sample:{seed}")
    strata: dict[str, list[str]] = defaultdict(list)
    for key, region in sorted(members):
        strata[region].append(key)
    chosen: list[tuple[str, str]] = []
    for region, count in sorted(allocate({r: len(keys) for r, keys in strata.items()}, size).items()):
        chosen += [(key, region) for key in rng.sample(strata[region], count)]
    drawn = []
    for key, region in chosen:
        names = None
        if inspectors:
            eligible = [i for i in inspectors if not (exclude_own_region and i.region == region)]
            if len(eligible) < per_task:
                raise ValueError(f"only {len(eligible)} inspector(s) may inspect {key} (region {region}); "
                                 f"{per_task} are needed per task")
            names = "、".join(inspector.name for inspector in rng.sample(eligible, per_task))
        drawn.append({"member_key": key, "region": region, "inspectors": names})
    return drawn


def current_population(store: Store, filters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, region) of the population the filters choose now."""
    regions = platform_regions(store.engine)
    wanted_regions, tags = set(filters.get("region") or ()), set(filters.get("tag") or ())
    platforms = set(filters.get("platform") or ()) or None
    if wanted_regions or tags:
        chosen = {p for p, (region, target_tags) in regions.items()
                  if (not wanted_regions or region in wanted_regions) and (not tags or tags & target_tags)}
        platforms = chosen if platforms is None else platforms & chosen
    rows = store.read(store_sampling.population, filters["kind"], sorted(platforms) if platforms is not None else None,
                      filters.get("category") or None)
    return [(row["key"], region_of(row["platform"], regions)) for row in rows]


def make_sample(store: Store, *, kind: str = "shops", size: int, region: Sequence[str] = (),
                platform: Sequence[str] = (), category: Sequence[str] = (), tag: Sequence[str] = (),
                seed: str | None = None, by: str | None = None, inspectors: Sequence[Inspector] = (),
                exclude_own_region: bool = False, per_task: int = 1) -> dict[str, Any]:
    """Draw and record a sample; returns it as `show_sample` does."""
    if size < 1:
        raise ValueError("the sample size must be at least 1")
    filters = {"kind": kind, "region": sorted(region), "platform": sorted(platform), "category": sorted(category),
               "tag": sorted(tag)}
    members = current_population(store, filters)
    if not members:
        raise ValueError("the filters choose no " + kind + ": nothing to draw from")
    seed = seed or secrets.token_hex(8)
    drawn = draw(members, size, seed, inspectors, exclude_own_region, per_task)
    values = {
        "kind": kind, "filters": filters, "size": size, "seed": seed, "population_size": len(members),
        "population_hash": population_hash([key for key, _ in members]),
        "population": {"members": [list(member) for member in members]},
        "inspectors": {"names": [[i.name, i.region] for i in inspectors], "exclude_own_region": exclude_own_region,
                       "per_task": per_task} if inspectors else None,
        "created_at": utcnow(), "created_by": by or os.environ.get("NETWATCH_USER") or getpass.getuser(),
    }
    sample_id = store.write(store_sampling.save, "recording the sample", values, drawn)
    return show_sample(store, sample_id)


def show_sample(store: Store, sample_id: int) -> dict[str, Any]:
    """The recorded sample, its draw re-derived from the record (`reproduced`), and whether the population the
    same filters choose now is the recorded one (`population_now`: size, hash, added, removed)."""
    sample = store.read(store_sampling.load, sample_id)
    recorded = [tuple(member) for member in sample["population"]["members"]]
    setup = sample["inspectors"] or {}
    inspectors = [Inspector(name, region) for name, region in setup.get("names", [])]
    again = draw(recorded, sample["size"], sample["seed"], inspectors, setup.get("exclude_own_region", False),
                 setup.get("per_task", 1))
    sample["reproduced"] = again == [{k: m[k] for k in ("member_key", "region", "inspectors")}
                                     for m in sample["members"]] \
        and population_hash([key for key, _ in recorded]) == sample["population_hash"]
    now = {key for key, _ in current_population(store, sample["filters"])}
    before = {key for key, _ in recorded}
    sample["population_now"] = {"size": len(now), "hash": population_hash(sorted(now)),
                                "added": sorted(now - before), "removed": sorted(before - now)}
    sample["population_changed"] = sample["population_now"]["hash"] != sample["population_hash"]
    return sample


TASK_HEADERS = ["序号", "检查对象", "平台", "名称", "链接", "所属地区", "检查人员", "抽查编号", "随机种子", "抽取时间（UTC）",
                "抽取人"]


def task_rows(store: Store, sample: Mapping[str, Any]) -> list[list[Any]]:
    described = store.read(store_sampling.describe_members, sample["kind"],
                           [m["member_key"] for m in sample["members"]])
    rows = []
    for member in sample["members"]:
        info = described.get(member["member_key"], {})
        rows.append([member["position"], member["member_key"], member["member_key"].split("/", 1)[0],
                     info.get("name") or "", info.get("url") or "", member["region"], member["inspectors"] or "",
                     sample["id"], sample["seed"], f"{sample['created_at']:%Y-%m-%d %H:%M:%S}", sample["created_by"]])
    return rows


def export_tasks(store: Store, sample: Mapping[str, Any], out: str | Path) -> int:
    """The sample as a Chinese task list: CSV (UTF-8 with BOM, formula-safe) or XLSX, by the file's suffix."""
    out = Path(out)
    rows = task_rows(store, sample)
    safe = [[spreadsheet_text(v, long_digits_as_formula=out.suffix != ".xlsx") if isinstance(v, str) else v
             for v in row] for row in rows]
    if out.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("抽查任务")
        sheet.append(TASK_HEADERS)
        for row in safe:
            sheet.append(row)
        book.save(out)
    elif out.suffix.lower() == ".csv":
        with open(out, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(TASK_HEADERS)
            writer.writerows(safe)
    else:
        raise StoreError(f"cannot write {out}: name a .csv or .xlsx file")
    return len(rows)
