"""Review signals over a plain table (one review per row), for `netwatch reviews check`.

Rows are grouped into listings by a group column (or all rows form one group), scored with the same
ReviewSignalScorer as crawled listings, and written back with a score and the signals per row.
Columns not given are done without: no time column, no burst signal; no reviewer column, every row
counts as its own buyer and there are no rings; no rating column, every review counts as top-rated.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from netwatch.analysis.reviews.scoring import ReviewSignalScorer
from netwatch.domain.items import Listing, Review

SCORE_COLUMN = "fake_review_score"
SIGNALS_COLUMN = "fake_review_signals"


@dataclass
class GroupSummary:
    group: str
    reviews: int
    flagged_reviews: int  # reviews taking part in at least one signal
    score: float
    signals: list[str]
    lead: bool  # the group's score passes the lead threshold
    evidence: str  # the strongest findings, one sentence each


def _column(frame: pd.DataFrame, name: str | None, what: str) -> pd.Series | None:
    if name is None:
        return None
    if name not in frame.columns:
        raise KeyError(f"{what} column {name!r} is not in the table (columns: {', '.join(map(str, frame.columns))})")
    return frame[name]


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def check_table(
    frame: pd.DataFrame,
    text_column: str,
    *,
    time_column: str | None = None,
    rating_column: str | None = None,
    reviewer_column: str | None = None,
    group_column: str | None = None,
    shop_column: str | None = None,
    scorer: ReviewSignalScorer | None = None,
) -> tuple[pd.DataFrame, list[GroupSummary]]:
    """Return the table with SCORE_COLUMN and SIGNALS_COLUMN added, and a summary per group (highest score first)."""
    scorer = scorer or ReviewSignalScorer()
    texts = _column(frame, text_column, "text")
    times = _column(frame, time_column, "time")
    ratings = _column(frame, rating_column, "rating")
    reviewers = _column(frame, reviewer_column, "reviewer")
    groups = _column(frame, group_column, "group")
    shops = _column(frame, shop_column, "shop")

    if times is not None:
        parsed = pd.to_datetime(times, errors="coerce", format="mixed", utc=True)
        iso = [None if pd.isna(t) else t.isoformat() for t in parsed]
    else:
        iso = [None] * len(frame)
    numeric = pd.to_numeric(ratings, errors="coerce").tolist() if ratings is not None else [None] * len(frame)
    group_values = [(_text(g) or "(none)") for g in groups] if groups is not None else ["all"] * len(frame)
    shop_values = [_text(s) for s in shops] if shops is not None else [None] * len(frame)

    listings: dict[str, Listing] = {}
    where: list[tuple[str, int]] = []
    for pos in range(len(frame)):
        group = group_values[pos]
        listing = listings.get(group)
        if listing is None:
            listing = listings[group] = Listing(url=f"table:{group}", canonical_id=group, platform="table",
                                                shop_id=shop_values[pos])
        rating = numeric[pos]
        listing.reviews.append(Review(
            text=_text(texts.iat[pos]) or "",
            reviewer=_text(reviewers.iat[pos]) if reviewers is not None else None,
            rating=None if rating is None or rating != rating else float(rating),
            time=iso[pos],
        ))
        where.append((group, len(listing.reviews) - 1))

    scorer.observe(list(listings.values()))
    results = {group: scorer.assess(listing, observed=True) for group, listing in listings.items()}

    out = frame.copy()
    out[SCORE_COLUMN] = [results[g].review_scores[i] for g, i in where]
    out[SIGNALS_COLUMN] = [";".join(results[g].review_signals[i]) for g, i in where]
    threshold = scorer.config.lead_threshold
    summaries = [
        GroupSummary(group, len(r.review_scores), sum(1 for s in r.review_signals if s), r.score, r.signals,
                     r.score >= threshold, " ".join(f"{f.signal}: {f.summary}." for f in r.findings))
        for group, r in results.items()
    ]
    summaries.sort(key=lambda s: (-s.score, s.group))
    return out, summaries
