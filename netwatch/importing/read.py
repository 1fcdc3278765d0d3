"""Reading a platform dump: CSV/TSV (UTF-8 or GBK), JSONL or XLSX -> rows as {column: value}, each with
its row number; rows that cannot be read become RowErrors naming file and row.

Every format is streamed (memory does not grow with the file), and what no platform export looks like is
refused before it is read: a row or cell beyond MAX_ROW_BYTES, a workbook whose parts inflate past
MAX_XLSX_INFLATED or more than MAX_XLSX_RATIO times (a decompression bomb), shared strings over
MAX_SHARED_STRINGS (openpyxl holds them all in memory), or more rows than Excel allows.
"""

from __future__ import annotations

import codecs
import csv
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format, no usable columns)."""


JSON_LINES = (".jsonl", ".ndjson")  # one JSON object per line: lines need not share keys
MAX_ROW_BYTES = 4 * 1024 * 1024  # one CSV cell or JSONL line; a listing's description is a few KB
MAX_XLSX_INFLATED = 2 * 1024**3  # the workbook's parts unpacked; a million-row dump is a few hundred MB
MAX_XLSX_RATIO = 100  # XML packs 5-20 times; a part inflating more than this (and past 16 MB) is a bomb
MAX_SHARED_STRINGS = 256 * 1024 * 1024
EXCEL_MAX_ROWS = 1_048_576
_SAMPLE_BYTES = 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RowError:
    source: str
    row: int  # CSV/JSONL: line number in the file; XLSX: sheet row number (the header is row 1)
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.message}"




def _gb(encoding: str) -> str:
    """GBK-family names are read as GB18030, their superset."""
    return "gb18030" if encoding.replace("_", "").lower() in ("gbk", "gb2312", "cp936", "gb18030", "hz") else encoding


def decode_bytes(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) when it decodes, else the encoding charset-normalizer detects
    (GBK-family names are read as GB18030, their superset)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise ImportFileError(f"{source}: cannot tell the text encoding (not UTF-8, GBK or another known one)")
    encoding = _gb(best.encoding)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{source}: not valid {encoding} at byte {exc.start}") from exc


def _decodes(path: Path, encoding: str) -> int | None:
    """None when the whole file decodes as `encoding` (read a chunk at a time), else the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset + exc.start
    return None


def file_encoding(path: Path, source: str) -> str:
    """The text file's encoding as decode_bytes would choose it, found without holding the file in memory:
    UTF-8 if all of it decodes so, else what charset-normalizer detects on its first megabyte."""
    if _decodes(path, "utf-8") is None:
        return "utf-8-sig"
    from charset_normalizer import from_bytes

    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if len(sample) == _SAMPLE_BYTES:
        sample = sample[: sample.rfind(b"\n") + 1] or sample  # whole lines: no character cut in two
    best = from_bytes(sample).best()
    if best is None or best.encoding is None:
        raise ImportFileError(f"{source}: cannot tell the text encoding (not UTF-8, GBK or another known one)")
    encoding = _gb(best.encoding)
    bad = _decodes(path, encoding)
    if bad is not None:
        raise ImportFileError(f"{source}: not valid {encoding} at byte {bad}")
    return encoding


def check_workbook(path: Path, source: str) -> None:
    """Refuse a workbook whose parts would inflate to more than any platform export (before openpyxl opens it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{source}: not a readable Excel workbook: {exc}") from exc
    mib = 1024 * 1024
    total = sum(part.file_size for part in parts)
    if total > MAX_XLSX_INFLATED:
        raise ImportFileError(f"{source}: unpacks to {total // mib} MB (limit {MAX_XLSX_INFLATED // mib} MB): "
                              "export it as CSV")
    for part in parts:
        if part.file_size > 16 * mib and part.file_size > MAX_XLSX_RATIO * max(part.compress_size, 1):
            raise ImportFileError(f"{source}: {part.filename} inflates {part.file_size // max(part.compress_size, 1)} "
                                  f"times to {part.file_size // mib} MB: a decompression bomb, not a platform export")
        if part.filename.lower().endswith("sharedstrings.xml") and part.file_size > MAX_SHARED_STRINGS:
            raise ImportFileError(f"{source}: {part.file_size // mib} MB of shared strings (limit "
                                  f"{MAX_SHARED_STRINGS // mib} MB, all held in memory to read it): export it as CSV")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # naive stays naive: the import's time zone applies
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_rows(path: str | Path, *, sheet: str | None = None) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield (row number, row as {column: value}) — or (row number, RowError) for an unreadable row."""
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportFileError(f"{source}: no such file")
    if suffix in (".csv", ".tsv", ".txt"):
        yield from _csv_rows(path, source, "\t" if suffix == ".tsv" else ",")
    elif suffix in JSON_LINES:
        yield from _jsonl_rows(path, source)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        check_workbook(path, source)
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
            raise ImportFileError(f"{source}: not a readable Excel workbook: {exc}") from exc
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise ImportFileError(f"{source}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
            rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
            header = next(rows, None)
            if not header or not any(h is not None for h in header):
                raise ImportFileError(f"{source}: empty sheet (no header row)")
            names = [str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(header)]
            for number, values in enumerate(rows, start=2):
                if number > EXCEL_MAX_ROWS:
                    raise ImportFileError(f"{source}: more than {EXCEL_MAX_ROWS} rows, more than Excel allows: "
                                          "not an Excel export")
                if values is None or all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield number, {name: _cell(v) for name, v in zip(names, values)}
        finally:
            book.close()
    else:
        raise ImportFileError(f"{source}: unknown file type {suffix!r} (use .csv, .tsv, .jsonl, .ndjson or .xlsx)")


def _csv_rows(path: Path, source: str, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    encoding = file_encoding(path, source)
    csv.field_size_limit(MAX_ROW_BYTES)
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ImportFileError(f"{source}:1: header unreadable: {exc}") from exc
        if not header:
            raise ImportFileError(f"{source}: empty file (no header row)")
        header = [h.strip() for h in header]
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader, None)
            except csv.Error as exc:  # a cell over the size limit; the reader goes on after it
                row, start = start, reader.line_num + 1
                yield row, RowError(source, row, f"unreadable: {exc}")
                continue
            if values is None:
                return
            row, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield row, RowError(source, row, f"{len(values)} cells where the header has {len(header)}")
                continue
            yield row, dict(zip(header, values))


def _jsonl_rows(path: Path, source: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_ROW_BYTES + 1):
            number += 1
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                while (rest := handle.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the line, a chunk at a time
                yield number, RowError(source, number, f"line longer than {MAX_ROW_BYTES} bytes")
                continue
            if not raw.strip():
                continue
            try:
                value = json.loads(decode_bytes(raw, source))
            except (json.JSONDecodeError, ImportFileError, RecursionError) as exc:
                yield number, RowError(source, number, f"not valid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield number, RowError(source, number, "a line must hold one JSON object")
                continue
            yield number, value


def load_frame(path: str | Path, *, sheet: str | None = None):
    """The file as a pandas DataFrame indexed by source row number, and the unreadable rows."""
    import pandas as pd

    numbers: list[int] = []
    records: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for number, row in read_rows(path, sheet=sheet):
        if isinstance(row, RowError):
            errors.append(row)
        else:
            numbers.append(number)
            records.append(row)
    frame = pd.DataFrame.from_records(records, index=pd.Index(numbers, name="row"))
    return frame, errors
