"""Incremental crawls: which listing pages a night may skip (issue 7).

A listing's page is fetched again when the listing is new, when its list page shows another price or
title than last time, or when its last fetch is older than NETWATCH_REVISIT_DAYS; otherwise the spider
yields a ListingSeen and the store records the sighting. A known listing's page is fetched conditionally
(If-None-Match with the ETag it was last served with): a 304 answer is a ListingSeen too, revalidated. Turned on by NETWATCH_INCREMENTAL
(`netwatch nightly` does); the known listings are read once, when the spider opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from netwatch.domain.clock import utcnow
from netwatch.domain.text import clean_text
from netwatch.extract import parse_price
from netwatch.store import Store
from netwatch.store.store import KnownListing

SKIPPED_STAT = "netwatch/incremental/skipped"
NOT_MODIFIED_STAT = "netwatch/incremental/not_modified"
KNOWN_STAT = "netwatch/incremental/known"


def carried_list_fields(carry: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(list price, list title) as a list page shows them: the values stored and compared."""
    return parse_price(carry.get("list_price"))[0], clean_text(carry.get("list_title"))


@dataclass(frozen=True)
class IncrementalPlan:
    known: Mapping[str, KnownListing]
    revisit: timedelta
    now: datetime

    @classmethod
    def load(cls, db_url: str, platform: str, revisit_days: float) -> IncrementalPlan:
        with Store(db_url) as store:
            known = store.known_listings(platform)
        return cls(known, timedelta(days=revisit_days), utcnow())

    def unchanged(self, canonical_id: str, list_price: float | None, list_title: str | None) -> bool:
        """True when the page need not be fetched: known, active, same list price and title, fetched recently."""
        known = self.known.get(canonical_id)
        return (known is not None and known.active and known.fetched_at is not None
                and self.now - known.fetched_at < self.revisit
                and (list_price, list_title) == (known.list_price, known.list_title)
                and (list_price, list_title) != (None, None))  # a list page that showed nothing proves nothing

    def etag(self, canonical_id: str) -> str | None:
        """The validator to re-fetch a known listing's page with: the server answers 304 if it is unchanged."""
        known = self.known.get(canonical_id)
        return known.etag if known is not None and known.active else None
