"""The WARC writer behind the evidence archive (ISO 28500, WARC/1.1, through warcio): one run's files, rotated
by size, gzip per record, an index line per record, and dedup by payload digest against this run and the
earlier runs still indexed in the archive (an unchanged page becomes a small `revisit` record).

Not a Scrapy component: netwatch.crawl.archive drives it from a single writer thread, so offsets are exact and
the crawl's reactor never waits on the disk.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import threading
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from netwatch.domain.capture import INDEX_SUFFIX, RecordPointer, sha256_bytes

# Hop-by-hop framing Twisted already undid: kept, a WARC reader would de-chunk the body a second time.
_DROPPED_HEADERS = {"transfer-encoding"}
# A page the browser rendered is its DOM as text: the transfer's encoding and length no longer describe it.
_DROPPED_RENDERED = {"transfer-encoding", "content-encoding", "content-length"}
GZIP_LEVEL = 6


@dataclass
class Exchange:
    """One fetch as the downloader saw it."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    protocol: str
    response_headers: list[tuple[str, str]]
    body: bytes
    ip_address: str | None
    fetched_at: datetime  # UTC
    rendered: bool = False  # the browser's DOM (scrapy-playwright), not the bytes on the wire


@dataclass
class Original:
    record_id: str
    uri: str
    date: str
    file: str  # relative to the archive's root
    offset: int
    length: int


