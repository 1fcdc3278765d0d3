"""The watchlist: the sites and shops a bureau crawls every night, kept in the store.

A target is a site profile (`netwatch/sites/<profile>.yaml`, optionally with its base URL overridden)
or a generic start URL, with the region its leads are handed to, tags that pick it for a run
(`nightly`, `campaign-双十一`), a priority and an enabled flag. Imports (CSV or YAML, e.g. a bureau's
list of 6,000 registered sites) are checked in full before anything is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy.engine import Engine

from netwatch.store.schema import create_engine, ensure_schema
from netwatch.store.watchlist import Target, delete_target, insert_target, select_targets, set_target_enabled
from netwatch.store.watchlist import upsert_targets as upsert_target_rows

DEFAULT_REGION = "unassigned"
IMPORT_COLUMNS = ("name", "profile", "url", "region", "tags", "priority", "enabled")
TRUE_WORDS = {"1", "true", "yes", "y", "on", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "off", "否"}


class WatchlistError(ValueError):
    """Bad watchlist input; the message names the file and line or the target."""


@dataclass(frozen=True)
class TargetSpec:
    """A target as given by a user or a file, checked but not yet stored."""

    name: str
    profile: str | None = None
    url: str | None = None
    region: str = DEFAULT_REGION
    tags: tuple[str, ...] = ()
    priority: int = 0
    enabled: bool = True

    @property
    def kind(self) -> str:
        return "profile" if self.profile else "url"


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    names: list[str] = field(default_factory=list)


def open_engine(db_url: str) -> Engine:
    """An engine on the store with the schema (watchlist tables included) created or upgraded."""
    engine = create_engine(db_url)
    ensure_schema(engine)
    return engine


def encode_tags(tags: Iterable[str]) -> str:
    unique = sorted(set(tags))
    return "," + "".join(f"{tag}," for tag in unique)


def decode_tags(stored: str) -> list[str]:
    return [tag for tag in stored.split(",") if tag]


def target_tags(target: Target) -> list[str]:
    return decode_tags(target.tags)


def parse_tags(text: str | Sequence[str] | None, where: str = "") -> tuple[str, ...]:
    """Tags from "nightly;campaign-双十一" (also "," "|" or spaces) or a list."""
    if text is None:
        return ()
    items = [text] if isinstance(text, str) else [str(t) for t in text]
    tags: list[str] = []
    for item in items:
        for sep in ";|,":
            item = item.replace(sep, " ")
        tags.extend(part for part in item.split() if part)
    return tuple(dict.fromkeys(tags))


def make_spec(name: Any, *, profile: Any = None, url: Any = None, region: Any = None, tags: Any = None,
              priority: Any = 0, enabled: Any = True, where: str = "") -> TargetSpec:
    """Check one target's fields; `where` ("targets.csv line 7") prefixes every error."""
    prefix = f"{where}: " if where else ""
    name = str(name or "").strip()
    if not name:
        raise WatchlistError(f"{prefix}a target needs a name")
    profile = str(profile).strip() if profile not in (None, "") else None
    url = str(url).strip() if url not in (None, "") else None
    if not profile and not url:
        raise WatchlistError(f"{prefix}target {name!r} needs a site profile or a URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise WatchlistError(f"{prefix}target {name!r}: {url!r} is not an http(s) URL")
    if profile:
        _check_profile(profile, name, prefix)
    try:
        priority_value = int(str(priority).strip() or 0) if priority is not None else 0
    except ValueError:
        raise WatchlistError(f"{prefix}target {name!r}: priority {priority!r} is not a whole number") from None
    if isinstance(enabled, bool):
        enabled_value = enabled
    elif enabled is None or str(enabled).strip().lower() in TRUE_WORDS | {""}:  # an empty cell keeps the default
        enabled_value = True
    elif str(enabled).strip().lower() in FALSE_WORDS:
        enabled_value = False
    else:
        raise WatchlistError(f"{prefix}target {name!r}: enabled must be yes or no, not {enabled!r}")
    region_value = str(region).strip() if region not in (None, "") else DEFAULT_REGION
    if "/" in region_value or "\\" in region_value or region_value.startswith("."):
        # The region names a file in the outbox.
        raise WatchlistError(f"{prefix}target {name!r}: region {region_value!r} may not contain / \\ or start with .")
    return TargetSpec(name=name, profile=profile, url=url, region=region_value, tags=parse_tags(tags),
                      priority=priority_value, enabled=enabled_value)


def _check_profile(profile: str, name: str, prefix: str) -> None:
    """A profile target must name a shipped profile; skipped while no profiles are installed at all."""
    from netwatch.config import sites_dir

    directory = sites_dir()
    known = {p.stem for p in directory.glob("*.yaml")} | {p.stem for p in directory.glob("*.yml")}
    if known and profile not in known:
        raise WatchlistError(
            f"{prefix}target {name!r}: no site profile {profile!r} in {directory} (known: {', '.join(sorted(known))})")


def add_target(engine: Engine, spec: TargetSpec) -> Target:
    """Store a new target; a name already on the watchlist is an error (use import to update)."""
    target = insert_target(engine, _values(spec))
    if target is None:
        raise WatchlistError(f"target {spec.name!r} is already on the watchlist")
    return target


def _values(spec: TargetSpec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "profile": spec.profile, "url": spec.url, "region": spec.region,
            "tags": encode_tags(spec.tags), "priority": spec.priority, "enabled": spec.enabled}


def list_targets(engine: Engine, tag: str | None = None, *, enabled_only: bool = False) -> list[Target]:
    """Targets, highest priority first; with `tag`, only those carrying it."""
    return select_targets(engine, tag, enabled_only=enabled_only)


def remove_target(engine: Engine, name: str) -> bool:
    """Take a target off the watchlist (its leads stay). False when no target has that name."""
    return delete_target(engine, name)


def set_enabled(engine: Engine, name: str, enabled: bool) -> bool:
    return set_target_enabled(engine, name, enabled)


def read_targets_file(path: str | Path) -> list[TargetSpec]:
    """Targets from a CSV (header: name, profile, url, region, tags, priority, enabled) or YAML file
    (a list of mappings, or a mapping with a `targets` list). Every error names the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WatchlistError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")  # a bureau's spreadsheet saved as CSV on Chinese Windows
        except UnicodeDecodeError:
            raise WatchlistError(f"{path}: not UTF-8 or GB18030 text") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        specs = _read_yaml(text, path)
    elif path.suffix.lower() in (".csv", ".txt"):
        specs = _read_csv(text, path)
    else:
        raise WatchlistError(f"{path}: unknown watchlist format {path.suffix!r} (use .csv or .yaml)")
    seen: dict[str, str] = {}
    for spec, where in specs:
        if spec.name in seen:
            raise WatchlistError(f"{where}: target {spec.name!r} is listed twice (first at {seen[spec.name]})")
        seen[spec.name] = where
    return [spec for spec, _ in specs]


def _read_csv(text: str, path: Path) -> list[tuple[TargetSpec, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [(column or "").strip().lower() for column in (reader.fieldnames or [])]
    if "name" not in header or not ({"profile", "url"} & set(header)):
        raise WatchlistError(f"{path} line 1: the header needs name and profile or url (columns: {', '.join(IMPORT_COLUMNS)})")
    unknown = [column for column in header if column not in IMPORT_COLUMNS]
    if unknown:
        raise WatchlistError(f"{path} line 1: unknown column(s) {', '.join(unknown)} (known: {', '.join(IMPORT_COLUMNS)})")
    reader.fieldnames = header
    specs = []
    for row in reader:
        where = f"{path} line {reader.line_num}"
        if None in row:
            raise WatchlistError(f"{where}: more cells than header columns")
        if not any((value or "").strip() for value in row.values()):
            continue
        specs.append((make_spec(**{key: row.get(key) for key in IMPORT_COLUMNS if key in row}, where=where), where))
    return specs


def _read_yaml(text: str, path: Path) -> list[tuple[TargetSpec, str]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise WatchlistError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(data, dict) and "targets" in data:
        data = data["targets"]
        node = next(value for key, value in node.value if key.value == "targets")
    if not isinstance(data, list):
        raise WatchlistError(f"{path}: expected a list of targets (or a mapping with a 'targets' list)")
    specs = []
    for entry, entry_node in zip(data, node.value, strict=True):
        where = f"{path} line {entry_node.start_mark.line + 1}"
        if not isinstance(entry, dict):
            raise WatchlistError(f"{where}: a target must be a mapping with name and profile or url")
        unknown = [key for key in entry if key not in IMPORT_COLUMNS]
        if unknown:
            raise WatchlistError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(IMPORT_COLUMNS)})")
        specs.append((make_spec(**entry, where=where), where))
    return specs


def import_targets(engine: Engine, path: str | Path) -> ImportResult:
    """Add or update (by name) every target in the file, in one transaction: a bad line changes nothing."""
    specs = read_targets_file(path)
    return upsert_targets(engine, specs)


def upsert_targets(engine: Engine, specs: Sequence[TargetSpec]) -> ImportResult:
    added, updated = upsert_target_rows(engine, [_values(spec) for spec in specs])
    return ImportResult(added=added, updated=updated, names=[spec.name for spec in specs])
