"""Rows -> items: one Listing per listing id, with the reviews of a reviews dump attached to their listing.
Bad values are reported as RowErrors (file and row) and their rows skipped.

Memory stays bounded whatever the file's size: each row is checked and its values parked in a SQLite
file beside the system's temporary files (which also finds a listing id seen twice, and gathers the
reviews of one listing from all over the file); items then come out of it in batches (Staged.batches).
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from netwatch.domain.clock import utcnow_iso
from netwatch.domain.items import Listing, Review
from netwatch.extract.prices import parse_price
from netwatch.importing.columns import KINDS, guess_kind, resolve_columns
from netwatch.importing.read import JSON_LINES, ImportFileError, RowError, read_rows

MAX_KEPT_ERRORS = 1000  # a file of millions of bad rows must not hold millions of messages


@dataclass
class ImportReport:
    file: str
    kind: str
    platform: str
    rows: int = 0
    listings: int = 0
    reviews: int = 0
    shops: int = 0
    run_id: int | None = None
    errors: list[RowError] = field(default_factory=list)  # the first MAX_KEPT_ERRORS; `skipped` counts them all
    skipped: int = 0
    hits_by_category: dict[str, int] = field(default_factory=dict)

    def add_error(self, error: RowError) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)



def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def _str(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel gives ids as floats
    return str(value).strip()


def _price(value: Any, what: str) -> float | None:
    if _blank(value):
        return None
    # The extraction's parser: a dump's price is read as a page's is (no sign, no exponent, no absurd size).
    amount = parse_price(value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value))[0]
    if amount is None:
        raise ValueError(f"{what} {value!r} is not a price")
    return amount


def _specs(value: Any) -> dict[str, str]:
    if _blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, dict):
        raise ValueError('specs must be a JSON object such as {"材质": "纯棉"}')
    return {str(k).strip(): "" if _blank(v) else str(v).strip() for k, v in value.items()}


def _rating(value: Any) -> float | None:
    if _blank(value):
        return None
    try:
        rating = float(str(value).strip().rstrip("星★"))
    except ValueError:
        raise ValueError(f"rating {value!r} is not a number") from None
    if not 0 <= rating <= 10:
        raise ValueError(f"rating {value!r} is out of range")
    return rating


def _time(value: Any, zone: tzinfo = UTC) -> str | None:
    """A time as ISO 8601 in UTC; times without an offset are read in `zone` (the platform's clock)."""
    if _blank(value):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("/", "-"))
    except ValueError:
        import dateparser

        moment = dateparser.parse(text)
        if moment is None:
            raise ValueError(f"time {value!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat()


@dataclass
class ItemBuilder:
    """Checks a row and turns it into a record (JSON-able values), and records back into items."""

    kind: str
    platform: str
    columns: dict[str, str]
    source: str
    zone: tzinfo = UTC

    def value(self, row: Mapping[str, Any], name: str) -> Any:
        column = self.columns.get(name)
        return row.get(column) if column is not None else None

    def record(self, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(listing id, the row's checked values); ValueError names what is wrong. Every value is read
        before anything is kept: a bad row adds nothing."""
        ident = _str(self.value(row, "canonical_id"))
        if ident is None:
            raise ValueError(f"missing {self.columns['canonical_id']!r} (the listing id)")
        record: dict[str, Any] = {name: _str(self.value(row, name)) for name in ("url", "shop_id", "shop_name", "title")}
        if self.kind == "reviews":
            text = _str(self.value(row, "text"))
            if text is None:
                raise ValueError(f"missing {self.columns['text']!r} (the review text)")
            record["review"] = {"text": text, "reviewer": _str(self.value(row, "reviewer")),
                                "rating": _rating(self.value(row, "rating")),
                                "time": _time(self.value(row, "time"), self.zone),
                                "review_id": _str(self.value(row, "review_id"))}
            return ident, record
        price = _price(self.value(row, "price"), "price")
        category = _str(self.value(row, "category"))
        record.update(
            price=price, original_price=_price(self.value(row, "original_price"), "original price"),
            fetched_at=_time(self.value(row, "fetched_at"), self.zone), specs=_specs(self.value(row, "specs")),
            currency=_str(self.value(row, "currency")) or ("CNY" if price is not None else None),
            description=_str(self.value(row, "description")),
            category_hints=[c.strip() for c in category.replace("，", ",").split(",") if c.strip()] if category else [],
        )
        return ident, record

    def listing(self, ident: str, record: Mapping[str, Any]) -> Listing:
        listing = Listing(url=record["url"] or f"import://{self.platform}/item/{ident}", canonical_id=ident,
                          platform=self.platform, shop_id=record["shop_id"], shop_name=record["shop_name"],
                          title=record["title"])
        if self.kind == "listings":
            for name in ("price", "original_price", "currency", "description", "specs", "category_hints", "fetched_at"):
                setattr(listing, name, record[name])
        return listing


class Staged:
    """The checked rows of one file, parked on disk; `batches` gives their items a few at a time."""

    def __init__(self, builder: ItemBuilder, report: ImportReport):
        self.builder = builder
        self.report = report
        self._file = tempfile.NamedTemporaryFile(prefix="netwatch-import-", suffix=".sqlite")  # noqa: SIM115 - closed in close()
        self.db = sqlite3.connect(self._file.name)
        self.db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE listing (ident TEXT PRIMARY KEY, first_row INTEGER) WITHOUT ROWID;
            CREATE TABLE row (ident TEXT, number INTEGER, data TEXT);
            CREATE TABLE shop (id TEXT PRIMARY KEY) WITHOUT ROWID;
        """)

    def add(self, number: int, row: Mapping[str, Any], builder: ItemBuilder | None = None) -> RowError | None:
        try:
            ident, record = (builder or self.builder).record(row)
        except ValueError as exc:
            return RowError(self.builder.source, number, str(exc))
        new = self.db.execute("INSERT OR IGNORE INTO listing VALUES (?, ?)", (ident, number)).rowcount
        if not new and self.builder.kind == "listings":
            return RowError(self.builder.source, number, f"listing {ident!r} appears again (first row kept)")
        if record["shop_id"]:
            # No Shop item: a dump says nothing of what the shop page displays (its licence, its
            # notices), so the shop checks must not run on it; the store knows the shop from its listings.
            self.db.execute("INSERT OR IGNORE INTO shop VALUES (?)", (record["shop_id"],))
        self.db.execute("INSERT INTO row VALUES (?, ?, ?)", (ident, number, json.dumps(record, ensure_ascii=False)))
        return None

    def finish(self) -> None:
        if self.builder.kind == "reviews":  # so that batches() reads each listing's reviews in order, unsorted
            self.db.executescript("CREATE INDEX row_order ON row (ident, number); "
                                  "CREATE INDEX listing_order ON listing (first_row);")
        self.db.commit()
        self.report.listings = self.db.execute("SELECT count(*) FROM listing").fetchone()[0]
        self.report.shops = self.db.execute("SELECT count(*) FROM shop").fetchone()[0]
        self.report.reviews = self.db.execute("SELECT count(*) FROM row").fetchone()[0] if self.builder.kind == "reviews" else 0

    def batches(self, size: int = 500) -> Iterator[list[Listing]]:
        """The listings in file order (a listing's reviews in file order too), `size` rows' worth at a time."""
        now = utcnow_iso()
        # Indexes give the order (a sort of the whole file would need memory as the file grows).
        rows = self.db.execute(
            "SELECT ident, data FROM row ORDER BY rowid" if self.builder.kind == "listings" else
            "SELECT row.ident, row.data FROM listing CROSS JOIN row ON row.ident = listing.ident "
            "ORDER BY listing.first_row, row.number")
        batch: list[Listing] = []
        current: Listing | None = None
        weight = 0
        for ident, data in rows:
            record = json.loads(data)
            if current is None or current.canonical_id != ident:
                if weight >= size:
                    yield batch
                    batch, weight = [], 0
                current = self.builder.listing(ident, record)
                current.fetched_at = current.fetched_at or now
                batch.append(current)
            if "review" in record:
                current.reviews.append(Review(**record["review"]))
            weight += 1
        if batch:
            yield batch

    def close(self) -> None:
        self.db.close()
        self._file.close()

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stage_items(
    path: str | Path, *, kind: str | None = None, platform: str = "import", mapping: Mapping[str, str] | None = None,
    sheet: str | None = None, timezone_name: str = "UTC",
) -> Staged:
    """Read and check the whole file (bad rows to the report), keeping its rows on disk, not in memory."""
    source = str(path)
    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFileError(f"unknown time zone {timezone_name!r} (e.g. Asia/Shanghai or UTC)") from exc
    rows = read_rows(path, sheet=sheet)
    report = ImportReport(file=source, kind=kind or "?", platform=platform)
    varying_keys = Path(path).suffix.lower() in JSON_LINES  # every other format has one header for all rows
    seen_keys: set[str] = set()
    staged: Staged | None = None
    builders: dict[tuple[str, ...], ItemBuilder | RowError] = {}  # per key set: JSON lines need not share keys
    try:
        for number, row in rows:
            report.rows += 1
            if isinstance(row, RowError):
                report.add_error(row)
                continue
            keys = tuple(row)
            if varying_keys:
                seen_keys.update(keys)
            if staged is None:
                chosen = kind or guess_kind(keys)
                if chosen not in KINDS:
                    raise ImportFileError(f"{source}: --kind must be one of {', '.join(KINDS)}")
                report.kind = chosen
                # JSON lines need not share keys: a --map key the first line lacks may come later (checked below)
                first_mapping = {field: column for field, column in (mapping or {}).items()
                                 if column in keys or not varying_keys}
                builder = ItemBuilder(chosen, platform, resolve_columns(chosen, keys, first_mapping, source), source,
                                      zone)
                builders[keys] = builder
                staged = Staged(builder, report)
            builder = builders.get(keys) or builders.setdefault(keys, _builder_for(staged.builder, keys, mapping, number))
            if isinstance(builder, RowError):
                report.add_error(RowError(source, number, builder.message))
                continue
            error = staged.add(number, row, builder)
            if error is not None:
                report.add_error(error)
        if staged is None:
            raise ImportFileError(f"{source}: no data rows")
        never = [f"{field}={column}" for field, column in (mapping or {}).items() if varying_keys and column not in seen_keys]
        if never:
            raise ImportFileError(f"{source}: --map {', '.join(never)}: no line has that key "
                                  f"(keys: {', '.join(sorted(seen_keys))})")
        staged.finish()
    except BaseException:
        if staged is not None:
            staged.close()
        raise
    return staged


def _builder_for(first: ItemBuilder, keys: tuple[str, ...], mapping: Mapping[str, str] | None,
                 number: int) -> ItemBuilder | RowError:
    """The builder for a row whose keys differ from the first row's (a JSON line); --map columns it lacks
    are read as empty. A row without the required fields is an error of that row, not of the file."""
    present = {field: column for field, column in (mapping or {}).items() if column in keys}
    try:
        return replace(first, columns=resolve_columns(first.kind, keys, present, first.source))
    except ImportFileError as exc:
        return RowError(first.source, number, str(exc).removeprefix(f"{first.source}: "))


def build_items(
    path: str | Path, *, kind: str | None = None, platform: str = "import", mapping: Mapping[str, str] | None = None,
    sheet: str | None = None, timezone_name: str = "UTC",
) -> tuple[list[Listing], ImportReport]:
    """Every item of the file at once (for small files and tests; `netwatch import` streams: stage_items)."""
    with stage_items(path, kind=kind, platform=platform, mapping=mapping, sheet=sheet,
                     timezone_name=timezone_name) as staged:
        return [item for batch in staged.batches() for item in batch], staged.report
