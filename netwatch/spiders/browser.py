"""scrapy-playwright on Debian's chromium-headless-shell (never a downloaded browser): launch options,
what the browser may not fetch, and request meta for a rendered page."""

from __future__ import annotations

from typing import Any

from netwatch import config

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BLOCKED_RESOURCE_TYPES = frozenset({"image", "font", "media"})
# Pages rendered in one browser context before it is closed: keeps the browser's memory flat.
PAGES_PER_CONTEXT = 20


def launch_options() -> dict[str, Any]:
    return {"executable_path": config.chromium_path(), "headless": True, "args": list(CHROMIUM_ARGS)}


def playwright_settings() -> dict[str, Any]:
    """The settings scrapy-playwright needs besides DOWNLOAD_HANDLERS (which netwatch.settings sets)."""
    return {
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(),
        "PLAYWRIGHT_ABORT_REQUEST": "netwatch.spiders.browser.abort_heavy_request",
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_MAX_CONTEXTS": 2,
    }


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