@dataclass
class WarcRun:
    root: Path
    stamp: str  # netwatch-<UTC time>-<pid>: every file of the run starts with it
    max_bytes: int
    info: dict[str, Any]  # the warcinfo record's fields
    originals: dict[str, Original] = field(default_factory=dict)  # payload digest -> first response record
    counts: dict[str, int] = field(default_factory=lambda: {"response": 0, "revisit": 0, "request": 0, "bytes": 0})

    def __post_init__(self) -> None:
        day = self.stamp.split("-")[1][:8]  # the run's UTC date: its files go in one folder
        self.day_dir = self.root / f"{day[:4]}-{day[4:6]}-{day[6:8]}"
        self.day_dir.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self._handle: Any = None
        self._writer: WARCWriter | None = None
        self._index = open(self.day_dir / f"{self.stamp}{INDEX_SUFFIX}", "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self._resolved: dict[Path, str] = {}

    @property
    def index_path(self) -> Path:
        return self.day_dir / f"{self.stamp}{INDEX_SUFFIX}"

    # -- files -----------------------------------------------------------------------------------------
    def _open_next(self) -> None:
        self._close_file()
        path = self.day_dir / f"{self.stamp}-{len(self.files):05d}.warc.gz"
        self._handle = open(path, "wb")  # noqa: SIM115 - closed at rotation or close()
        self._writer = WARCWriter(self._handle, gzip=True, warc_version="WARC/1.1")
        self.files.append(path)
        self._resolved[path] = str(path.resolve())
        self._writer.write_record(self._writer.create_warcinfo_record(path.name, self.info))

    def _close_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = self._writer = None

    def close(self) -> None:
        with self._lock:
            self._close_file()
            self._index.close()

    # -- records ---------------------------------------------------------------------------------------
    def write(self, exchange: Exchange) -> RecordPointer:
        """Write the response (or a revisit when its payload is archived already) and its request; return
        where the response record is."""
        with self._lock:
            if self._handle is None or self._handle.tell() >= self.max_bytes:
                self._open_next()
            assert self._writer is not None
            writer = self._writer
            date = _warc_date(exchange.fetched_at)
            dropped = _DROPPED_RENDERED if exchange.rendered else _DROPPED_HEADERS
            http_headers = StatusAndHeaders(
                f"{exchange.status} {exchange.reason}".strip(),
                [(k, v) for k, v in exchange.response_headers if k.lower() not in dropped],
                protocol=exchange.protocol or "HTTP/1.1")
            warc_headers = {"WARC-Date": date}
            if exchange.ip_address:
                warc_headers["WARC-IP-Address"] = exchange.ip_address
            if exchange.rendered:
                warc_headers["WARC-Netwatch-Rendered"] = "chromium"  # the DOM after scripts ran
            digest = payload_digest(exchange.body)  # warcio's own form: the same as it writes into the record
            original = self.originals.get(digest) if exchange.status == 200 else None
            if original is not None:
                record = writer.create_revisit_record(
                    exchange.url, digest, original.uri, original.date, http_headers=http_headers,
                    warc_headers_dict={**warc_headers, "WARC-Refers-To": original.record_id})
            else:
                # With its length and payload digest given, warcio neither spools the body to a temporary
                # file nor hashes it a second time.
                record = writer.create_warc_record(
                    exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
                    http_headers=http_headers, warc_headers_dict={**warc_headers, "WARC-Payload-Digest": digest})
            pointer, entry = self._append(record, exchange, digest)
            if original is not None and record.rec_type == "revisit":
                entry["refers_to"] = {"record_id": original.record_id, "file": original.file,
                                      "offset": original.offset, "length": original.length}
            elif exchange.status == 200 and digest:
                self.originals[digest] = Original(entry["record_id"], exchange.url, date, entry["file"],
                                                  pointer.offset, pointer.length)
            request = writer.create_warc_record(
                exchange.url, "request", payload=BytesIO(exchange.request_body), length=len(exchange.request_body),
                http_headers=StatusAndHeaders(f"{exchange.method} {_path_of(exchange.url)} HTTP/1.1",
                                              exchange.request_headers, is_http_request=True),
                warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": entry["record_id"]})
            _, request_entry = self._append(request, exchange, None)
            entry["request"] = {"offset": request_entry["offset"], "length": request_entry["length"]}
            self._index.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._index.flush()
            return replace(pointer, revisit=record.rec_type == "revisit",
                           bytes_written=pointer.length + request_entry["length"])

    def _append(self, record: Any, exchange: Exchange, digest: str | None) -> tuple[RecordPointer, dict[str, Any]]:
        assert self._writer is not None and self._handle is not None
        path = self.files[-1]
        offset = self._handle.tell()
        # The record serialised, then gzipped as one member and hashed before it is written (no reading back).
        # zlib's default level: warcio's own gzip writer uses level 9, several times the CPU for ~5 % less disk.
        plain = BytesIO()
        WARCWriter(plain, gzip=False, warc_version="WARC/1.1").write_record(record)
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        data = compressor.compress(plain.getvalue()) + compressor.flush()
        self._handle.write(data)
        self._handle.flush()
        length = len(data)
        pointer = RecordPointer(self._resolved[path], offset, length, sha256_bytes(data))
        self.counts[record.rec_type] = self.counts.get(record.rec_type, 0) + 1
        self.counts["bytes"] += length
        entry = {"type": record.rec_type, "record_id": record.rec_headers.get_header("WARC-Record-ID"),
                 "uri": exchange.url, "date": record.rec_headers.get_header("WARC-Date"),
                 "file": str(path.relative_to(self.root)), "offset": offset, "length": length,
                 "sha256": pointer.sha256, "payload_digest": digest, "status": exchange.status,
                 "ip": exchange.ip_address, "rendered": exchange.rendered}
        return pointer, entry


def payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


_RUNS_IN_PROCESS = itertools.count()  # several crawls of one process may start within the same second


def run_stamp(now: datetime) -> str:
    return f"netwatch-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(_RUNS_IN_PROCESS):02d}"


def day_dirs(root: Path) -> list[Path]:
    """The archive's day folders (YYYY-MM-DD), oldest first."""
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if path.is_dir() and len(path.name) == 10 and path.name[4] == "-")


def load_originals(root: Path) -> dict[str, Original]:
    """Payload digest -> its first response record, over every index in the archive: a page unchanged since
    an earlier run is written as a revisit of that run's record."""
    originals: dict[str, Original] = {}
    for day in day_dirs(root):
        for index in sorted(day.glob(f"*{INDEX_SUFFIX}")):
            for entry in read_index(index):
                digest = entry.get("payload_digest")
                if entry.get("type") == "response" and entry.get("status") == 200 and digest \
                        and digest not in originals and (root / entry["file"]).exists():
                    originals[digest] = Original(entry["record_id"], entry["uri"], entry["date"], entry["file"],
                                                 entry["offset"], entry["length"])
    return originals


def read_index(path: Path) -> list[dict[str, Any]]:
    entries = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    entries.append(json.loads(line))
                except ValueError:  # a line cut short by a killed crawl
                    continue
    return entries


def prune(root: Path, retention_days: int, now: datetime) -> list[Path]:
    """Delete day folders older than the retention, except those a kept revisit record still refers to."""
    if retention_days <= 0:
        return []
    cutoff = (now.astimezone(UTC) - timedelta(days=retention_days)).strftime("%Y-%m-%d")
    days = day_dirs(root)
    old = [day for day in days if day.name < cutoff]
    needed = set()
    for day in days:
        if day.name >= cutoff:
            for index in day.glob(f"*{INDEX_SUFFIX}"):
                needed |= {Path(entry["refers_to"]["file"]).parts[0] for entry in read_index(index)
                           if entry.get("refers_to")}
    removed = [day for day in old if day.name not in needed]
    for day in removed:
        shutil.rmtree(day, ignore_errors=True)
    return removed
