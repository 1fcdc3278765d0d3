"""The workbench's guards: who is logged in (every page and API call but the login page needs it), CSRF tokens
on every form and API write, login throttling, and the security headers of every response."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (the login page's form carries one too)."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    expected = request.session.get(CSRF_FIELD)
    return bool(expected and sent and hmac.compare_digest(expected, sent))


class LoginThrottle:
    """At most `failures` failed logins per user name and per client address in `window` seconds; then that
    name or address is refused until its oldest failure leaves the window (a guessed password is not even
    checked). Kept in memory: one workbench process per bureau."""

    def __init__(self, failures: int = 5, window: float = 900.0) -> None:
        self.failures, self.window = failures, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait_seconds(self, *keys: str) -> float:
        """0 when a login may be tried now, else how long until it may."""
        now = time.monotonic()
        with self._lock:
            waits = [times[0] + self.window - now for key in keys
                     if len(times := self._recent(key, now)) >= self.failures]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._seen.pop(name_key, None)


class SecurityHeaders:
    """Every response: no framing, no sniffing, scripts and styles from this server only, no caching of pages
    that show leads."""

    HEADERS = [
        (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                     b"script-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + self.HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
