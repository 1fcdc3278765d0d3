"""Platform data import: listing or review dumps (CSV in UTF-8 or GBK, JSONL, XLSX) become Listing and
Review items, go through the same per-item steps as crawled items (clean text -> rule engine
-> shop licence -> price marks), are saved by the store and their reviews scored over the store, so they
yield leads exactly as a crawl would. Bad rows are reported with their file and row number and skipped; good rows are kept.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from price_parser import Price

from netwatch.domain.items import Listing, Review

if TYPE_CHECKING:
    from netwatch.analysis.reviews import ReviewSignalScorer

KINDS = ("listings", "reviews")

# Item field -> column names recognised without --map (English and the Chinese headers platforms use).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "listings": {
        "canonical_id": ("canonical_id", "item_id", "listing_id", "id", "商品id", "商品ID", "商品编号", "宝贝id"),
        "url": ("url", "link", "商品链接", "链接"),
        "title": ("title", "name", "商品名称", "标题", "商品标题"),
        "price": ("price", "价格", "售价", "现价"),
        "original_price": ("original_price", "list_price", "原价", "划线价"),
        "currency": ("currency", "币种"),
        "description": ("description", "desc", "商品描述", "描述", "详情"),
        "shop_id": ("shop_id", "店铺id", "店铺ID", "店铺编号"),
        "shop_name": ("shop_name", "shop", "店铺名称", "店铺"),
        "category": ("category", "类目", "商品类目"),
        "fetched_at": ("fetched_at", "time", "采集时间", "抓取时间"),
    },
    "reviews": {
        "canonical_id": ("canonical_id", "item_id", "listing_id", "商品id", "商品ID", "商品编号", "宝贝id"),
        "text": ("text", "content", "review", "评价内容", "评论内容", "评价", "内容"),
        "reviewer": ("reviewer", "user", "user_name", "用户", "用户名", "买家", "评价人"),
        "rating": ("rating", "score", "stars", "评分", "星级"),
        "time": ("time", "created_at", "date", "评价时间", "时间"),
        "review_id": ("review_id", "评价id", "评价ID"),
        "shop_id": ("shop_id", "店铺id", "店铺ID"),
        "shop_name": ("shop_name", "店铺名称", "店铺"),
        "title": ("title", "商品名称", "标题"),
        "url": ("url", "商品链接", "链接"),
    },
}
REQUIRED = {"listings": ("canonical_id",), "reviews": ("canonical_id", "text")}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format, no usable columns)."""


@dataclass(frozen=True)
class RowError:
    source: str
    row: int  # CSV/JSONL: line number in the file; XLSX: sheet row number (the header is row 1)
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.message}"


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
    errors: list[RowError] = field(default_factory=list)
    hits_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return len(self.errors)


# -- reading ----------------------------------------------------------------------------------------

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


# -- rows -> items ---------------------------------------------------------------------------------

def parse_mapping(spec: str | Iterable[str] | None) -> dict[str, str]:
    """'field=column,field2=column2' (or several such strings) -> {field: column}."""
    if not spec:
        return {}
    parts = [spec] if isinstance(spec, str) else list(spec)
    mapping: dict[str, str] = {}
    for part in parts:
        for pair in part.split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise ValueError(f"--map: {pair!r} is not field=column")
            name, column = (x.strip() for x in pair.split("=", 1))
            if not name or not column:
                raise ValueError(f"--map: {pair!r} is not field=column")
            mapping[name] = column
    return mapping


def resolve_columns(kind: str, columns: Sequence[str], mapping: Mapping[str, str], source: str) -> dict[str, str]:
    """Item field -> column, from --map first, then the known aliases; errors name what is missing."""
    fields = ALIASES[kind]
    unknown = set(mapping) - set(fields)
    if unknown:
        raise ImportFileError(f"{source}: --map names unknown {kind} field(s) {sorted(unknown)} (known: {', '.join(fields)})")
    present = {c.strip(): c for c in columns}
    lower = {c.strip().lower(): c for c in columns}
    resolved: dict[str, str] = {}
    for name, aliases in fields.items():
        if name in mapping:
            if mapping[name] not in present:
                raise ImportFileError(f"{source}: --map {name}={mapping[name]}: no such column (columns: {', '.join(columns)})")
            resolved[name] = present[mapping[name]]
            continue
        for alias in aliases:
            column = present.get(alias) or lower.get(alias.lower())
            if column is not None:
                resolved[name] = column
                break
    missing = [f for f in REQUIRED[kind] if f not in resolved]
    if missing:
        raise ImportFileError(f"{source}: no column for {', '.join(missing)} (columns: {', '.join(columns)}); "
                           f"name it with --map {missing[0]}=COLUMN")
    return resolved


