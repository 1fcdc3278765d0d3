"""Reading the evidence archive the crawls wrote (netwatch.crawl.archive, layout in netwatch.domain.capture):
one record by its pointer, a revisit resolved to the record holding its payload, the index and provenance
of the capture a WARC file belongs to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from netwatch.domain.capture import INDEX_SUFFIX, PROVENANCE_SUFFIX, SCREENS_SUFFIX, read_span, stamp_of


class EvidenceError(Exception):
    """An archived record that cannot be read: the message names the file."""


@dataclass
class Record:
    """One archived fetch: the response (or revisit) with the payload it stands for."""

    file: Path
    offset: int
    length: int
    rec_type: str
    uri: str
    date: str
    ip_address: str | None
    status: int | None
    headers: list[tuple[str, str]]
    payload: bytes  # the body as the page showed it (transfer and content encodings undone)
    raw: bytes  # the record's gzip member as stored
    extra_raw: list[bytes] = field(default_factory=list)  # its request record, and for a revisit the original

    @property
    def content_type(self) -> str:
        return next((value for key, value in self.headers if key.lower() == "content-type"), "text/html")


def index_of(warc_file: str | Path) -> Path:
    folder, stamp = stamp_of(warc_file)
    return folder / f"{stamp}{INDEX_SUFFIX}"


def provenance_of(warc_file: str | Path) -> Path:
    folder, stamp = stamp_of(warc_file)
    return folder / f"{stamp}{PROVENANCE_SUFFIX}"


def screens_of(warc_file: str | Path) -> Path:
    folder, stamp = stamp_of(warc_file)
    return folder / f"{stamp}{SCREENS_SUFFIX}"


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"{path}: missing") from None
    except ValueError as exc:
        raise EvidenceError(f"{path}: not JSON ({exc})") from None


def index_entries(path: Path) -> list[dict[str, Any]]:
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvidenceError(f"{path}: missing") from None
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:  # the last line of a killed crawl's index
            continue
    return entries


def _parse(raw: bytes, where: str) -> Any:
    try:
        for record in ArchiveIterator(BytesIO(raw)):
            return record, record.content_stream().read()
    except Exception as exc:  # noqa: BLE001 - warcio raises several kinds on damaged input
        raise EvidenceError(f"{where}: not a readable WARC record ({type(exc).__name__}: {exc})") from None
    raise EvidenceError(f"{where}: no WARC record there")


def read_record(warc_file: str | Path, offset: int, length: int) -> Record:
    """The record at file#offset+length, a revisit resolved to its original's payload through the index."""
    path = Path(warc_file)
    where = f"{path}#{offset}"
    try:
        raw = read_span(path, offset, length)
    except FileNotFoundError:
        raise EvidenceError(f"{path}: missing") from None
    record, payload = _parse(raw, where)
    headers = record.http_headers.headers if record.http_headers else []
    status = int(record.http_headers.get_statuscode()) if record.http_headers else None
    found = Record(path, offset, length, record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                   record.rec_headers.get_header("WARC-Date"), record.rec_headers.get_header("WARC-IP-Address"),
                   status, list(headers), payload, raw)
    entry = next((e for e in index_entries(index_of(path)) if e.get("offset") == offset
                  and Path(e.get("file", "")).name == path.name and e.get("type") != "request"), None)
    if entry and entry.get("request"):
        found.extra_raw.append(read_span(path, entry["request"]["offset"], entry["request"]["length"]))
    if record.rec_type == "revisit":
        refers = (entry or {}).get("refers_to")
        if not refers:
            raise EvidenceError(f"{where}: a revisit whose original the index does not name")
        original_file = path.parent.parent / refers["file"]
        original = read_record(original_file, refers["offset"], refers["length"])
        found.payload, found.extra_raw = original.payload, [*found.extra_raw, original.raw]
    return found


def archive_manifests(root: Path) -> list[Path]:
    """Every provenance and screenshot record under the archive's root."""
    if not root.is_dir():
        return []
    return sorted([*root.glob(f"*/*{PROVENANCE_SUFFIX}"), *root.glob(f"*/*{SCREENS_SUFFIX}")])
