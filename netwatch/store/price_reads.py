"""The price history rows netwatch.analysis.price_history judges: a run's comparison prices beside the
prices its listings showed in earlier runs."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from netwatch.store.models import ListingRow, Snapshot


class PricePair(NamedTuple):
    """A listing's comparison price in the run beside one earlier snapshot of it."""

    listing_id: int
    fetched_at: datetime  # when the run saw the comparison price
    original_price: float
    earlier_price: float
    earlier_at: datetime
    shop_ref: int | None
    earlier_original_price: float | None


def last_fetched(store, run_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    """When the run's latest snapshot was taken (None: it took none)."""
    with store.reading() as conn:
        return conn.scalar(sa.select(sa.func.max(Snapshot.fetched_at)).where(Snapshot.run_id == run_id))


def price_pairs(store, run_id: int, since: datetime) -> list[PricePair]:  # type: ignore[no-untyped-def]
    """Each listing of the run showing a comparison price, paired with every priced snapshot of it from
    another run taken since `since` and before the run's."""
    current, earlier = sa.orm.aliased(Snapshot), sa.orm.aliased(Snapshot)
    with store.reading() as conn:
        return [PricePair(*row) for row in conn.execute(
            sa.select(current.listing_id, current.fetched_at, current.original_price, earlier.price,
                      earlier.fetched_at, ListingRow.shop_ref, earlier.original_price)
            .join(earlier, (earlier.listing_id == current.listing_id) & (earlier.run_id != current.run_id))
            .join(ListingRow, ListingRow.id == current.listing_id)
            .where(current.run_id == run_id, current.original_price.is_not(None), earlier.price.is_not(None),
                   earlier.fetched_at < current.fetched_at, earlier.fetched_at >= since))]
