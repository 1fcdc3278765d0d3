"""scrapy-playwright on Debian's chromium-headless-shell (never a downloaded browser): what the browser may
not fetch and request meta for a rendered page. The launch options are crawl settings (netwatch.crawl.settings)."""

from __future__ import annotations

from typing import Any

from netwatch.crawl import settings

BLOCKED_RESOURCE_TYPES = frozenset({"image", "font", "media"})
# Pages rendered in one browser context before it is closed: keeps the browser's memory flat.
PAGES_PER_CONTEXT = 20


def launch_options() -> dict[str, Any]:
    """The browser's launch options as the crawl settings give them (for launching it outside a crawl)."""
    return {**settings.PLAYWRIGHT_LAUNCH_OPTIONS, "args": list(settings.PLAYWRIGHT_LAUNCH_OPTIONS["args"])}


def abort_heavy_request(request: Any) -> bool:
    """Images, fonts and media are never needed to read a listing."""
    return request.resource_type in BLOCKED_RESOURCE_TYPES


def render_meta(context_name: str, wait_for: str | None) -> dict[str, Any]:
    from scrapy_playwright.page import PageMethod

    methods = [PageMethod("wait_for_selector", wait_for)] if wait_for else []
    return {
        "playwright": True,
        "playwright_context": context_name,
        "playwright_include_page": True,  # so the callback can close the page and, in time, its context
        "playwright_page_methods": methods,
    }
