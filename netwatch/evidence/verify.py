"""`netwatch evidence verify`: every stored capture re-hashed against what was recorded when it was made.

Two hashes are checked: the sha256 of each file a provenance or screenshot record lists (the capture's
completeness hash), and the sha256 of each WARC record a lead sighting points to (the store's lead_hits).
A file that is missing or whose bytes changed fails, named. The captures of killed crawls are sealed first
(netwatch.crawl.provenance.seal_killed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwatch.crawl.provenance import seal_killed
from netwatch.crawl.warc import day_dirs
from netwatch.domain.capture import read_span, sha256_bytes, sha256_file
from netwatch.evidence.records import (
    EvidenceError,
    archive_manifests,
    provenance_of,
    read_json,
    screens_of,
)

OK, CHANGED, MISSING, UNARCHIVED = "ok", "changed", "missing", "not archived"


@dataclass(frozen=True)
class Check:
    what: str  # a file, or file#offset for a record
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (OK, UNARCHIVED)


def check_manifest(manifest: Path) -> list[Check]:
    """The files a provenance or screenshot record lists, re-hashed."""
    try:
        record = read_json(manifest)
    except EvidenceError as exc:
        return [Check(str(manifest), MISSING if "missing" in str(exc) else CHANGED, str(exc))]
    checks = []
    for name, recorded in sorted((record.get("files") or {}).items()):
        path = manifest.parent / name
        if not path.is_file():
            checks.append(Check(str(path), MISSING, f"listed in {manifest.name}"))
            continue
        actual = sha256_file(path)
        checks.append(Check(str(path), OK if actual == recorded else CHANGED,
                            "" if actual == recorded else f"{actual} != {recorded} recorded in {manifest.name}"))
    return checks


def check_sighting(row: dict[str, Any]) -> Check:
    """One lead sighting's WARC record, re-hashed."""
    if not row.get("warc_file"):
        return Check(f"lead {row['lead_id']} run {row['run_id']}", UNARCHIVED, "crawled without the archive")
    path = Path(row["warc_file"])
    what = f"{path}#{row['warc_offset']}"
    if not path.is_file():
        return Check(str(path), MISSING, f"lead {row['lead_id']}'s record")
    actual = sha256_bytes(read_span(path, int(row["warc_offset"]), int(row["warc_length"])))
    if actual != row["warc_sha256"]:
        return Check(what, CHANGED, f"lead {row['lead_id']}: {actual} != {row['warc_sha256']} in the store")
    return Check(what, OK)


def verify(sightings: Sequence[dict[str, Any]], archive_root: Path | None) -> list[Check]:
    """The sightings' records and the manifests of their captures; with archive_root (--all), every manifest
    under it too. Each file is checked once."""
    # A capture whose crawl was killed has only its open record until it is sealed: seal it first.
    seal_killed([*(day_dirs(archive_root) if archive_root is not None else []),
                 *(Path(row["warc_file"]).parent for row in sightings if row.get("warc_file"))])
    manifests: set[Path] = set(archive_manifests(archive_root)) if archive_root is not None else set()
    checks = [check_sighting(row) for row in sightings]
    for row in sightings:
        if row.get("warc_file"):
            manifests.add(provenance_of(row["warc_file"]))
            screens = screens_of(row["warc_file"])
            if screens.exists():
                manifests.add(screens)
    for manifest in sorted(manifests):
        checks += check_manifest(manifest)
    return _once(checks)


def _once(checks: Iterable[Check]) -> list[Check]:
    seen: dict[tuple[str, str], Check] = {}
    for check in checks:
        seen.setdefault((check.what, check.status), check)
    return list(seen.values())
