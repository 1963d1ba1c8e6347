"""Relief calls: publish needs under an incident, edit them, and move them through their lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.amounts import check_money
from models.calls import Call, CallCreate, CallKind, CallStatus, CallUpdate
from models.common import Page, dump
from relief import cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, Invalid, InvalidState, NotFound, StaleVersion

# Fields a PATCH may carry only for one kind of call.
_KIND_FIELDS = {
    "amount": CallKind.money,
    "quantity": CallKind.goods,
    "headcount": CallKind.personnel,
    "needed_from": CallKind.personnel,
    "needed_until": CallKind.personnel,
}


def to_model(row: asyncpg.Record | dict[str, Any]) -> Call:
    """A calls row as the API shows it, with the kind's own name for what is asked."""
    kind = CallKind(row["kind"])
    requested: Decimal = row["requested"]
    deadline = row["deadline"]
    return Call(
        **{k: row[k] for k in (
            "id", "incident_id", "title", "description", "status", "priority", "deadline", "deliver_to",
            "allow_overpledge", "currency", "item", "unit", "skill", "needed_from", "needed_until",
            "requested", "committed", "in_transit", "delivered", "published_at", "closed_at", "version",
            "created_at", "updated_at",
        )},
        kind=kind,
        amount=requested if kind == CallKind.money else None,
        quantity=requested if kind == CallKind.goods else None,
        headcount=int(requested) if kind == CallKind.personnel else None,
        remaining=requested - row["committed"],
        overdue=row["status"] == CallStatus.open and deadline is not None and deadline < datetime.now(UTC),
    )


async def emit(
    conn: asyncpg.Connection, type: str, actor: Principal, after: Call, before: Call | None = None
) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="call",
        entity_id=after.id,
        incident_id=after.incident_id,
        before=before,
        after=after,
    )


async def create(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: CallCreate) -> Call:
    """Create a call (draft, or open at once with call.published); refused on a closed incident."""
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        requested = {"money": "amount", "goods": "quantity", "personnel": "headcount"}[data.kind]
        fields = data.model_dump()
        opening = data.status == "open"
        row = await conn.fetchrow(
            """
            insert into calls (incident_id, kind, title, description, requested, currency, item, unit, skill,
                               needed_from, needed_until, priority, deadline, deliver_to, allow_overpledge,
                               status, published_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    case when $16 = 'open' then now() end)
            returning *
            """,
            incident_id,
            data.kind,
            data.title,
            data.description,
            Decimal(fields[requested]),
            fields.get("currency"),
            fields.get("item"),
            fields.get("unit"),
            fields.get("skill"),
            fields.get("needed_from"),
            fields.get("needed_until"),
            data.priority,
            data.deadline,
            dump(data.deliver_to) if data.deliver_to else None,
            data.allow_overpledge,
            data.status,
        )
        call = to_model(row)
        await emit(conn, "call.published" if opening else "call.created", actor, call)
    return call


async def get(conn: asyncpg.Connection, *, call_id: UUID) -> Call | None:
    row = await conn.fetchrow("select * from calls where id = $1", call_id)
    return to_model(row) if row else None


