"""What follows every run that stored listings, once its writes are done: a crawl's (StorePipeline), a
shared crawl's (the distributed coordinator, once all workers are done) and an import's.

In order: the run's status from its finish reason; listings earlier runs of the same target saw and this
one did not are marked delisted (only after a run that went through to the end: a run cut short may
simply not have got that far); the price-history check; the stored reviews scored (not after a kill:
the killed run is re-run, then scored); and last the run's status and statistics are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from netwatch.analysis.price_history import check_price_fraud

if TYPE_CHECKING:
    from netwatch.analysis.reviews import ReviewSignalScorer
    from netwatch.store import Store

# Scrapy's finish reasons that name a run status of their own; any other reason ("failed",
# "closespider_timeout", …) is kept as the status.
RUN_STATUSES = {"finished": "finished", "shutdown": "killed"}
KILLED = "killed"


def run_status(reason: str | None) -> str:
    """The run's status for a finish reason; no reason at all (nobody reported on the run) is a kill."""
    if not reason:
        return KILLED
    return RUN_STATUSES.get(reason, reason)


def finish(store: Store, run_id: int, stats: Mapping[str, Any], reason: str | None, *, score_reviews: bool = True,
           signals_file: str | None = None, scorer: ReviewSignalScorer | None = None) -> dict[str, Any]:
    """Delist, check prices, score reviews and record the run (see the module's doc); returns the statistics
    recorded, the review pass's among them. `signals_file` or `scorer`: the review signals to score with."""
    status = run_status(reason)
    recorded = dict(stats)
    if reason:
        recorded.setdefault("finish_reason", reason)
    if status == "finished":
        store.delist_unseen(run_id)
    check_price_fraud(store, run_id)
    if score_reviews and status != KILLED:
        # Imported when scoring only: it loads the rule engine and the signal scorer.
        from netwatch.analysis.reviews.store_pass import score_run, with_review_stats

        recorded = with_review_stats(recorded, score_run(store, run_id, scorer=scorer, signals_file=signals_file))
    store.finish_run(run_id, recorded, status)
    return recorded
