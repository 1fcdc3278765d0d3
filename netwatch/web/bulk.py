"""Bulk actions on a whole filter, not only on the ticked leads of one page: the lead queue's "apply to all N
leads matching this filter" shows the count and the changes on a confirmation page first, and the JSON API
does the same in two steps (without `expected` it only counts). Either way the leads are found again in the
change's own transaction, in the user's regions only, and a count other than the one confirmed (leads came
or went meanwhile) changes nothing and asks again. Each lead's change is recorded in the audit trail
(netwatch.store.triage); CSRF is checked for every POST by netwatch.web.app.login_required."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from netwatch.domain.words import say
from netwatch.store import StoreError
from netwatch.store.triage import BULK_MAX, FIELDS, CountChanged, change_matching, count_matching
from netwatch.store.users import Account
from netwatch.web.app import Workbench, local_path, login_required
from netwatch.web.pages import FILTERS, queue_filters

DOING = "changing the leads matching a filter"


def wanted_changes(source: Any) -> dict[str, str | None]:
    """status / assignee / region / note from a form or a JSON object; empty means unchanged."""
    return {key: (str(source.get(key)).strip() or None) if source.get(key) is not None else None for key in FIELDS}


def bulk_routes(bench: Workbench) -> list[Route]:
    def matching(filters: dict[str, Any]) -> int:
        with bench.store.reading() as conn:
            return count_matching(conn, filters)

    def apply(account: Account, filters: dict[str, Any], expected: int, changes: dict[str, str | None]) -> int:
        return bench.store.write(change_matching, DOING, filters, account.name, expected=expected, **changes)

    async def bulk_filter(request: Request, account: Account) -> Response:
        form = await request.form()
        lang = bench.lang(request)
        back = local_path(str(form.get("back", "")))
        query = str(form.get("filter") or "")
        params = {key: value for key, value in parse_qsl(query) if key in FILTERS}
        changes = wanted_changes(form)
        if not any(changes.values()):
            return bench.error(request, account, 400, say("bulk_nothing", lang))
        message = None
        try:  # the filter first: a bad one is the user's error (400), not a refused change (409)
            filters = queue_filters(params, account)
            count = await run_in_threadpool(matching, filters)
        except (StoreError, ValueError) as exc:
            return bench.error(request, account, 400, str(exc))
        if form.get("confirm") == "yes":
            try:
                changed = await run_in_threadpool(apply, account, filters, int(str(form.get("expected"))), changes)
            except CountChanged as exc:
                count, message = exc.matching, say("bulk_count_changed", lang, n=exc.matching)
            except ValueError as exc:
                return bench.error(request, account, 400, str(exc))
            except StoreError as exc:
                return bench.error(request, account, 409, str(exc))
            else:
                separator = "&" if "?" in back else "?"
                return RedirectResponse(f"{back}{separator}{urlencode({'message': say('leads_now', lang, n=changed)})}",
                                        status_code=303)
        return bench.render(request, "bulk_confirm.html", account, count=count, changes=changes, params=params,
                            filter=query, back=back, message=message, bulk_max=BULK_MAX)

    async def api_bulk(request: Request, account: Account) -> Response:
        """{"filter": {queue filters}, "status"…, "expected": N} or {"ids": [...], "status"…}."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "send a JSON object"}, status_code=400)
        changes = wanted_changes(body)
        if not any(changes.values()):
            return JSONResponse({"error": f"nothing to change: give one of {', '.join(FIELDS)}"}, status_code=400)
        try:
            if "ids" in body:
                ids = body["ids"]
                if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                    return JSONResponse({"error": "ids: a list of lead ids"}, status_code=400)
                changed = await run_in_threadpool(lambda: bench.store.set_status(
                    ids, changes["status"], assignee=changes["assignee"], region=changes["region"],
                    note=changes["note"], user=account.name, scope=account.scope))
                return JSONResponse({"changed": changed})
            given = body.get("filter") or {}
            unknown = sorted(set(given) - set(FILTERS)) if isinstance(given, dict) else ["(not an object)"]
            if unknown:
                return JSONResponse({"error": f"unknown filter(s) {', '.join(unknown)}: use {', '.join(FILTERS)}"},
                                    status_code=400)
            try:  # the filter first: a bad one is the user's error (400), not a refused change (409)
                filters = queue_filters({key: str(value) for key, value in given.items()}, account)
                count = await run_in_threadpool(matching, filters)
            except StoreError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            expected = body.get("expected")
            if expected is None:  # the first step: how many leads the action would change
                return JSONResponse({"matching": count, "changed": 0})
            if not isinstance(expected, int):
                return JSONResponse({"error": "expected: the number of matching leads you confirm"}, status_code=400)
            changed = await run_in_threadpool(apply, account, filters, expected, changes)
        except CountChanged as exc:
            return JSONResponse({"error": str(exc), "matching": exc.matching}, status_code=409)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except StoreError as exc:
            status = 404 if "no such lead" in str(exc) else 409
            return JSONResponse({"error": "no such lead" if status == 404 else str(exc)}, status_code=status)
        return JSONResponse({"matching": expected, "changed": changed})

    return [
        Route("/leads/bulk/filter", login_required(bench, bulk_filter), methods=["POST"]),
        Route("/api/leads/bulk", login_required(bench, api_bulk), methods=["POST"]),
    ]
