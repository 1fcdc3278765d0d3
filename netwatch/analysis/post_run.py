"""What follows every run that stored listings, once its writes are done: a crawl's (StorePipeline), a
shared crawl's (the distributed coordinator, once all workers are done) and an import's.

In order: the run's status from its finish reason; listings earlier runs of the same target saw and this
one did not are marked delisted, within what this run covered (netwatch.store.coverage; only after a run
that went through to the end: a run cut short may simply not have got that far); the price-history check
(over NETWATCH_PRICE_WINDOW_DAYS, seven unless a campaign widens it); shops regrouped by the identifiers they
share (netwatch.store.networks); the stored reviews scored (not after a kill: the killed run is re-run, then scored); and last the run's
status and statistics are recorded. A run the store refused a write of (STORE_FAILED) gets only the last.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from netwatch.analysis.price_history import WINDOW, check_price_fraud
from netwatch.domain.vocab import PARTIAL_CRAWL

if TYPE_CHECKING:
    from netwatch.analysis.reviews import ReviewSignalScorer
    from netwatch.store import Store

# Scrapy's finish reasons that name a run status of their own; any other reason ("failed",
# "closespider_timeout", …) is kept as the status.
# The finish reason of a crawl stopped because the store refused a write (e.g. a full disk), and the
# statistic holding the store's message.
STORE_FAILED = "store_failed"
STORE_ERROR_STAT = "netwatch/store_error"
# Set when not even the run's end could be recorded: it is left "running" (see Store.start_run's sweep).
RUN_UNRECORDED_STAT = "netwatch/run_unrecorded"
RUN_STATUSES = {"finished": "finished", "shutdown": "killed", STORE_FAILED: "failed"}
KILLED = "killed"


def run_status(reason: str | None) -> str:
    """The run's status for a finish reason; no reason at all (nobody reported on the run) is a kill."""
    if not reason:
        return KILLED
    return RUN_STATUSES.get(reason, reason)


def finish(store: Store, run_id: int, stats: Mapping[str, Any], reason: str | None, *, score_reviews: bool = True,
           signals_file: str | None = None, scorer: ReviewSignalScorer | None = None,
           price_window_days: int | None = None) -> dict[str, Any]:
    """Delist, check prices, score reviews and record the run (see the module's doc); returns the statistics
    recorded, the review pass's among them. `signals_file` or `scorer`: the review signals to score with."""
    status = run_status(reason)
    recorded = dict(stats)
    if reason:
        recorded.setdefault("finish_reason", reason)
    if reason == STORE_FAILED:
        # The store already refused a write: ask it for nothing but the run's end.
        store.finish_run(run_id, recorded, status)
        return recorded
    if status == "finished":
        store.delist_unseen(run_id, partial=bool(stats.get(PARTIAL_CRAWL)))
    check_price_fraud(store, run_id, window=timedelta(days=price_window_days) if price_window_days else WINDOW)
    store.refresh_seller_groups()  # the run may have stored shops' identifiers (netwatch.store.networks)
    if score_reviews and status != KILLED:
        # Imported when scoring only: it loads the rule engine and the signal scorer.
        from netwatch.analysis.reviews.store_pass import score_run, with_review_stats

        recorded = with_review_stats(recorded, score_run(store, run_id, scorer=scorer, signals_file=signals_file))
    store.finish_run(run_id, recorded, status)
    return recorded
