"""The WARC writer behind the evidence archive (ISO 28500, WARC/1.1; warcio reads and checks it): one run's
files, rotated by size, gzip per record, an index line per record, and dedup by payload digest against this run and the
earlier runs still indexed in the archive (an unchanged page becomes a small `revisit` record).

Not a Scrapy component: netwatch.crawl.archive calls it, one write at a time (a lock keeps offsets exact).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.warcwriter import WARCWriter

from netwatch.domain.capture import INDEX_SUFFIX, RecordPointer, sha256_bytes

# Hop-by-hop framing Twisted already undid: kept, a WARC reader would de-chunk the body a second time.
_DROPPED_HEADERS = {"transfer-encoding"}
# A page the browser rendered is its DOM as text: the transfer's encoding and length no longer describe it.
_DROPPED_RENDERED = {"transfer-encoding", "content-encoding", "content-length"}
GZIP_LEVEL = 6  # zlib's default: warcio's own gzip writer uses 9, several times the CPU for ~5 % less disk
WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
_CONTENT_TYPES = {"response": "application/http; msgtype=response", "revisit": "application/http; msgtype=response",
                  "request": "application/http; msgtype=request"}
_BASE32_PAIRS = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"]


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
        self._offset = 0  # where the next record goes in the current file
        self._index = open(self.day_dir / f"{self.stamp}{INDEX_SUFFIX}", "a", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self._resolved = self._relative = ""  # the current file: absolute, and relative to the root (index)

    @property
    def index_path(self) -> Path:
        return self.day_dir / f"{self.stamp}{INDEX_SUFFIX}"

    # -- files -----------------------------------------------------------------------------------------
    def _open_next(self) -> None:
        self._close_file()
        path = self.day_dir / f"{self.stamp}-{len(self.files):05d}.warc.gz"
        # Unbuffered: each exchange is one write() of whole gzip members, on disk before its pointer is handed out.
        self._handle = open(path, "wb", buffering=0)  # noqa: SIM115 - closed at rotation or close()
        self.files.append(path)
        self._resolved, self._relative = str(path.resolve()), str(path.relative_to(self.root))
        # Once per file: warcio writes the warcinfo record.
        WARCWriter(self._handle, gzip=True, warc_version=WARC_VERSION).write_record(
            WARCWriter(None, warc_version=WARC_VERSION).create_warcinfo_record(path.name, self.info))
        self._offset = self._handle.tell()

    def _close_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        with self._lock:
            self._close_file()
            self._index.close()

    # -- records ---------------------------------------------------------------------------------------
    def write(self, exchange: Exchange) -> RecordPointer:
        """Write the response (or a revisit when its payload is archived already) and its request; return
        where the response record is."""
        with self._lock:
            if self._handle is None or self._offset >= self.max_bytes:
                self._open_next()
            date = _warc_date(exchange.fetched_at)
            dropped = _DROPPED_RENDERED if exchange.rendered else _DROPPED_HEADERS
            status_line = f"{exchange.protocol or 'HTTP/1.1'} {exchange.status} {exchange.reason}".rstrip()
            http_head = _http_head(status_line, [(k, v) for k, v in exchange.response_headers
                                                 if k.lower() not in dropped])
            fields = [("WARC-Date", date), ("WARC-Target-URI", exchange.url)]
            if exchange.ip_address:
                fields.append(("WARC-IP-Address", exchange.ip_address))
            if exchange.rendered:
                fields.append(("WARC-Netwatch-Rendered", "chromium"))  # the DOM after scripts ran
            digest = payload_digest(exchange.body)
            original = self.originals.get(digest) if exchange.status == 200 else None
            if original is not None:  # the payload is archived already: only the HTTP head is kept
                rec_type, payload = "revisit", b""
                fields += [("WARC-Profile", REVISIT_PROFILE), ("WARC-Refers-To", original.record_id),
                           ("WARC-Refers-To-Target-URI", original.uri), ("WARC-Refers-To-Date", original.date)]
            else:
                rec_type, payload = "response", exchange.body
            response_id, response = _record(rec_type, fields, http_head, payload, digest)
            request_head = _http_head(f"{exchange.method} {_path_of(exchange.url)} HTTP/1.1",
                                      exchange.request_headers)
            _, request = _record("request", [("WARC-Date", date), ("WARC-Target-URI", exchange.url),
                                             ("WARC-Concurrent-To", response_id)],
                                 request_head, exchange.request_body, payload_digest(exchange.request_body))
            offset = self._offset
            self._handle.write(response + request)
            self._offset += len(response) + len(request)
            pointer = RecordPointer(self._resolved, offset, len(response), sha256_bytes(response),
                                    revisit=original is not None, bytes_written=len(response) + len(request))
            entry = {"type": rec_type, "record_id": response_id, "uri": exchange.url, "date": date,
                     "file": self._relative, "offset": offset, "length": len(response), "sha256": pointer.sha256,
                     "payload_digest": digest, "status": exchange.status, "ip": exchange.ip_address,
                     "rendered": exchange.rendered,
                     "request": {"offset": offset + len(response), "length": len(request)}}
            if original is not None:
                entry["refers_to"] = {"record_id": original.record_id, "file": original.file,
                                      "offset": original.offset, "length": original.length}
            elif exchange.status == 200:
                self.originals[digest] = Original(response_id, exchange.url, date, self._relative, offset,
                                                  len(response))
            self.counts[rec_type] += 1
            self.counts["request"] += 1
            self.counts["bytes"] += pointer.bytes_written
            # Flushed with its record: a revisit is resolved through the index, even after a killed crawl.
            self._index.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._index.flush()
            return pointer


def _http_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    """An HTTP message's head as it went over the wire: the header values came from bytes decoded as latin-1."""
    return "".join([first_line, "\r\n", *(f"{name}: {value}\r\n" for name, value in headers), "\r\n"]).encode(
        "latin-1")


