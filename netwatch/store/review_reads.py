"""The stored reviews netwatch.analysis.reviews.store_pass scores after a run, read shop by shop, and the
indexes it needs beforehand (which reviewers write in which shops, which texts recur across shops)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import sqlalchemy as sa

from netwatch.domain.items import Review
from netwatch.store.models import Lead, LeadHit, ListingRow, ReviewRow, ShopRow

SHOPLESS_CHUNK = 500  # listings without a shop are each their own shop: read in chunks
IDS_PER_QUERY = 5_000  # below every database's limit on bound parameters
# The columns of a stored hit, in netwatch.checks.text.Hit's field order.
_HIT_COLUMNS = (Lead.pack, Lead.rule, Lead.category, Lead.severity, LeadHit.field, LeadHit.start, LeadHit.end,
                LeadHit.match, LeadHit.context, Lead.legal_basis)


class ListingRef(NamedTuple):
    id: int
    platform: str
    canonical_id: str
    url: str
    shop_id: str | None


class StoredReviews(NamedTuple):
    """What the store holds on some of a run's listings for scoring their reviews."""

    reviews: dict[int, list[Review]]  # listing id -> its stored reviews, in stored order
    rule_hits: dict[int, list[tuple]]  # listing id -> the run's hits of `category` on its own text (Hit's fields)
    phrased: set[int]  # listing ids whose reviews the run's rule packs found a `category` phrase in


def _seen_in_run(run_id: int):  # noqa: ANN202 - a SQL condition
    return sa.and_(ListingRow.last_run_id == run_id, ListingRow.active.is_(True))


def reviewer_shop_pairs(store, run_id: int) -> Iterator[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(platform, reviewer, shop key) once each, sorted, for the reviews of the run's listings; streamed."""
    shop_key = sa.case((ShopRow.shop_id.is_not(None), ListingRow.platform + ":shop:" + ShopRow.shop_id),
                       else_=ListingRow.platform + ":" + ListingRow.canonical_id)
    query = (sa.select(ListingRow.platform, ReviewRow.reviewer, shop_key).distinct()
             .join(ListingRow, ListingRow.id == ReviewRow.listing_id)
             .outerjoin(ShopRow, ShopRow.id == ListingRow.shop_ref)
             .where(_seen_in_run(run_id), ReviewRow.reviewer.is_not(None))
             .order_by(ListingRow.platform, ReviewRow.reviewer))
    with store.reading() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=10_000).execute(query):
            yield row[0], row[1], row[2]


def common_texts(store, run_id: int, shops: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Review texts of the run's listings found in `shops` shops or more."""
    with store.reading() as conn:
        return list(conn.scalars(
            sa.select(ReviewRow.text).join(ListingRow, ListingRow.id == ReviewRow.listing_id)
            .where(_seen_in_run(run_id), ListingRow.shop_ref.is_not(None), ReviewRow.text != "")
            .group_by(ReviewRow.text).having(sa.func.count(ListingRow.shop_ref.distinct()) >= shops)))


def listing_groups(store, run_id: int) -> Iterator[list[ListingRef]]:  # type: ignore[no-untyped-def]
    """The run's listings, one shop at a time (listings without a shop in chunks)."""
    columns = (ListingRow.id, ListingRow.platform, ListingRow.canonical_id, ListingRow.url, ShopRow.shop_id)
    with store.reading() as conn:
        shop_refs = conn.scalars(sa.select(ListingRow.shop_ref).distinct().where(
            _seen_in_run(run_id), ListingRow.shop_ref.is_not(None)).order_by(ListingRow.shop_ref)).all()
    for shop_ref in shop_refs:
        with store.reading() as conn:
            rows = conn.execute(sa.select(*columns).join(ShopRow, ShopRow.id == ListingRow.shop_ref).where(
                _seen_in_run(run_id), ListingRow.shop_ref == shop_ref).order_by(ListingRow.id)).all()
        yield [ListingRef(*row) for row in rows]
    after = 0
    while True:
        with store.reading() as conn:
            rows = conn.execute(sa.select(*columns[:4], sa.null()).where(
                _seen_in_run(run_id), ListingRow.shop_ref.is_(None), ListingRow.id > after)
                .order_by(ListingRow.id).limit(SHOPLESS_CHUNK)).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [ListingRef(*row) for row in rows]


def stored_reviews(store, run_id: int, ids: Sequence[int], *, category: str,  # type: ignore[no-untyped-def]
                   other_than_pack: str) -> StoredReviews:
    """The listings' stored reviews; the hits of `category` that the run's rule packs (any pack but
    `other_than_pack`, the review pass's own) raised on their own text; and which of them the rule packs
    found a `category` phrase in the reviews of."""
    found = StoredReviews({listing_id: [] for listing_id in ids}, {listing_id: [] for listing_id in ids}, set())
    of_category = (Lead.subject == "listing", Lead.category == category, Lead.pack != other_than_pack,
                   LeadHit.run_id == run_id)
    with store.reading() as conn:
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            for listing_id, text, reviewer, rating, when, key in conn.execute(
                    sa.select(ReviewRow.listing_id, ReviewRow.text, ReviewRow.reviewer, ReviewRow.rating,
                              ReviewRow.time, ReviewRow.review_key)
                    .where(ReviewRow.listing_id.in_(chunk)).order_by(ReviewRow.listing_id, ReviewRow.id)):
                found.reviews[listing_id].append(Review(text, reviewer, rating, when, key))
            for listing_id, *hit in conn.execute(
                    sa.select(Lead.subject_id, *_HIT_COLUMNS).join(LeadHit, LeadHit.lead_id == Lead.id)
                    .where(Lead.subject_id.in_(chunk), *of_category, LeadHit.field != "review")):
                found.rule_hits[listing_id].append(tuple(hit))
            found.phrased.update(conn.scalars(
                sa.select(Lead.subject_id).distinct().join(LeadHit, LeadHit.lead_id == Lead.id)
                .where(Lead.subject_id.in_(chunk), *of_category, LeadHit.field == "review")))
    return found
