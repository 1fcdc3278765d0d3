"""Reading a platform dump: CSV/TSV (UTF-8 or GBK), JSONL or XLSX -> rows as {column: value}, each with
its row number; rows that cannot be read become RowErrors naming file and row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format, no usable columns)."""


@dataclass(frozen=True)
class RowError:
    source: str
    row: int  # CSV/JSONL: line number in the file; XLSX: sheet row number (the header is row 1)
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.message}"




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
    encoding = best.encoding
    if encoding.replace("_", "").lower() in ("gbk", "gb2312", "cp936", "gb18030", "hz"):
        encoding = "gb18030"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{source}: not valid {encoding} at byte {exc.start}") from exc


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
        text = decode_bytes(path.read_bytes(), source)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        header = next(reader, None)
        if not header:
            raise ImportFileError(f"{source}: empty file (no header row)")
        header = [h.strip() for h in header]
        start = reader.line_num + 1
        for values in reader:
            row, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield row, RowError(source, row, f"{len(values)} cells where the header has {len(header)}")
                continue
            yield row, dict(zip(header, values))
    elif suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    value = json.loads(decode_bytes(raw, source))
                except (json.JSONDecodeError, ImportFileError) as exc:
                    yield number, RowError(source, number, f"not valid JSON: {exc}")
                    continue
                if not isinstance(value, dict):
                    yield number, RowError(source, number, "a line must hold one JSON object")
                    continue
                yield number, value
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

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
                if values is None or all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield number, {name: _cell(v) for name, v in zip(names, values)}
        finally:
            book.close()
    else:
        raise ImportFileError(f"{source}: unknown file type {suffix!r} (use .csv, .tsv, .jsonl, .ndjson or .xlsx)")


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
