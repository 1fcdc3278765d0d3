"""The installed playwright drives Debian's chromium-headless-shell, with netwatch's launch options."""

from __future__ import annotations

import http.server
import threading
from functools import partial

import pytest

from netwatch import config
from netwatch.crawl.browser import BLOCKED_RESOURCE_TYPES, launch_options

PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="app"></div>
<img src="/photo.png"><script>
document.getElementById("app").innerHTML = '<h1 class="item-title">\\u9f99\\u4e95</h1>';
</script></body></html>"""


class Handler(http.server.BaseHTTPRequestHandler):
    served: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.served.append(self.path)
        body, kind = (PAGE, "text/html; charset=utf-8") if self.path == "/" else (b"\x89PNG", "image/png")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_server():
    served: list[str] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_handler, served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served
    server.shutdown()
    server.server_close()


def _handler(served: list[str], *args: object) -> Handler:
    handler = type("BoundHandler", (Handler,), {"served": served})
    return handler(*args)


def test_launch_options_live_in_the_crawl_settings_only():
    from netwatch.crawl.runner import crawl_settings
    from netwatch.crawl.spiders.base import NetwatchSpider

    settings = crawl_settings()
    assert settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") == launch_options()
    assert launch_options()["executable_path"] == config.chromium_path()
    assert settings.get("PLAYWRIGHT_ABORT_REQUEST") == "netwatch.crawl.browser.abort_heavy_request"
    assert not any(name.startswith("PLAYWRIGHT_") for name in NetwatchSpider.custom_settings)


@pytest.mark.browser
def test_playwright_drives_the_installed_chromium(page_server):
    if config.chromium_path() is None:
        pytest.skip("Debian's chromium-headless-shell is not installed")
    from playwright.sync_api import sync_playwright

    url, served = page_server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            assert launch_options()["executable_path"] == config.chromium_path()
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort() if route.request.resource_type in BLOCKED_RESOURCE_TYPES
                       else route.continue_())
            page.goto(url)
            page.wait_for_selector("h1.item-title")
            assert page.inner_text("h1.item-title") == "龙井"  # the script ran
            assert browser.version.split(".")[0].isdigit()
        finally:
            browser.close()
    assert served == ["/"]  # the image was blocked before it reached the server
