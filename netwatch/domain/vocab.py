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

# What analysts read: the Chinese names of categories, severities and statuses (exports, lists, reports, the
# workbench), and of the workbench's roles. Filters accept either name.
NAMES_ZH: dict[str, dict[str, str]] = {
    "category": {
        "banned_goods": "禁限售商品", "false_advertising": "虚假宣传/违法广告", "fake_reviews": "刷单炒信",
        "price_fraud": "价格欺诈", "unfair_terms": "霸王条款", "licence": "证照公示缺失", "counterfeit": "侵权假冒",
    },
    "severity": {"low": "低", "medium": "中", "high": "高", "critical": "严重"},
    "status": {"new": "新线索", "confirmed": "已确认", "dismissed": "已排除", "handed_off": "已交办",
               "resolved": "已办结"},
}
VOCABULARY: dict[str, tuple[str, ...]] = {"category": CATEGORIES, "severity": SEVERITIES, "status": LEAD_STATUSES}
LANGUAGES = ("zh", "en")
ROLES = ("analyst", "admin")  # workbench accounts: an analyst sees only their regions' leads, an admin all


class UnknownValue(ValueError):
    """A filter value that is no category, severity or status; the message lists the valid ones."""


def label(kind: str, value: str | None, lang: str) -> str:
    """A category, severity or status as an analyst reading `lang` knows it (unknown values as they are)."""
    if value is None:
        return ""
    return NAMES_ZH[kind].get(value, value) if lang == "zh" else value


def canonical(kind: str, text: str) -> str:
    """The stored value for a category, severity or status given by its English or Chinese name."""
    text = text.strip()
    if text in VOCABULARY[kind]:
        return text
    for value, name in NAMES_ZH[kind].items():
        if text == name:
            return value
    valid = ", ".join(f"{value} ({NAMES_ZH[kind][value]})" for value in VOCABULARY[kind])
    raise UnknownValue(f"unknown {kind} {text!r}: use one of {valid}")
