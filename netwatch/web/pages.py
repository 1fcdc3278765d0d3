"""The workbench's pages and its JSON API: the lead queue (filters, counts, pages, bulk actions), a lead
(triage form, notes, history), shops (repeat offenders first) and the dashboard. Every read and change goes
through the store with the account's scope, so an analyst never reads or changes another region's lead."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from netwatch.domain.vocab import SEVERITY_RANK, TRANSITIONS, label
from netwatch.domain.words import say
from netwatch.ops.charts import bars, columns
from netwatch.store import StoreError
from netwatch.store import workbench as reads
from netwatch.store.users import Account, list_users
from netwatch.store.watchlist import select_targets
from netwatch.web.app import Workbench, local_path, login_required

PER_PAGE = 50
FILTERS = ("category", "severity", "status", "region", "site", "shop", "assignee", "since", "until", "q")


def queue_filters(params: dict[str, str], account: Account) -> dict[str, Any]:
    """The query string's filters as lead_query takes them (names in English or Chinese), in the account's scope."""
    filters: dict[str, Any] = {"scope": account.scope}
    for key in ("category", "severity", "status", "region", "site"):
        if params.get(key):
            filters[key] = params[key]
    for key in ("shop", "assignee", "since"):
        if params.get(key):
            filters[key] = params[key].strip()
    if params.get("q"):
        filters["text"] = params["q"].strip()
    if params.get("until"):
        try:  # a whole day: up to the next midnight
            filters["until"] = (date.fromisoformat(params["until"]) + timedelta(days=1)).isoformat()
        except ValueError:
            raise StoreError(f"until {params['until']!r} is not a date (use YYYY-MM-DD)") from None
    return filters


def regions_known(bench: Workbench, account: Account) -> list[str]:
    """Where a lead may be handed to: every watch target's region and every analyst's."""
    known = {target.region for target in select_targets(bench.store.engine)}
    known.update(region for user in list_users(bench.store.engine) for region in user.regions)
    return sorted(known)


def page_routes(bench: Workbench) -> list[Route]:
    def guarded(handler):  # type: ignore[no-untyped-def]
        return login_required(bench, handler)

    async def home(request: Request, account: Account) -> Response:
        return RedirectResponse("/leads", status_code=303)

    async def queue(request: Request, account: Account) -> Response:
        params = dict(request.query_params)
        try:
            page = max(1, int(params.get("page") or 1))
            filters = queue_filters(params, account)

            def read() -> dict[str, Any]:
                with bench.store.reading() as conn:
                    return reads.queue(conn, filters, page=page, per_page=PER_PAGE)

            found = await run_in_threadpool(read)
        except (StoreError, ValueError) as exc:
            return bench.error(request, account, 400, str(exc))
        pages = max(1, -(-found["total"] // PER_PAGE))
        kept = {key: params[key] for key in FILTERS if params.get(key)}

        def link(**change: Any) -> str:
            query = {**kept, **{key: value for key, value in change.items() if value is not None}}
            for key, value in change.items():
                if value is None:
                    query.pop(key, None)
            return "/leads?" + urlencode(query)

        facets = found["facets"]
        facets["severity"] = dict(sorted(facets["severity"].items(), key=lambda kv: -SEVERITY_RANK.get(kv[0], 0)))
        return bench.render(request, "queue.html", account, found=found, pages=pages, params=kept, link=link,
                            facets=facets, regions=await run_in_threadpool(regions_known, bench, account),
                            statuses=list(TRANSITIONS), message=request.query_params.get("message"))

    async def bulk(request: Request, account: Account) -> Response:
        form = await request.form()
        ids = [int(value) for value in form.getlist("ids") if str(value).isdigit()]
        back = local_path(str(form.get("back", "")))
        if not ids:
            return bench.error(request, account, 400, say("selected_none", bench.lang(request)))
        try:
            changed = await run_in_threadpool(change, account, ids, form)
        except StoreError as exc:
            return bench.error(request, account, 409, str(exc))
        separator = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{separator}{urlencode({'message': say('leads_now', bench.lang(request), n=changed)})}",
                                status_code=303)

    def change(account: Account, ids: list[int], form: Any) -> int:
        values = {key: (str(form.get(key)).strip() or None) if form.get(key) is not None else None
                  for key in ("status", "assignee", "region", "note")}
        return bench.store.set_status(ids, values["status"], assignee=values["assignee"], region=values["region"],
                                      note=values["note"], user=account.name, scope=account.scope)

    async def lead_page(request: Request, account: Account) -> Response:
        lead_id = request.path_params["lead_id"]
        try:
            lead = await run_in_threadpool(bench.store.lead, lead_id, account.scope)
        except StoreError:
            return bench.error(request, account, 404, say("not_found", bench.lang(request)))
        return bench.render(request, "lead.html", account, lead=lead,
                            next_statuses=sorted(TRANSITIONS[lead["status"]]),
                            regions=await run_in_threadpool(regions_known, bench, account),
                            message=request.query_params.get("message"))

    async def lead_change(request: Request, account: Account) -> Response:
        lead_id = request.path_params["lead_id"]
        form = await request.form()
        try:
            await run_in_threadpool(change, account, [lead_id], form)
        except StoreError as exc:
            if "no such lead" in str(exc):
                return bench.error(request, account, 404, say("not_found", bench.lang(request)))
            return bench.error(request, account, 409, str(exc))
        return RedirectResponse(f"/leads/{lead_id}?{urlencode({'message': say('saved', bench.lang(request))})}",
                                status_code=303)

    async def shops_page(request: Request, account: Account) -> Response:
        def read() -> list[dict]:
            with bench.store.reading() as conn:
                return reads.shops(conn, account.scope)

        return bench.render(request, "shops.html", account, shops=await run_in_threadpool(read))

    async def shop_page(request: Request, account: Account) -> Response:
        def read() -> dict | None:
            with bench.store.reading() as conn:
                return reads.shop_page(conn, request.path_params["shop_ref"], account.scope)

        found = await run_in_threadpool(read)
        if found is None:
            return bench.error(request, account, 404, say("not_found", bench.lang(request)))
        return bench.render(request, "shop.html", account, **found)

    async def dashboard(request: Request, account: Account) -> Response:
        lang = bench.lang(request)

        def read() -> dict[str, Any]:
            with bench.store.reading() as conn:
                return reads.dashboard(conn, account.scope)

        figures = await run_in_threadpool(read)
        return bench.render(request, "dashboard.html", account, alarms=figures["alarms"],
                            charts=dashboard_charts(figures, lang, bench))

    async def api_leads(request: Request, account: Account) -> Response:
        try:
            filters = queue_filters(dict(request.query_params), account)
            page = max(1, int(request.query_params.get("page") or 1))

            def read() -> dict[str, Any]:
                with bench.store.reading() as conn:
                    return reads.queue(conn, filters, page=page, per_page=PER_PAGE)

            found = await run_in_threadpool(read)
        except (StoreError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"total": found["total"], "page": page,
                             "leads": [jsonable(row) for row in found["rows"]]})

    async def api_lead(request: Request, account: Account) -> Response:
        lead_id = request.path_params["lead_id"]
        if request.method == "POST":
            try:
                body = await request.json()
                await run_in_threadpool(change, account, [lead_id], body if isinstance(body, dict) else {})
            except ValueError:
                return JSONResponse({"error": "send a JSON object"}, status_code=400)
            except StoreError as exc:
                status = 404 if "no such lead" in str(exc) else 409
                return JSONResponse({"error": "no such lead" if status == 404 else str(exc)}, status_code=status)
        try:
            lead = await run_in_threadpool(bench.store.lead, lead_id, account.scope)
        except StoreError:
            return JSONResponse({"error": "no such lead"}, status_code=404)
        return JSONResponse(jsonable(lead))

    return [
        Route("/", guarded(home)),
        Route("/leads", guarded(queue)),
        Route("/leads/bulk", guarded(bulk), methods=["POST"]),
        Route("/leads/{lead_id:int}", guarded(lead_page), methods=["GET"]),
        Route("/leads/{lead_id:int}", guarded(lead_change), methods=["POST"]),
        Route("/shops", guarded(shops_page)),
        Route("/shops/{shop_ref:int}", guarded(shop_page)),
        Route("/dashboard", guarded(dashboard)),
        Route("/api/leads", guarded(api_leads)),
        Route("/api/leads/{lead_id:int}", guarded(api_lead), methods=["GET", "POST"]),
    ]


def jsonable(value: Any) -> Any:
    """Rows for the JSON API: times as ISO 8601 UTC text."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat() + ("Z" if getattr(value, "tzinfo", None) is None else "")
    return value


def dashboard_charts(figures: dict[str, Any], lang: str, bench: Workbench) -> list[str]:
    """The dashboard's SVG charts (the nightly report draws the same with netwatch.ops.charts)."""
    per_night = reads.nights(figures["per_hour"], bench.tz)

    def named(kind: str | None, counts: dict) -> list[tuple[str, int]]:
        ordered = sorted(counts.items(), key=lambda kv: -kv[1])
        return [(label(kind, key, lang) if kind else (say("unassigned", lang) if key == "unassigned" else str(key)),
                 value) for key, value in ordered]

    return [
        columns(list(per_night.items()), title=f"{say('new_per_night', lang)} ({bench.tz.key})"),
        bars(named("category", figures["by_category"]), title=say("category", lang)),
        bars(named(None, figures["by_site"]), title=say("platform", lang)),
        bars(named(None, figures["by_region"]), title=say("region", lang)),
        bars(figures["open_by_age"], title=say("open_by_age", lang)),
    ]
