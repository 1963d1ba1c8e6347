"""Pledges: take each promise exactly once, never over-commit, and track it to delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from models.amounts import check_money
from models.calls import CallKind, CallStatus
from models.common import Page, dump
from models.donations import Donation
from models.keys import Role
from models.pledges import Pledge, PledgeCreate, PledgeStatus
from relief import calls, cursors, db, events, ledger
from relief.auth import Principal
from relief.errors import Forbidden, Invalid, InvalidState, NotFound, OverCommitted

SELECT = """
    select p.*, o.name as organization_name
      from pledges p join organizations o on o.id = p.organization_id
"""


def to_model(row: asyncpg.Record | dict[str, Any]) -> Pledge:
    kind = CallKind(row["kind"])
    quantity: Decimal = row["quantity"]
    # One column holds the dispatcher's words on a pledge: why it was rejected, or (for every other
    # status: only a rejection, from pledged, and a delivery write it) the note given on delivery.
    words = row["reason"]
    rejected = row["status"] == PledgeStatus.rejected
    return Pledge(
        **{k: row[k] for k in (
            "id", "call_id", "incident_id", "organization_id", "status", "quantity", "currency", "unit",
            "estimated_value", "available_from", "available_until", "lead", "note", "delivered_quantity",
            "version", "created_at", "updated_at",
        )},
        reason=words if rejected else None,
        delivery_note=None if rejected else words,
        organization_name=row.get("organization_name") if isinstance(row, dict) else row["organization_name"],
        kind=kind,
        amount=quantity if kind == CallKind.money else None,
        headcount=int(quantity) if kind == CallKind.personnel else None,
    )


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


def quantity_of(call: asyncpg.Record, data: PledgeCreate) -> Decimal:
    """What the pledge promises, in the call's unit, after checking the body fits the call's kind."""
    kind = CallKind(call["kind"])
    allowed = {
        CallKind.money: {"amount", "currency", "note"},
        CallKind.goods: {"quantity", "unit", "estimated_value", "note"},
        CallKind.personnel: {"headcount", "available_from", "available_until", "lead", "note"},
    }[kind]
    stray = sorted(data.model_fields_set - allowed)
    if stray:
        raise Invalid(
            f"a pledge on a {kind} call does not take {', '.join(stray)}",
            errors=[{"pointer": f"/{name}", "detail": f"not used for {kind} pledges"} for name in stray],
        )
    if kind == CallKind.money:
        if data.amount is None:
            raise _invalid("/amount", "a money pledge needs an amount")
        currency = data.currency or call["currency"]
        if currency != call["currency"]:
            raise _invalid("/currency", f"this call collects {call['currency']}, not {currency}")
        try:
            check_money(data.amount, currency)
        except ValueError as exc:
            raise _invalid("/amount", str(exc)) from None
        return data.amount
    if kind == CallKind.goods:
        if data.quantity is None:
            raise _invalid("/quantity", "a goods pledge needs a quantity")
        if data.unit is not None and data.unit != call["unit"]:
            raise _invalid("/unit", f"this call counts in {call['unit']}, not {data.unit}")
        return data.quantity
    if data.headcount is None:
        raise _invalid("/headcount", "a personnel pledge needs a headcount")
    if data.lead is None:
        raise _invalid("/lead", "a personnel pledge names its team lead")
    return Decimal(data.headcount)


def check_pledger(actor: Principal) -> None:
    """Only an approved organization's key pledges (checked before any work on the call)."""
    if actor.role != Role.organization or actor.organization_id is None:
        raise Forbidden("pledges are made with an organization's key")
    if actor.organization_status != "approved":
        raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations pledge")


