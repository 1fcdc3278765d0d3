"""Lead exports for field teams: CSV (UTF-8 with BOM, for Excel on Chinese Windows), XLSX or JSON lines.

Rows stream from the database in chunks (a server-side cursor on PostgreSQL), so memory does not grow
with the number of leads. Every cell survives a spreadsheet (spreadsheet_text): text that Excel would read
as a formula gets a leading apostrophe (OWASP's advice for CSV injection) unless it is a plain number such
as "-1"; a long digit string (an all-digit 统一社会信用代码) is written to CSV as ="…", so Excel, WPS and
LibreOffice keep it as text instead of 9.11101085513853E+17; characters XLSX cannot hold (control
characters from a page, e.g. ESC) become U+FFFD in that format instead of failing the whole export.

CSV, the format of big exports and of the nightly outbox, skips pandas: the database computes the cells
(timestamps as text, localised names) and csv.writer writes the driver's rows, several times faster than
DataFrames; only cells a spreadsheet would misread go through Python.
XLSX and JSON lines go through pandas frames (neutralise_formulas, _localise).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from netwatch.domain.clock import zone
from netwatch.domain.vocab import LANGUAGES, NAMES_ZH
from netwatch.store import Store, StoreError
from netwatch.store.queries import LEAD_COLUMNS, lead_query

if TYPE_CHECKING:  # pandas is imported where frames are made: a CSV export does without its 60 MB
    import pandas as pd

FORMATS = ("csv", "xlsx", "jsonl")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
# Spreadsheets keep 15 significant digits and show 12 or more digits as 1.2E+11: such strings are kept as text.
_LONG_DIGITS = re.compile(r"\d{12,}\Z")
# What a cell must start with, or be, to need spreadsheet_text: one C-level match per cell decides.
_NEEDS_CARE = re.compile(r"[=+\-@\t\r]|\d{12,}\Z")
# The CSV columns whose text comes from crawled pages or analysts; the others hold netwatch's own names,
# rule-pack texts, numbers, times and hashes, so checking them for formulas only costs time.
UNTRUSTED_TEXT = frozenset({"platform", "shop_name", "shop_url", "credit_code", "listing_url", "title",
                            "matched_text", "context", "assignee", "note"})

HEADERS_ZH = {
    "lead_id": "线索编号", "platform": "平台", "shop_name": "店铺名称", "shop_url": "店铺链接",
    "credit_code": "统一社会信用代码", "group_id": "关联卖家组", "listing_url": "商品链接", "title": "商品标题", "price": "价格",
    "original_price": "原价（划线价）", "category": "违法类型", "rule": "命中规则", "legal_basis": "法律依据",
    "matched_text": "命中内容", "context": "上下文", "severity": "严重程度", "first_seen": "首次发现",
    "last_seen": "最近发现", "times_seen": "发现次数", "status": "状态", "assignee": "承办人", "note": "备注",
    "evidence_hash": "证据哈希（SHA-256）", "region": "所属地区",
    "evidence_first": "首次发现证据（WARC 记录）", "evidence_latest": "最近发现证据（WARC 记录）",
}
VALUES_ZH = {kind: dict(names) for kind, names in NAMES_ZH.items()}
# names older rule packs used
VALUES_ZH["category"].update({"prohibited_goods": "禁限售商品", "counterfeits": "侵权假冒"})
TIME_COLUMNS = ("first_seen", "last_seen")


def headers(lang: str, tz: ZoneInfo) -> list[str]:
    """The export's header row: column names (en), or Chinese headers with the times' zone (zh)."""
    if lang != "zh":
        return list(LEAD_COLUMNS)
    return [f"{HEADERS_ZH[name]}（{tz.key}）" if name in TIME_COLUMNS else HEADERS_ZH[name] for name in LEAD_COLUMNS]


def spreadsheet_text(value: str, *, long_digits_as_formula: bool = False) -> str:
    """The cell as a spreadsheet must get it to show `value` as text: a formula-like start neutralised with an
    apostrophe (a plain number such as "-1" is left as it is), and, for CSV, a long digit string as ="…"."""
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    if long_digits_as_formula and _LONG_DIGITS.match(value):
        return f'="{value}"'
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """spreadsheet_text on every text cell of the frame (XLSX and JSON lines keep strings as strings)."""
    import pandas as pd

    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            values = frame[column]
            risky = values.str.startswith(FORMULA_STARTS, na=False)
            if risky.any():
                frame[column] = values.mask(risky, values[risky].map(spreadsheet_text))
    return frame


def _csv_cells(rows: Sequence[Sequence], columns: Sequence[int], times: Sequence[int] = (),
               local: Callable[[str], str] = str) -> list[Sequence]:
    """The rows with spreadsheet_text applied to their untrusted text columns, where a cell needs it, and their
    time columns in the display zone (local)."""
    out: list[Sequence] = []
    care = _NEEDS_CARE.match
    for row in rows:
        if times:
            row = list(row)
            for i in times:
                row[i] = local(row[i])
        if any(row[i].__class__ is str and care(row[i]) for i in columns):
            row = [spreadsheet_text(value, long_digits_as_formula=True) if i in columns and value.__class__ is str
                   else value for i, value in enumerate(row)]
        out.append(row)
    return out


def _localise(frame: pd.DataFrame, lang: str, tz: ZoneInfo) -> pd.DataFrame:
    import pandas as pd

    for column in TIME_COLUMNS:
        frame[column] = (pd.to_datetime(frame[column]).dt.tz_localize("UTC").dt.tz_convert(tz.key)
                         .dt.strftime("%Y-%m-%d %H:%M:%S"))
    if lang == "zh":
        for column, names in VALUES_ZH.items():
            frame[column] = frame[column].map(lambda value, names=names: names.get(value, value))
    frame.columns = headers(lang, tz)
    return frame


def _local_times(tz: ZoneInfo) -> Callable[[str], str]:
    """Stored UTC "YYYY-MM-DD HH:MM:SS" text -> the same in zone tz. Converted once per minute (zone offsets
    are whole minutes and a batch's leads share their minutes), so big exports stay fast."""
    @lru_cache(maxsize=4096)
    def minute(prefix: str) -> str:
        moment = datetime.strptime(prefix, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).astimezone(tz)
        return moment.strftime("%Y-%m-%d %H:%M")

    def convert(text: str | None) -> str | None:
        return text if not text else minute(text[:16]) + text[16:]

    return convert


def fixed_offset_minutes(tz: ZoneInfo) -> int | None:
    """The zone's offset from UTC in minutes when it has been the same all year since 2000 (Asia/Shanghai:
    480), so the database can shift stored times itself; None for zones with daylight saving time."""
    offsets = {datetime(year, month, 1, tzinfo=tz).utcoffset() for year in range(2000, 2041) for month in (1, 7)}
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds() // 60)


def _csv_query(filters: dict, lang: str, dialect: str = "sqlite", shift_minutes: int | None = 0) -> sa.Select:
    """lead_query with each CSV cell computed by the database, as _localise(frame) computes it for frames:
    timestamps as text to the second (shifted into the display zone when shift_minutes is given), zh names of
    categories, statuses and severities. So Python only moves rows from the cursor to csv.writer (and fixes
    the few cells _csv_cells picks): per-cell Python was most of a big export's time."""
    query = lead_query(**filters)
    columns = []
    for column in query.selected_columns:
        value: sa.ColumnElement = column
        if isinstance(column.type, sa.DateTime):  # "2024-05-01 00:00:00[.000000]" from both databases
            if shift_minutes and dialect == "sqlite":
                value = sa.func.datetime(column, f"{shift_minutes:+d} minutes")
            elif shift_minutes:
                value = column + sa.literal_column(f"interval '{int(shift_minutes)} minutes'")
            value = sa.func.substr(sa.cast(value, sa.String), 1, 19)
        elif lang == "zh" and column.name in VALUES_ZH:
            value = sa.case(VALUES_ZH[column.name], value=column, else_=column)
        columns.append(value.label(column.name))
    return query.with_only_columns(*columns)


def _csv_chunks(store: Store, chunk_size: int, filters: dict, lang: str,
                tz: ZoneInfo) -> Iterator[Sequence[Sequence]]:
    """Chunks of CSV rows, the first being the header row; times in zone tz (shifted by the database for a
    zone without daylight saving time, else converted here)."""
    yield [headers(lang, tz)]
    untrusted = [index for index, name in enumerate(LEAD_COLUMNS) if name in UNTRUSTED_TEXT]
    shift = fixed_offset_minutes(tz)
    times = [] if shift is not None else [LEAD_COLUMNS.index(name) for name in TIME_COLUMNS]
    local = _local_times(tz)
    with store.reading() as conn:
        query = _csv_query(filters, lang, conn.dialect.name, shift)
        for rows in _driver_chunks(conn, query, chunk_size):
            yield _csv_cells(rows, untrusted, times, local)


def _driver_chunks(conn: sa.Connection, query: sa.Select, chunk_size: int) -> Iterator[list[tuple]]:
    """The query's rows as the driver returns them (plain tuples), chunk_size at a time: SQLAlchemy's Row
    objects cost a tenth of a big export. PostgreSQL sends each chunk from a server-side cursor."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    for name, value in values.items():
        # as SQLAlchemy would: e.g. --since as SQLite's text timestamps. An IN list's expanded values have no
        # bind of their own: they are statuses, categories, sites or run ids, which no driver converts
        if name in compiled.binds and (process := compiled.binds[name].type.dialect_impl(conn.dialect)
                                       .bind_processor(conn.dialect)) is not None:
            values[name] = process(value)
    parameters = tuple(values[name] for name in compiled.positiontup) if compiled.positional else values
    driver = conn.connection.driver_connection
    cursor = driver.cursor(name="netwatch_export") if conn.dialect.name == "postgresql" else driver.cursor()
    try:
        cursor.execute(str(compiled), parameters)
        while rows := cursor.fetchmany(chunk_size):
            yield rows
    finally:
        cursor.close()


def _chunks(store: Store, chunk_size: int, filters: dict) -> Iterator[pd.DataFrame]:
    import pandas as pd

    query = lead_query(**filters)
    with store.reading() as conn:
        streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
        empty = True
        for frame in pd.read_sql(query, streaming, chunksize=chunk_size):
            empty = False
            yield frame
        if empty:  # still write the header row
            yield pd.DataFrame({column: pd.Series(dtype=object) for column in LEAD_COLUMNS})


def export_leads(store: Store, out: str | Path, fmt: str = "csv", lang: str = "en", *, since=None, status=None,
                 category=None, site=None, min_severity=None, first_run_ids: Sequence[int] | None = None,
                 chunk_size: int = 10_000, tz: ZoneInfo | None = None, **more) -> int:
    """Write the filtered leads to `out`; returns the number of rows written. first_run_ids: only the leads
    those runs found first (a nightly run's new leads, as its outbox hands them to a region). Times are
    written in zone tz (default: NETWATCH_TZ, Asia/Shanghai); `more`: the workbench's filters (e.g. scope).

    The file is written beside `out` and renamed into place at the end, so a failed export
    never leaves a half-written file where the previous one was.
    """
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise StoreError(f"unknown language {lang!r}: use zh or en")
    try:
        tz = tz or zone()
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    out = Path(out)
    if not out.parent.is_dir():
        raise StoreError(f"cannot write {out}: the directory {out.parent} does not exist")
    filters = {"since": since, "status": status, "category": category, "site": site, "min_severity": min_severity,
               "first_run_ids": first_run_ids, **more}
    lead_query(**filters)  # a bad filter value fails here, before a file is opened
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "csv":
            rows = _write_csv_rows(_csv_chunks(store, chunk_size, filters, lang, tz), partial)
        else:
            frames = (neutralise_formulas(_localise(frame, lang, tz)) for frame in _chunks(store, chunk_size, filters))
            rows = {"xlsx": _write_xlsx, "jsonl": _write_jsonl}[fmt](frames, partial)
        os.replace(partial, out)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return rows


def _write_csv_rows(chunks: Iterator[Sequence[Sequence]], path: Path) -> int:
    """CSV from lists of rows whose first is the header; returns the rows after the header."""
    rows = -1
    # utf-8-sig writes the BOM once, at the start; Excel needs it to read UTF-8.
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        buffer = io.StringIO()  # one write per chunk: per-row writes to the encoding file cost more than csv
        writer = csv.writer(buffer, lineterminator="\r\n")
        for chunk in chunks:
            writer.writerows(chunk)
            handle.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            rows += len(chunk)
    return rows


def _write_jsonl(frames: Iterator[pd.DataFrame], path: Path) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8") as handle:
        for frame in frames:
            if len(frame):  # pandas ends JSON lines with a newline
                handle.write(frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso"))
            rows += len(frame)
    return rows


def _write_xlsx(frames: Iterator[pd.DataFrame], path: Path) -> int:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)  # streams rows to disk instead of building the sheet in memory
    sheet = workbook.create_sheet("leads")
    rows = 0
    for number, frame in enumerate(frames):
        if number == 0:
            sheet.append(list(frame.columns))
        for record in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            # control characters a page carried (ESC, NUL…): XLSX cannot hold them, the export must not fail
            sheet.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value
                          for value in record])
        rows += len(frame)
    workbook.save(path)
    return rows