def guess_kind(columns: Sequence[str]) -> str:
    """A file with a review-text column holds reviews, else listings."""
    names = {c.strip().lower() for c in columns}
    return "reviews" if names & {a.lower() for a in ALIASES["reviews"]["text"]} else "listings"


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
    if isinstance(value, (int, float)):
        return float(value)
    amount = Price.fromstring(str(value)).amount_float
    if amount is None:
        raise ValueError(f"{what} {value!r} is not a price")
    return amount


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


def _time(value: Any, zone: tzinfo = timezone.utc) -> str | None:
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
    return moment.astimezone(timezone.utc).isoformat()


@dataclass
class ItemBuilder:
    """Turns rows into listings, one per id, with reviews attached to their listing."""

    kind: str
    platform: str
    columns: dict[str, str]
    source: str
    zone: tzinfo = timezone.utc
    listings: dict[str, Listing] = field(default_factory=dict)
    shop_ids: set[str] = field(default_factory=set)

    def value(self, row: Mapping[str, Any], name: str) -> Any:
        column = self.columns.get(name)
        return row.get(column) if column is not None else None

    def add(self, number: int, row: Mapping[str, Any]) -> RowError | None:
        try:
            self._add(row)
        except ValueError as exc:
            return RowError(self.source, number, str(exc))
        return None

    def _listing(self, row: Mapping[str, Any]) -> Listing:
        ident = _str(self.value(row, "canonical_id"))
        if ident is None:
            raise ValueError(f"missing {self.columns['canonical_id']!r} (the listing id)")
        listing = self.listings.get(ident)
        if listing is None:
            shop_id = _str(self.value(row, "shop_id"))
            listing = self.listings[ident] = Listing(
                url=_str(self.value(row, "url")) or f"import://{self.platform}/item/{ident}",
                canonical_id=ident, platform=self.platform, shop_id=shop_id,
                shop_name=_str(self.value(row, "shop_name")), title=_str(self.value(row, "title")),
            )
            if shop_id:
                # No Shop item: a dump says nothing of what the shop page displays (its licence, its
                # notices), so the shop checks must not run on it; the store knows the shop from its listings.
                self.shop_ids.add(shop_id)
        return listing

    def _add(self, row: Mapping[str, Any]) -> None:
        if self.kind == "reviews":
            text = _str(self.value(row, "text"))
            if text is None:
                raise ValueError(f"missing {self.columns['text']!r} (the review text)")
            review = Review(text=text, reviewer=_str(self.value(row, "reviewer")),
                            rating=_rating(self.value(row, "rating")), time=_time(self.value(row, "time"), self.zone),
                            review_id=_str(self.value(row, "review_id")))
            self._listing(row).reviews.append(review)
            return
        price = _price(self.value(row, "price"), "price")
        original = _price(self.value(row, "original_price"), "original price")
        fetched = _time(self.value(row, "fetched_at"), self.zone)
        ident = _str(self.value(row, "canonical_id"))
        if ident in self.listings:
            raise ValueError(f"listing {ident!r} appears again (first row kept)")
        listing = self._listing(row)
        listing.price, listing.original_price = price, original
        listing.currency = _str(self.value(row, "currency")) or ("CNY" if price is not None else None)
        listing.description = _str(self.value(row, "description"))
        category = _str(self.value(row, "category"))
        listing.category_hints = [c.strip() for c in category.replace("，", ",").split(",") if c.strip()] if category else []
        listing.fetched_at = fetched


