"""The evidence archive's layout, shared by the crawl that writes it (netwatch.crawl.archive) and the commands
that read and verify it (netwatch.evidence): file names, the record pointer an item carries, hashing.

    ARCHIVE/2026-12-06/netwatch-20261206T214501-4711-00-00000.warc.gz   WARC/1.1, one gzip member per record
    ARCHIVE/2026-12-06/netwatch-20261206T214501-4711-00.index.jsonl     one line per record (where, digest, URL)
    ARCHIVE/2026-12-06/netwatch-20261206T214501-4711-00.provenance.json  the capture's provenance and file hashes
    ARCHIVE/2026-12-06/netwatch-20261206T214501-4711-00.provenance.open.json  the same while its crawl runs
    ARCHIVE/2026-12-06/netwatch-20261206T214501-4711-00.screens.json     screenshots taken after the crawl
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX_SUFFIX = ".index.jsonl"
PROVENANCE_SUFFIX = ".provenance.json"
OPEN_PROVENANCE_SUFFIX = ".provenance.open.json"  # written as the crawl starts; sealed if the crawl is killed
SCREENS_SUFFIX = ".screens.json"
MANIFEST_SUFFIXES = (PROVENANCE_SUFFIX, SCREENS_SUFFIX)  # JSON files whose "files" map names to sha256


@dataclass(frozen=True)
class RecordPointer:
    """Where one WARC record is: the file (absolute path), its gzip member's offset and length, and the sha256
    of those bytes (what `netwatch evidence verify` re-computes). A lead sighting stores it (lead_hits)."""

    file: str
    offset: int
    length: int
    sha256: str
    revisit: bool = False  # a revisit record: the payload is in an earlier record (the index names it)
    bytes_written: int = 0  # the record and its request record, on disk

    def to_dict(self) -> dict[str, Any]:  # once per page fetched: spelled out, dataclasses.asdict deep-copies
        return {"file": self.file, "offset": self.offset, "length": self.length, "sha256": self.sha256}


def stamp_of(warc_file: str | Path) -> tuple[Path, str]:
    """A WARC file's folder and its capture's stamp (the name without -NNNNN.warc.gz)."""
    path = Path(warc_file)
    return path.parent, path.name.rsplit("-", 1)[0]


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def read_span(path: str | Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)