def new_pledge(call_id: UUID, call: asyncpg.Record, actor: Principal, data: PledgeCreate, quantity: Decimal,
               organization_name: str | None) -> Pledge:
    """A new pledge as it will read back once written: built before the write, so that the counter, the
    pledge row and its event go to the database in one statement (the hot call's row stays locked for
    as short a time as possible: that statement, then commit). `call` holds the call's kind, currency,
    unit, incident_id and the transaction's now()."""
    return to_model({
        "id": uuid4(), "call_id": call_id, "incident_id": call["incident_id"],
        "organization_id": actor.organization_id, "organization_name": organization_name,
        "kind": call["kind"], "status": PledgeStatus.pledged, "quantity": quantity,
        "currency": call["currency"], "unit": call["unit"], "estimated_value": data.estimated_value,
        "available_from": data.available_from, "available_until": data.available_until,
        "lead": dump(data.lead) if data.lead else None, "note": data.note, "delivered_quantity": None,
        "reason": None, "version": 1, "created_at": call["now"], "updated_at": call["now"],
    })


def created_event(actor: Principal, pledge: Pledge) -> list[Any]:
    """The pledge.created event's row values (events.COLUMNS order)."""
    return events.values(
        type="pledge.created", actor=actor, entity_type="pledge", entity_id=pledge.id,
        incident_id=pledge.incident_id, organization_id=pledge.organization_id, after=pledge,
    )


def refusal(status: str, remaining: Decimal) -> InvalidState | OverCommitted:
    """Why a pledge was not taken: the call is not open (409 with its state), or it asked for more than
    `remaining` (409 with the exact figure)."""
    if status != CallStatus.open:
        return InvalidState(f"the call is {status}; pledges need an open call", state=status)
    left = format(remaining, "f")
    return OverCommitted(f"the call needs only {left} more; pledge at most that", remaining=left)


async def emit(
    conn: asyncpg.Connection, type: str, actor: Principal, after: Pledge, before: Pledge | None = None
) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="pledge",
        entity_id=after.id,
        incident_id=after.incident_id,
        organization_id=after.organization_id,
        before=before,
        after=after,
    )


async def create(
    conn: asyncpg.Connection,
    *,
    actor: Principal,
    call_id: UUID,
    data: PledgeCreate,
    before_write: Callable[[Pledge], Awaitable[None]] | None = None,
) -> Pledge:
    """Pledge against an open call; 409 with `remaining` when it asks for more than is left.

    `before_write(pledge)` runs in the transaction once the pledge is known and before the call's row
    is locked: whatever the caller records there (the idempotent response) stays out of the lock.
    """
    check_pledger(actor)
    async with db.atomic(conn):
        call = await conn.fetchrow(
            """
            select kind, currency, unit, status, incident_id, now() as now,
                   (select name from organizations where id = $2) as organization_name
              from calls where id = $1
            """,
            call_id,
            actor.organization_id,
        )
        if call is None or call["status"] == CallStatus.draft:
            raise NotFound(f"call {call_id} does not exist")
        quantity = quantity_of(call, data)
        pledge = new_pledge(call_id, call, actor, data, quantity, call["organization_name"])
        event = created_event(actor, pledge)
        if before_write is not None:
            await before_write(pledge)
        # The guarded update is the whole concurrency story: the row lock serializes pledges on one
        # call and the condition is re-checked on the locked row, so no read-then-write race exists.
        # The pledge and its event are inserted only if the update took.
        created = await conn.fetchval(
            f"""
            with counted as (
                update calls
                   set committed = committed + $2, committed_value = committed_value + coalesce($9::numeric, 0),
                       updated_at = now()
                 where id = $1 and status = 'open' and (allow_overpledge or committed + $2 <= requested)
                returning id
            ), joined as (
                -- The organization takes part in the incident from its first pledge on.
                insert into incident_participants (incident_id, organization_id)
                select $4, $5 from counted
                on conflict do nothing
                returning incident_id
            ), participants as (
                insert into incident_counters (incident_id, name, key, value)
                select incident_id, 'participants', '', 1 from joined
                on conflict (incident_id, name, key) do update set value = incident_counters.value + 1
            ), pledged as (
                insert into pledges (id, call_id, incident_id, organization_id, kind, quantity, currency, unit,
                                     estimated_value, available_from, available_until, lead, note)
                select $3, id, $4, $5, $6, $2, $7, $8, $9, $10, $11, $12, $13 from counted
                returning id
            ), logged as (
                insert into events ({events.COLUMNS})
                select $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 from pledged
                returning id
            )
            select count(*) from logged
            """,
            call_id,
            quantity,
            pledge.id,
            pledge.incident_id,
            pledge.organization_id,
            call["kind"],
            call["currency"],
            call["unit"],
            data.estimated_value,
            data.available_from,
            data.available_until,
            pledge.lead,
            data.note,
            *event,
        )
        if not created:
            current = await conn.fetchrow(
                "select status, requested - committed as remaining from calls where id = $1", call_id
            )
            raise refusal(current["status"], current["remaining"])
    return pledge