def _record(rec_type: str, fields: list[tuple[str, str]], http_head: bytes, payload: bytes,
            digest: str) -> tuple[str, bytes]:
    """One WARC/1.1 record (ISO 28500 §4-6), gzipped as one member: its WARC-Record-ID and bytes.

    The header block is plain text, written here directly: building it through warcio's writer cost ~1 ms a
    page (its header objects, buffer copies and a second hashing pass). warcio still reads and checks the files
    (tests/test_evidence.py, `warcio check`)."""
    if any("\r" in value or "\n" in value for _, value in fields):  # would end the header block early
        raise ValueError(f"a line break in a WARC header field of the {rec_type} record of {fields[1][1]!r}")
    record_id = f"<urn:uuid:{uuid.uuid4()}>"
    block_digest = hashlib.sha1(http_head)
    block_digest.update(payload)
    lines = [WARC_VERSION, f"WARC-Type: {rec_type}", f"WARC-Record-ID: {record_id}",
             *(f"{name}: {value}" for name, value in fields),
             f"WARC-Payload-Digest: {digest}", f"WARC-Block-Digest: sha1:{_sha1_base32(block_digest.digest())}",
             f"Content-Type: {_CONTENT_TYPES[rec_type]}", f"Content-Length: {len(http_head) + len(payload)}"]
    header = "\r\n".join(lines)
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    data = b"".join([compressor.compress((header + "\r\n\r\n").encode("utf-8") + http_head),
                     compressor.compress(payload), compressor.compress(b"\r\n\r\n"), compressor.flush()])
    return record_id, data


def payload_digest(body: bytes) -> str:
    return "sha1:" + _sha1_base32(hashlib.sha1(body).digest())


def _sha1_base32(digest: bytes) -> str:
    """RFC 4648 base32 of a 20-byte SHA-1 (160 bits: 32 characters, no padding), as WARC digests are written,
    two characters (10 bits) at a time. base64.b32encode is pure Python before 3.13 and slower: 4 calls a page."""
    number = int.from_bytes(digest, "big")
    return "".join([_BASE32_PAIRS[(number >> shift) & 1023] for shift in range(150, -1, -10)])


def _warc_date(moment: datetime) -> str:
    """2026-12-06T01:02:03.456789Z (WARC/1.1 allows the fraction); isoformat is several times faster than strftime."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _path_of(url: str) -> str:
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
