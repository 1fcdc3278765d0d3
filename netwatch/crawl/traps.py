"""Crawler traps: links a crawl would follow for ever without reaching a new listing.

A spider middleware: the spider's requests are looked at before they are scheduled, and one that looks
like a trap is dropped and counted under netwatch/trap/<reason>:

- query_params: more than NETWATCH_TRAP_MAX_QUERY_PARAMS query parameters;
- query_variants: the path already seen with NETWATCH_TRAP_MAX_QUERY_VARIANTS distinct queries (facets,
  session ids and sort orders multiplying one list page);
- repeating_path: a segment or run of segments repeated NETWATCH_TRAP_MAX_REPEATS times in a row
  (/a/b/a/b/a/b, /trap/trap/trap), the mark of relative links resolved against themselves;
- calendar: a date in the path (/2026/12/06/, /2026-12-06) or in a date-like parameter (?date=, ?month=,
  ?year=, ?day=) further than NETWATCH_TRAP_CALENDAR_DAYS from today: calendars link every next month;
- deep_path: more than NETWATCH_TRAP_MAX_DEPTH path segments.

Start requests (the pages the user named) are never dropped. 0 turns a heuristic off.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from netwatch.crawl.health import TRAP_PREFIX
from netwatch.crawl.stats import site_of
from netwatch.domain.clock import utcnow

_PATH_DATE = re.compile(r"(?:^|/)((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])(?:[/-](0?[1-9]|[12]\d|3[01]))?(?=/|$)")
_PARAM_DATE = re.compile(r"^((?:19|20)\d\d)(?:[-/]?(0[1-9]|1[0-2]|[1-9])(?:[-/]?(0[1-9]|[12]\d|3[01]|[1-9]))?)?$")
_DATE_PARAMS = frozenset({"date", "day", "month", "year", "ym", "yearmonth", "d", "m", "y", "cal", "calendar",
                          "from", "to", "start", "end", "since", "until"})
MAX_VARIANT_PATHS = 100_000  # paths whose queries are remembered: a bound on the filter's own memory


def repeats(segments: list[str], limit: int) -> bool:
    """True when a run of 1..len/limit segments occurs `limit` times in a row."""
    for size in range(1, len(segments) // limit + 1):
        for start in range(len(segments) - size * limit + 1):
            run = segments[start:start + size]
            if all(segments[start + k * size:start + (k + 1) * size] == run for k in range(1, limit)):
                return True
    return False


def calendar_date(path: str, query: list[tuple[str, str]]) -> date | None:
    """The date (a month or year counts as its first day) the URL points at, if it looks like a calendar's."""
    found = _PATH_DATE.search(path)
    parts = found.groups() if found else None
    if parts is None:
        for key, value in query:
            if key.lower() in _DATE_PARAMS:
                matched = _PARAM_DATE.match(value.strip())
                if matched:
                    parts = matched.groups()
                    break
    if parts is None:
        return None
    year, month, day = int(parts[0]), int(parts[1] or 1), int(parts[2] or 1)
    try:
        return date(year, month, day)
    except ValueError:  # 2026-02-31: still a calendar's link, and an absurd one
        return date(year, month, 1)


class TrapFilter(BaseSpiderMiddleware):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self.max_params = settings.getint("NETWATCH_TRAP_MAX_QUERY_PARAMS")
        self.max_variants = settings.getint("NETWATCH_TRAP_MAX_QUERY_VARIANTS")
        self.max_repeats = settings.getint("NETWATCH_TRAP_MAX_REPEATS")
        self.calendar_days = settings.getint("NETWATCH_TRAP_CALENDAR_DAYS")
        self.max_depth = settings.getint("NETWATCH_TRAP_MAX_DEPTH")
        self.variants: dict[tuple[str, str], set[str]] = {}  # (site, path) -> distinct queries seen

    def trap(self, url: str) -> str | None:
        """The heuristic the URL trips, or None."""
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        query = parse_qsl(parts.query, keep_blank_values=True)
        if self.max_depth and len(segments) > self.max_depth:
            return "deep_path"
        if self.max_repeats and len(segments) >= self.max_repeats and repeats(segments, self.max_repeats):
            return "repeating_path"
        if self.max_params and len(query) > self.max_params:
            return "query_params"
        if self.calendar_days:
            when = calendar_date(parts.path, query)
            if when is not None and abs((when - utcnow().date()).days) > self.calendar_days:
                return "calendar"
        if self.max_variants and parts.query:
            key = (site_of(url), parts.path)
            seen = self.variants.get(key)
            if seen is None:
                if len(self.variants) >= MAX_VARIANT_PATHS:
                    return None
                seen = self.variants[key] = set()
            if parts.query not in seen:
                if len(seen) >= self.max_variants:
                    return "query_variants"
                seen.add(parts.query)
        return None

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if response is None or request.meta.get("netwatch_start"):  # the pages the user named
            return request
        reason = self.trap(request.url)
        if reason is None:
            return request
        self.stats.inc_value(TRAP_PREFIX + reason)
        return None