async def get(conn: asyncpg.Connection, *, pledge_id: UUID) -> Pledge | None:
    row = await conn.fetchrow(f"{SELECT} where p.id = $1", pledge_id)
    return to_model(row) if row else None


async def list_pledges(
    conn: asyncpg.Connection,
    *,
    limit: int,
    cursor: str | None = None,
    call_id: UUID | None = None,
    incident_id: UUID | None = None,
    organization_id: UUID | None = None,
    status: str | None = None,
) -> Page[Pledge]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {SELECT}
         where ($1::timestamptz is null or (p.created_at, p.id) < ($1, $2::uuid))
           and ($3::uuid is null or p.call_id = $3)
           and ($4::uuid is null or p.incident_id = $4)
           and ($5::uuid is null or p.organization_id = $5)
           and ($6::text is null or p.status = $6)
         order by p.created_at desc, p.id desc
         limit $7
        """,
        *position,
        call_id,
        incident_id,
        organization_id,
        status,
        limit + 1,
    )
    return cursors.page(rows, limit, Pledge, to_model)


# action → (who, states it may start from, state it leads to, event)
RULES: dict[str, tuple[Role, frozenset[PledgeStatus], PledgeStatus, str]] = {
    "accept": (Role.dispatcher, frozenset({PledgeStatus.pledged}), PledgeStatus.accepted, "pledge.accepted"),
    "reject": (Role.dispatcher, frozenset({PledgeStatus.pledged}), PledgeStatus.rejected, "pledge.rejected"),
    "withdraw": (
        Role.organization,
        frozenset({PledgeStatus.pledged, PledgeStatus.accepted}),
        PledgeStatus.withdrawn,
        "pledge.withdrawn",
    ),
    "dispatch": (Role.organization, frozenset({PledgeStatus.accepted}), PledgeStatus.dispatched, "pledge.dispatched"),
    "deliver": (
        Role.dispatcher,
        frozenset({PledgeStatus.accepted, PledgeStatus.dispatched}),
        PledgeStatus.delivered,
        "pledge.delivered",
    ),
}


def _authorize(actor: Principal, who: Role, action: str, pledge: Pledge) -> None:
    if actor.role == Role.organization and not actor.owns(pledge.organization_id):
        raise NotFound(f"pledge {pledge.id} does not exist")
    if who == Role.organization:
        if not actor.owns(pledge.organization_id):
            raise Forbidden(f"only the pledging organization may {action} its pledge")
    elif not actor.at_least(who):
        raise Forbidden(f"only the bureau's dispatchers {action} pledges")


async def transition(
    conn: asyncpg.Connection,
    *,
    actor: Principal,
    pledge_id: UUID,
    action: str,
    reason: str | None = None,
    delivered: Decimal | None = None,
    receipt: ledger.Receipt | None = None,
) -> Pledge:
    """Move a pledge along its lifecycle and the call's counters with it, in one transaction."""
    pledge, _ = await transition_with_receipt(
        conn, actor=actor, pledge_id=pledge_id, action=action, reason=reason, delivered=delivered, receipt=receipt
    )
    return pledge