def build_items(
    path: str | Path, *, kind: str | None = None, platform: str = "import", mapping: Mapping[str, str] | None = None,
    sheet: str | None = None, timezone_name: str = "UTC",
) -> tuple[list[Listing], ImportReport]:
    """Read the file into items; bad rows go to the report's errors and are skipped."""
    source = str(path)
    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFileError(f"unknown time zone {timezone_name!r} (e.g. Asia/Shanghai or UTC)") from exc
    rows = read_rows(path, sheet=sheet)
    report = ImportReport(file=source, kind=kind or "?", platform=platform)
    builder: ItemBuilder | None = None
    for number, row in rows:
        report.rows += 1
        if isinstance(row, RowError):
            report.errors.append(row)
            continue
        if builder is None:
            columns = list(row)
            chosen = kind or guess_kind(columns)
            if chosen not in KINDS:
                raise ImportFileError(f"{source}: --kind must be one of {', '.join(KINDS)}")
            report.kind = chosen
            builder = ItemBuilder(chosen, platform, resolve_columns(chosen, columns, mapping or {}, source), source, zone)
        error = builder.add(number, row)
        if error is not None:
            report.errors.append(error)
    if builder is None:
        raise ImportFileError(f"{source}: no data rows")
    now = datetime.now(timezone.utc).isoformat()
    for listing in builder.listings.values():
        listing.fetched_at = listing.fetched_at or now
    report.listings = len(builder.listings)
    report.reviews = sum(len(item.reviews) for item in builder.listings.values())
    report.shops = len(builder.shop_ids)
    return list(builder.listings.values()), report


# -- processing and storing ------------------------------------------------------------------------

def crawl_steps() -> tuple[list[Any], Any]:
    """The crawl's item pipelines before the store, built as Scrapy builds them (from_crawler with the
    project settings), in ITEM_PIPELINES order; and the stats they count in."""
    from types import SimpleNamespace

    from scrapy.settings import Settings
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.misc import load_object

    settings = Settings()
    settings.setmodule("netwatch.crawl.settings", priority="project")
    host = SimpleNamespace(settings=settings)  # what a pipeline's from_crawler reads: settings and stats
    host.stats = MemoryStatsCollector(host)
    steps = []
    for path, _ in sorted(settings.getdict("ITEM_PIPELINES").items(), key=lambda kv: kv[1]):
        cls = load_object(path)
        if path.endswith(".StorePipeline"):
            continue  # the import saves through the Store API itself, in batches
        steps.append(cls.from_crawler(host) if hasattr(cls, "from_crawler") else cls())
    return steps, host.stats


def import_file(
    path: str | Path,
    *,
    kind: str | None = None,
    platform: str = "import",
    mapping: Mapping[str, str] | None = None,
    db_url: str | None = None,
    sheet: str | None = None,
    timezone_name: str = "UTC",
    batch_size: int = 500,
    scorer: ReviewSignalScorer | None = None,
) -> ImportReport:
    """Import a platform dump into the store; returns what was read, skipped and found.

    The rows go through the crawl's pipelines, are stored, and the run is finished by the crawl's post-run
    step (netwatch.analysis.post_run): its reviews are scored over the store, every listing against all of
    its shop. An import interrupted (Ctrl-C) is recorded as killed, like a crawl shut down."""
    from netwatch.analysis.post_run import finish
    from netwatch.analysis.reviews import CATEGORY
    from netwatch.analysis.reviews.store_pass import LEADS_STAT
    from netwatch.store import Store

    items, report = build_items(path, kind=kind, platform=platform, mapping=mapping, sheet=sheet,
                                timezone_name=timezone_name)
    steps, stats = crawl_steps()
    for item in items:
        for step in steps:
            item = step.process_item(item)
        for hit in item.hits:
            report.hits_by_category[hit.category] = report.hits_by_category.get(hit.category, 0) + 1
    store = Store(db_url)
    try:
        run_id = store.start_run("import", target=str(path))
        report.run_id = run_id
        try:
            for start in range(0, len(items), batch_size):
                store.save_batch(run_id, items[start : start + batch_size])
            recorded = finish(store, run_id, {**stats.get_stats(), "netwatch/import/rows": report.rows,
                                              "netwatch/import/skipped": report.skipped}, "finished", scorer=scorer)
        except BaseException as exc:
            reason = "shutdown" if isinstance(exc, KeyboardInterrupt) else "failed"
            finish(store, run_id, {"rows": report.rows, "skipped": report.skipped}, reason, score_reviews=False)
            raise
        leads = int(recorded.get(LEADS_STAT, 0))
        if leads:
            report.hits_by_category[CATEGORY] = report.hits_by_category.get(CATEGORY, 0) + leads
    finally:
        store.close()
    return report
