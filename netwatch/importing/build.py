"""Rows -> items: one Listing per listing id, with the reviews of a reviews dump attached to their listing.
Bad values are reported as RowErrors (file and row) and their rows skipped."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from netwatch.domain.items import Listing, Review
from netwatch.extract.prices import parse_price
from netwatch.importing.columns import KINDS, guess_kind, resolve_columns
from netwatch.importing.read import ImportFileError, RowError, read_rows


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
        specs = _specs(self.value(row, "specs"))  # every value read before the listing is made: a bad row adds none
        ident = _str(self.value(row, "canonical_id"))
        if ident in self.listings:
            raise ValueError(f"listing {ident!r} appears again (first row kept)")
        listing = self._listing(row)
        listing.price, listing.original_price = price, original
        listing.currency = _str(self.value(row, "currency")) or ("CNY" if price is not None else None)
        listing.description = _str(self.value(row, "description"))
        listing.specs = specs
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
