"""`netwatch serve`: the analysts' workbench, a Starlette app rendering Jinja2 pages on the server.

Chinese by default (NETWATCH_LANG; each user may switch), times in NETWATCH_TZ, every asset served from
netwatch/web/static (no CDN). Every page and API call needs a login; an analyst sees and changes only the
leads of their regions (the store applies the account's scope to every query and change).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from netwatch import config
from netwatch.domain.clock import local_text, zone
from netwatch.domain.vocab import LANGUAGES, VOCABULARY, label
from netwatch.domain.words import say
from netwatch.store import Store
from netwatch.store.users import Account, authenticate, get_user
from netwatch.web.security import CSRF_FIELD, CSRF_HEADER, LoginThrottle, SecurityHeaders, csrf_ok, csrf_token

HERE = Path(__file__).resolve().parent
SESSION_HOURS = 12
Handler = Callable[[Request, Account], Awaitable[Response]]


def highlight(context: str | None, match: str | None) -> Markup:
    """The hit's context with each occurrence of the matched text marked (everything else escaped)."""
    text = str(escape(context or ""))
    if match:
        needle = str(escape(match))
        text = text.replace(needle, f"<mark>{needle}</mark>")
    return Markup(text)


def local_path(target: str | None, default: str = "/leads") -> str:
    """A redirect target from a form or link, kept on this site (no //evil.example)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class Workbench:
    """The app's state: the store, the templates, the login throttle, the display zone."""

    def __init__(self, db_url: str | None, *, throttle: LoginThrottle | None = None) -> None:
        self.store = Store(db_url)
        self.tz = zone()
        self.throttle = throttle or LoginThrottle()
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["highlight"] = highlight
        self.templates.env.globals["VOCABULARY"] = VOCABULARY

    def lang(self, request: Request) -> str:
        chosen = request.session.get("lang")
        return chosen if chosen in LANGUAGES else config.language()

    def render(self, request: Request, name: str, account: Account | None, status_code: int = 200,
               **context: Any) -> Response:
        lang = self.lang(request)
        context.update(
            lang=lang, account=account, csrf=csrf_token(request), tz=self.tz.key,
            t=functools.partial(say, lang=lang),
            name=lambda kind, value: label(kind, value, lang),
            time=lambda moment, labelled=False: local_text(moment, self.tz, labelled=labelled),
            region_name=lambda region: say("unassigned", lang) if region == "unassigned" else region,
            here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def error(self, request: Request, account: Account | None, status_code: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status_code)
        return self.render(request, "error.html", account, status_code=status_code, message=message)

    def account(self, request: Request) -> Account | None:
        name = request.session.get("user")
        return get_user(self.store.engine, name) if name else None


def login_required(bench: Workbench, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """No page or API without a login: pages redirect to /login, the API answers 401. Every POST must carry
    the session's CSRF token (form field `csrf` or header X-CSRF-Token), else 403 and nothing changes."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        account = await run_in_threadpool(bench.account, request)
        if account is None:
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": "login required"}, status_code=401)
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        if request.method == "POST":
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                sent = (await request.form()).get(CSRF_FIELD)
            if not csrf_ok(request, sent if isinstance(sent, str) else None):
                return bench.error(request, account, 403, say("csrf", bench.lang(request)))
        return await handler(request, account)

    return endpoint


def auth_routes(bench: Workbench) -> list[Route]:
    async def login_page(request: Request) -> Response:
        return bench.render(request, "login.html", None, next=local_path(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        form = await request.form()
        lang = bench.lang(request)
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        next_page = local_path(str(form.get("next", "")))
        if not csrf_ok(request, form.get(CSRF_FIELD) if isinstance(form.get(CSRF_FIELD), str) else None):
            return bench.render(request, "login.html", None, 403, next=next_page, error=say("csrf", lang))
        keys = (f"user:{name}", f"addr:{request.client.host if request.client else '?'}")
        wait = bench.throttle.wait_seconds(*keys)
        if wait > 0:
            return bench.render(request, "login.html", None, 429, next=next_page,
                                error=say("throttled", lang, minutes=max(1, round(wait / 60))))
        account = await run_in_threadpool(authenticate, bench.store.engine, name, password)
        if account is None:
            bench.throttle.failed(*keys)
            return bench.render(request, "login.html", None, 401, next=next_page, error=say("login_failed", lang))
        bench.throttle.succeeded(keys[0])
        chosen = request.session.get("lang")
        request.session.clear()  # a fresh session (and CSRF token) at login: no fixation
        request.session.update({"user": account.name, CSRF_FIELD: secrets.token_urlsafe(32)})
        if chosen:
            request.session["lang"] = chosen
        return RedirectResponse(next_page, status_code=303)

    async def logout(request: Request, account: Account) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def switch_language(request: Request) -> Response:
        if request.query_params.get("to") in LANGUAGES:
            request.session["lang"] = request.query_params["to"]
        return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", login_required(bench, logout), methods=["POST"]),
        Route("/lang", switch_language, methods=["GET"]),
    ]


def secret_key() -> str:
    """NETWATCH_SECRET_KEY signs the session cookies; without it each server start makes one (and logs
    everybody out)."""
    return os.environ.get("NETWATCH_SECRET_KEY") or secrets.token_urlsafe(48)


def create_app(db_url: str | None = None, *, throttle: LoginThrottle | None = None,
               https_only: bool = False) -> Starlette:
    from netwatch.web.bulk import bulk_routes
    from netwatch.web.pages import page_routes

    bench = Workbench(db_url, throttle=throttle)
    routes = [
        *auth_routes(bench),
        *page_routes(bench),
        *bulk_routes(bench),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret_key(), session_cookie="netwatch_session",
                   max_age=SESSION_HOURS * 3600, same_site="strict", https_only=https_only),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        bench.store.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.bench = bench
    return app
