"""The words leads are written in, defined once: violation categories, severities (with their rank, which
the store sorts and filters by), and the statuses an analyst moves a lead through."""

from __future__ import annotations

CATEGORIES = (
    "banned_goods",
    "false_advertising",
    "fake_reviews",
    "price_fraud",
    "unfair_terms",
    "licence",
    "counterfeit",
)
SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES, start=1)}

LEAD_STATUSES = ("new", "confirmed", "dismissed", "handed_off", "resolved")
# Where an analyst may move a lead. resolved -> new also happens by itself when a resolved listing is
# flagged again, and dismissed -> new when the matched text changes.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"confirmed", "dismissed"}),
    "confirmed": frozenset({"handed_off", "dismissed", "new"}),
    "dismissed": frozenset({"new"}),
    "handed_off": frozenset({"resolved"}),
    "resolved": frozenset({"new"}),
}

# A crawl's statistic: it read only some of its site's pages (e.g. one shop, `-a start_url`), so what it did
# not see says nothing about the rest of the site (netwatch.store.coverage).
PARTIAL_CRAWL = "netwatch/partial"