async def list_calls(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
    skill: str | None = None,
    item: str | None = None,
    include_drafts: bool = True,
) -> Page[Call]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from calls
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or status = $4)
           and ($5::text is null or kind = $5)
           and ($6::text is null or priority = $6)
           and ($7::text is null or skill = $7)
           and ($8::text is null or item = $8)
           and ($9 or status <> 'draft')
         order by created_at desc, id desc
         limit $10
        """,
        *position,
        incident_id,
        status,
        kind,
        priority,
        skill,
        item,
        include_drafts,
        limit + 1,
    )
    return cursors.page(rows, limit, Call, to_model)


async def locked(conn: asyncpg.Connection, call_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow("select * from calls where id = $1 for update", call_id)
    if row is None:
        raise NotFound(f"call {call_id} does not exist")
    return row


def _check_kind_fields(kind: CallKind, changes: dict[str, Any]) -> None:
    wrong = [name for name, owner in _KIND_FIELDS.items() if name in changes and owner != kind]
    if wrong:
        raise Invalid(
            f"a {kind} call has no {', '.join(wrong)}",
            errors=[{"pointer": f"/{name}", "detail": f"only {_KIND_FIELDS[name]} calls have it"} for name in wrong],
        )


async def update(
    conn: asyncpg.Connection, *, actor: Principal, call_id: UUID, version: IfMatch, data: CallUpdate
) -> Call:
    """Edit a draft or open call; never below what is already committed."""
    async with db.atomic(conn):
        row = await locked(conn, call_id)
        before = to_model(row)
        StaleVersion.check(f"call {call_id}", current=before.version, expected=version)
        if before.status not in (CallStatus.draft, CallStatus.open):
            raise InvalidState(f"a {before.status} call cannot be changed", state=before.status)
        changes = data.model_dump(include=data.model_fields_set)
        _check_kind_fields(before.kind, changes)
        requested = row["requested"]
        for name in ("amount", "quantity", "headcount"):
            if name in changes:
                requested = Decimal(changes.pop(name))
        if before.kind == CallKind.money and requested != row["requested"]:
            try:
                check_money(requested, row["currency"])
            except ValueError as exc:
                raise Invalid(str(exc), errors=[{"pointer": "/amount", "detail": str(exc)}]) from None
        allow = changes.get("allow_overpledge", row["allow_overpledge"])
        if not allow and requested < row["committed"]:
            raise Conflict(
                f"{row['committed']} is already committed; the request cannot go below it",
                committed=format(row["committed"], "f"),
            )
        merged = {**dict(row), **changes, "requested": requested}
        if "deliver_to" in changes and changes["deliver_to"] is not None:
            merged["deliver_to"] = data.deliver_to and dump(data.deliver_to)
        needed_from, needed_until = merged["needed_from"], merged["needed_until"]
        if needed_from and needed_until and needed_until <= needed_from:
            raise Invalid("needed_until must be after needed_from",
                          errors=[{"pointer": "/needed_until", "detail": "must be after needed_from"}])
        if all(merged[k] == row[k] for k in merged):
            return before
        row = await conn.fetchrow(
            """
            update calls
               set title = $2, description = $3, priority = $4, deadline = $5, deliver_to = $6,
                   allow_overpledge = $7, requested = $8, needed_from = $9, needed_until = $10,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            call_id,
            merged["title"],
            merged["description"],
            merged["priority"],
            merged["deadline"],
            merged["deliver_to"],
            merged["allow_overpledge"],
            requested,
            needed_from,
            needed_until,
        )
        after = to_model(row)
        await emit(conn, "call.updated", actor, after, before)
    return after


# action → (states it may start from, state it leads to, event)
_TRANSITIONS = {
    "publish": ({CallStatus.draft}, CallStatus.open, "call.published"),
    "close": ({CallStatus.draft, CallStatus.open}, CallStatus.closed, "call.closed"),
    "cancel": ({CallStatus.draft, CallStatus.open}, CallStatus.cancelled, "call.cancelled"),
}


async def transition(conn: asyncpg.Connection, *, actor: Principal, call_id: UUID, action: str) -> Call:
    """publish (draft → open), close or cancel (draft/open → closed/cancelled)."""
    allowed, target, event_type = _TRANSITIONS[action]
    async with db.atomic(conn):
        row = await locked(conn, call_id)
        before = to_model(row)
        if before.status not in allowed:
            raise InvalidState(f"cannot {action} a call that is {before.status}", state=before.status)
        if action == "publish":
            await incidents.require_open(conn, row["incident_id"])
        row = await conn.fetchrow(
            """
            update calls
               set status = $2,
                   published_at = case when $2 = 'open' then now() else published_at end,
                   closed_at = case when $2 in ('closed', 'cancelled') then now() else closed_at end,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            call_id,
            target,
        )
        after = to_model(row)
        await emit(conn, event_type, actor, after, before)
    return after


async def close_open_calls(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID) -> int:
    """Close every open call of an incident (call.closed each); the caller holds the transaction."""
    before_rows = await conn.fetch(
        "select * from calls where incident_id = $1 and status = 'open' order by id for update", incident_id
    )
    rows = await conn.fetch(
        """
        update calls set status = 'closed', closed_at = now(), version = version + 1, updated_at = now()
         where id = any($1::uuid[])
        returning *
        """,
        [r["id"] for r in before_rows],
    )
    before = {r["id"]: to_model(r) for r in before_rows}
    for row in rows:
        after = to_model(row)
        await emit(conn, "call.closed", actor, after, before[after.id])
    return len(rows)
