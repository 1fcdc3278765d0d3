"""Triage with an audit trail: every change an analyst makes to a lead (status, assignee, region hand-off,
a note) is written in the same transaction as an event naming the user, the time, the old and the new value.

`scope` is the regions a user may change (None: all, an admin or the command line): a lead outside it is
refused as if it did not exist, so a user cannot learn which lead ids other regions hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from netwatch.domain.clock import utcnow
from netwatch.domain.vocab import LEAD_STATUSES, TRANSITIONS
from netwatch.store.models import Lead
from netwatch.store.queries import REGION, lead_query, lead_source
from netwatch.store.schema import StoreError
from netwatch.store.workbench_models import LeadEvent

FIELDS = ("status", "assignee", "region", "note")
NOTE_MAX = 10_000
# Leads one bulk action on a filter may change: one transaction, one IN list (SQLite takes 32,766 values).
BULK_MAX = 10_000
UPDATE_CHUNK = 5_000  # lead ids in one UPDATE's IN list


class CountChanged(StoreError):
    """The filter no longer matches the number of leads the user confirmed: nothing was changed."""

    def __init__(self, matching: int, expected: int) -> None:
        super().__init__(f"the filter now matches {matching} lead(s), not the {expected} confirmed; nothing was changed")
        self.matching = matching


def _current(conn: sa.Connection, wanted: Sequence[int], scope: Iterable[str] | None) -> dict[int, sa.Row]:
    """The leads to change, locked; all must exist and lie in scope, or nothing changes."""
    query = lead_source([Lead.id, Lead.status, Lead.assignee, REGION.label("region")]).where(Lead.id.in_(wanted))
    if scope is not None:
        query = query.where(REGION.in_(list(scope)))
    rows = {row.id: row for row in conn.execute(query.with_for_update(of=Lead))}
    missing = [lead_id for lead_id in wanted if lead_id not in rows]
    if missing:
        raise StoreError(f"no such lead: {', '.join(map(str, missing))}; nothing was changed")
    return rows


def change_leads(conn: sa.Connection, lead_ids: Sequence[int], user: str, *, status: str | None = None,
                 assignee: str | None = None, region: str | None = None, note: str | None = None,
                 scope: Iterable[str] | None = None) -> int:
    """Apply the changes to every lead, all or none (one refused status transition changes nothing), and record
    each actual change as an event. Returns the number of leads changed."""
    wanted = sorted(set(lead_ids))
    if not wanted:
        return 0
    if status is not None and status not in LEAD_STATUSES:
        raise StoreError(f"unknown status {status!r}: use one of {', '.join(LEAD_STATUSES)}")
    if note is not None and len(note) > NOTE_MAX:
        raise StoreError(f"a note holds at most {NOTE_MAX} characters")
    current = _current(conn, wanted, scope)
    if status is not None:
        refused = [f"{lead_id} ({current[lead_id].status} → {status})" for lead_id in wanted
                   if current[lead_id].status != status and status not in TRANSITIONS[current[lead_id].status]]
        if refused:
            raise StoreError(f"refused: {', '.join(refused)}; allowed from each status: "
                             + "; ".join(f"{src} → {'|'.join(sorted(dst))}" for src, dst in TRANSITIONS.items())
                             + ". Nothing was changed")
    now = utcnow()
    events: list[dict[str, Any]] = []
    changed: set[int] = set()
    # Leads getting the same new values are updated by one statement per chunk: a bulk action on thousands of
    # leads is then a handful of statements, not one per lead.
    updates: dict[tuple, list[int]] = {}
    for lead_id in wanted:
        row = current[lead_id]
        values: dict[str, Any] = {}
        for field, new in (("status", status), ("assignee", assignee), ("region", region)):
            old = getattr(row, field)
            if new is not None and new != old:
                values[field] = new or None
                events.append({"lead_id": lead_id, "at": now, "user": user, "field": field, "old": old,
                               "new": new or None})
        if note:
            values["note"] = note  # the lead's latest note, as exports show it; all notes are events
            events.append({"lead_id": lead_id, "at": now, "user": user, "field": "note", "old": None, "new": note})
        if values:
            updates.setdefault(tuple(values.items()), []).append(lead_id)
            changed.add(lead_id)
    for values_key, ids in updates.items():
        values = dict(values_key)
        if values.get("status") == "dismissed":
            values["dismissed_text"] = Lead.matched_text  # it comes back only if this text changes
        for start in range(0, len(ids), UPDATE_CHUNK):
            conn.execute(sa.update(Lead).where(Lead.id.in_(ids[start:start + UPDATE_CHUNK]))
                         .values(updated_at=now, **values))
    if events:
        conn.execute(sa.insert(LeadEvent), events)
    return len(changed)


def matching_lead_ids(conn: sa.Connection, filters: dict[str, Any]) -> list[int]:
    """The ids of every lead the lead queue's filters match (`scope` among them)."""
    return list(conn.scalars(lead_query(**filters).order_by(None).with_only_columns(Lead.id)))


def count_matching(conn: sa.Connection, filters: dict[str, Any]) -> int:
    """How many leads the lead queue's filters match (`scope` among them)."""
    return conn.scalar(lead_query(**filters).order_by(None).with_only_columns(sa.func.count(Lead.id)))


def change_matching(conn: sa.Connection, filters: dict[str, Any], user: str, *, expected: int,
                    **changes: str | None) -> int:
    """A bulk action on a whole filter: every lead it matches in the user's scope (filters["scope"]), found in
    the same transaction as the change, all or none, each change recorded as change_leads records it.
    `expected` is the count the user saw and confirmed: leads that came or went since make it CountChanged."""
    wanted = matching_lead_ids(conn, filters)
    if len(wanted) != expected:
        raise CountChanged(len(wanted), expected)
    if len(wanted) > BULK_MAX:
        raise StoreError(f"a bulk action changes at most {BULK_MAX} leads; the filter matches {len(wanted)}: narrow it")
    return change_leads(conn, wanted, user, scope=filters.get("scope"), **changes)


def lead_events(conn: sa.Connection, lead_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The leads' changes, oldest first."""
    return [dict(row) for row in conn.execute(
        sa.select(LeadEvent.lead_id, LeadEvent.at, LeadEvent.user, LeadEvent.field, LeadEvent.old, LeadEvent.new)
        .where(LeadEvent.lead_id.in_(list(lead_ids))).order_by(LeadEvent.at, LeadEvent.id)).mappings()]