async def transition_with_receipt(
    conn: asyncpg.Connection,
    *,
    actor: Principal,
    pledge_id: UUID,
    action: str,
    reason: str | None = None,
    delivered: Decimal | None = None,
    receipt: ledger.Receipt | None = None,
) -> tuple[Pledge, Donation | None]:
    """transition(), also returning the ledger entry a money or goods delivery writes.

    Delivering such a pledge and receiving it into the ledger are one act: one ledger row, and the
    counters move once.
    """
    who, allowed, target, event_type = RULES[action]
    async with db.atomic(conn):
        # Lock order everywhere: pledge, then its call.
        row = await conn.fetchrow(f"{SELECT} where p.id = $1 for update of p", pledge_id)
        if row is None:
            raise NotFound(f"pledge {pledge_id} does not exist")
        before = to_model(row)
        _authorize(actor, who, action, before)
        if before.status not in allowed:
            raise InvalidState(f"cannot {action} a pledge that is {before.status}", state=before.status)
        quantity: Decimal = row["quantity"]
        d_committed = d_transit = d_delivered = Decimal(0)
        d_value = Decimal(0)
        if action in ("reject", "withdraw"):
            d_committed = -quantity
            d_value = -(row["estimated_value"] or 0)
        elif action == "dispatch":
            d_transit = quantity
        elif action == "deliver":
            arrived = quantity if delivered is None else delivered
            if arrived > quantity:
                raise _invalid("/quantity", f"at most the pledged {format(quantity, 'f')} can be delivered")
            if before.kind == CallKind.personnel and arrived != arrived.to_integral_value():
                raise _invalid("/quantity", "people are counted in whole numbers")
            if before.kind == CallKind.money:
                try:
                    check_money(arrived, row["currency"])
                except ValueError as exc:
                    raise _invalid("/quantity", str(exc)) from None
            if receipt is not None and (receipt.site_id or receipt.shelter_id) and before.kind != CallKind.goods:
                pointer = "/site_id" if receipt.site_id else "/shelter_id"
                raise _invalid(pointer, f"a {before.kind} pledge is not received at a location; only goods are")
            d_delivered = arrived
            d_committed = arrived - quantity  # the undelivered part returns to the call's remaining
            if before.status == PledgeStatus.dispatched:
                d_transit = -quantity
        call_before_row = await calls.locked(conn, row["call_id"])
        row = await conn.fetchrow(
            """
            with p as (
                update pledges
                   set status = $2, reason = coalesce($3, reason), delivered_quantity = $4,
                       version = version + 1, updated_at = now()
                 where id = $1
                returning *
            )
            select p.*, o.name as organization_name from p join organizations o on o.id = p.organization_id
            """,
            pledge_id,
            target,
            reason,
            d_delivered if action == "deliver" else row["delivered_quantity"],
        )
        after = to_model(row)
        call_row = await conn.fetchrow(
            """
            update calls
               set committed = committed + $2, in_transit = in_transit + $3, delivered = delivered + $4,
                   committed_value = committed_value + $5,
                   status = case when status = 'open' and delivered + $4 >= requested then 'fulfilled' else status end,
                   closed_at = case when status = 'open' and delivered + $4 >= requested then now() else closed_at end,
                   updated_at = now()
             where id = $1
            returning *
            """,
            row["call_id"],
            d_committed,
            d_transit,
            d_delivered,
            d_value,
        )
        await emit(conn, event_type, actor, after, before)
        if call_row["status"] == CallStatus.fulfilled and call_before_row["status"] == CallStatus.open:
            await calls.emit(conn, "call.fulfilled", actor, calls.to_model(call_row), calls.to_model(call_before_row))
        donation = None
        if action == "deliver" and before.kind != CallKind.personnel and d_delivered > 0:
            receipt = receipt or ledger.Receipt()
            donation = await ledger.receive(conn, actor, after, call_before_row, d_delivered, receipt)
    return after, donation
