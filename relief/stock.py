"""Stock movements: transfers (and their arrivals), distributions, write-offs and reversals, append-only.

Each movement is one transaction: the movement row, the levels it moves (relief/stock_levels.py,
guarded: 409 with `available` when a location holds less), the incident's counters, its event, and
last its link in the ledger's chain (relief/chain.py).

The incident's counters (incident_counters) kept here make the incident-wide stock O(1); keys are
"item|unit":
- goods_received      donations net of reversals (moved by relief/ledger.py)
- goods_in_transit    sent by transfers not yet received (nor reversed)
- goods_distributed   distributions net of reversals
- goods_written_off   write-offs and losses in transit, net of reversals
- people_reached      person-times (人次) reached by distributions of the item; key '': of every item
So the incident's locations hold, on hand, received − distributed − written_off − in_transit.

A reversal takes a whole entry back. A transfer in transit returns to its origin; a received transfer
is reversed with its arrival (the goods leave the destination, guarded like any other decrease, and
the loss is undone): the record says the transfer never happened. An arrival is not reversed alone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.common import Page
from models.stock import (
    DistributionCreate,
    Group,
    Household,
    LocationView,
    OneResident,
    RecipientView,
    ShelterResidents,
    StockMovement,
    StockMovementCreate,
    TransferCreate,
)
from relief import chain, counters, cursors, db, events, incidents, sites
from relief.auth import Principal
from relief.errors import Invalid, InvalidState, NotFound
from relief.stock_levels import CONTRIBUTIONS, Move, apply

ZERO = Decimal(0)
EVENTS = {"transfer": "stock.transferred", "distribution": "stock.distributed", "write_off": "stock.written_off",
          "arrival": "stock.received", "reversal": "stock.reversed"}

SELECT = """
    select m.*, a.id as arrival_id, a.quantity as arrived, a.lost as arrival_lost, r.id as reversed_by,
           coalesce(fs.name, fh.name) as from_name, coalesce(ts.name, th.name) as to_name
      from stock_movements m
      left join stock_movements a on a.transfer_id = m.id
      left join stock_movements r on r.reverses = m.id
      left join sites fs on fs.id = m.from_site_id left join shelters fh on fh.id = m.from_shelter_id
      left join sites ts on ts.id = m.to_site_id left join shelters th on th.id = m.to_shelter_id
"""


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


def to_model(row: asyncpg.Record | dict[str, Any]) -> StockMovement:
    to: LocationView | RecipientView | None = None
    if row["recipient_kind"]:
        to = RecipientView(kind=row["recipient_kind"], shelter_id=row["recipient_shelter_id"],
                           household_id=row["household_id"], resident_id=row["resident_id"], region=row["region"])
    elif row["to_site_id"] or row["to_shelter_id"]:
        to = LocationView(site_id=row["to_site_id"], shelter_id=row["to_shelter_id"], name=row["to_name"])
    origin = None
    if row["from_site_id"] or row["from_shelter_id"]:
        origin = LocationView(site_id=row["from_site_id"], shelter_id=row["from_shelter_id"], name=row["from_name"])
    transfer = row["kind"] == "transfer"
    if row["reversed_by"]:
        status = "reversed"
    elif transfer:
        status = "received" if row["arrival_id"] else "in_transit"
    else:
        status = "done"
    return StockMovement(**{
        "from": origin, "to": to, "status": status,
        "received": row["arrived"] if transfer else None,
        "lost": (row["arrival_lost"] or ZERO) if transfer else row["lost"],
        **{k: row[k] for k in ("id", "incident_id", "kind", "item", "unit", "quantity", "people_reached",
                               "transfer_id", "arrival_id", "reverses", "reversed_by", "reason", "note",
                               "moved_at", "created_at")},
    })


async def _read(conn: asyncpg.Connection, movement_id: UUID) -> StockMovement:
    return to_model(await conn.fetchrow(f"{SELECT} where m.id = $1", movement_id))


async def _insert(conn: asyncpg.Connection, actor: Principal, incident_id: UUID, **v: Any) -> asyncpg.Record:
    """The movement row as stored (`returning *`: what the chain encodes). Without a `moved_at`, the goods
    moved when the movement is recorded."""
    return await conn.fetchrow(
        """
        insert into stock_movements (incident_id, recorded_by, kind, item, unit, quantity, from_site_id,
                                     from_shelter_id, to_site_id, to_shelter_id, transfer_id, lost, recipient_kind,
                                     recipient_shelter_id, household_id, resident_id, people_reached, region,
                                     reason, reverses, note, moved_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                coalesce($22, now()))
        returning *
        """,
        incident_id, actor.key_id, v["kind"], v["item"], v["unit"], v["quantity"], v.get("from_site_id"),
        v.get("from_shelter_id"), v.get("to_site_id"), v.get("to_shelter_id"), v.get("transfer_id"),
        v.get("lost", ZERO), v.get("recipient_kind"), v.get("recipient_shelter_id"), v.get("household_id"),
        v.get("resident_id"), v.get("people_reached"), v.get("region"), v.get("reason"), v.get("reverses"),
        v.get("note", ""), v.get("moved_at"),
    )


async def _finish(
    conn: asyncpg.Connection, actor: Principal, row: asyncpg.Record, *, event_entity: UUID,
    before: StockMovement | None = None,
) -> StockMovement:
    """The movement's event, then its link in the chain (last: see relief/chain.py)."""
    movement = await _read(conn, row["id"])
    await events.emit(conn, type=EVENTS[row["kind"]], actor=actor, entity_type="stock_movement",
                      entity_id=event_entity, incident_id=row["incident_id"], before=before, after=movement)
    await chain.append(conn, kind="stock_movement", row=row)
    return movement


async def _recipient(conn: asyncpg.Connection, incident_id: UUID, to: Any) -> tuple[int, dict[str, Any]]:
    """How many people a distribution reaches (person-times), and how its row names them."""
    if isinstance(to, ShelterResidents):
        shelter = await conn.fetchrow("select incident_id, occupancy, status from shelters where id = $1",
                                      to.shelter_id)
        if shelter is None or shelter["incident_id"] != incident_id:
            raise _invalid("/to/shelter_id", f"no shelter {to.shelter_id} in this incident")
        if shelter["occupancy"] == 0:
            raise InvalidState(f"shelter {to.shelter_id} holds nobody now", state=shelter["status"], occupancy=0)
        return shelter["occupancy"], {"recipient_shelter_id": to.shelter_id}
    if isinstance(to, Household):
        people = to.people_reached or await conn.fetchval(
            "select max(household_size) from residents where incident_id = $1 and household_id = $2",
            incident_id, to.household_id,
        )
        if people is None:
            raise _invalid("/to/people_reached", f"no resident of household {to.household_id} is registered "
                                                 "in this incident: say how many people it reached")
        return people, {"household_id": to.household_id}
    if isinstance(to, OneResident):
        if await conn.fetchval("select incident_id from residents where id = $1", to.resident_id) != incident_id:
            raise _invalid("/to/resident_id", f"no resident {to.resident_id} in this incident")
        return 1, {"resident_id": to.resident_id}
    if isinstance(to, Group):
        return to.people_reached, {"region": to.region}
    raise TypeError(f"not a recipient: {type(to).__name__}")


async def create(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: StockMovementCreate
) -> StockMovement:
    """Record a transfer, distribution or write-off; 409 with `available` when the origin holds less."""
    async with db.atomic(conn):
        await incidents.require(conn, incident_id)
        site_id, shelter_id = await sites.locate(conn, incident_id=incident_id, site_id=data.from_.site_id,
                                                 shelter_id=data.from_.shelter_id, pointer="/from")
        q, key = data.quantity, f"{data.item}|{data.unit}"
        values: dict[str, Any] = {"kind": data.kind, "item": data.item, "unit": data.unit, "quantity": q,
                                  "from_site_id": site_id, "from_shelter_id": shelter_id, "note": data.note,
                                  "moved_at": data.moved_at}
        if isinstance(data, TransferCreate):
            to_site, to_shelter = await sites.locate(conn, incident_id=incident_id, site_id=data.to.site_id,
                                                     shelter_id=data.to.shelter_id, pointer="/to")
            values.update(to_site_id=to_site, to_shelter_id=to_shelter)
            move = Move(site_id, shelter_id, on_hand=-q, in_transit_out=q)
            bumps: counters.Bumps = {("goods_in_transit", key): q}
        elif isinstance(data, DistributionCreate):
            people, named = await _recipient(conn, incident_id, data.to)
            values.update(named, recipient_kind=data.to.kind, people_reached=people)
            move = Move(site_id, shelter_id, on_hand=-q, distributed=q, people_reached=Decimal(people))
            bumps = {("goods_distributed", key): q, ("people_reached", key): people, ("people_reached", ""): people}
        else:
            values.update(reason=data.reason)
            move = Move(site_id, shelter_id, on_hand=-q, written_off=q)
            bumps = {("goods_written_off", key): q}
        row = await _insert(conn, actor, incident_id, **values)
        await apply(conn, actor=actor, incident_id=incident_id, item=data.item, unit=data.unit, moves=[move])
        await counters.bump(conn, incident_id, bumps)
        return await _finish(conn, actor, row, event_entity=row["id"])


async def _locked(conn: asyncpg.Connection, movement_id: UUID) -> asyncpg.Record:
    """The movement, locked: receiving and reversing one movement are serialized on its row."""
    row = await conn.fetchrow("select * from stock_movements where id = $1 for update", movement_id)
    if row is None:
        raise NotFound(f"stock movement {movement_id} does not exist")
    # Asked now that the row is locked, so a reversal committed while this waited is seen.
    if await conn.fetchval("select 1 from stock_movements where reverses = $1", movement_id):
        raise InvalidState(f"stock movement {movement_id} is reversed", state="reversed")
    return row


async def receive(
    conn: asyncpg.Connection, *, actor: Principal, transfer_id: UUID, quantity: Decimal, reason: str | None,
    moved_at: datetime | None = None,
) -> StockMovement:
    """Record a transfer's arrival (stock.received), when it arrived (default: now, never before the
    transfer left): what did not arrive is lost, with a reason."""
    async with db.atomic(conn):
        transfer = await _locked(conn, transfer_id)
        if transfer["kind"] != "transfer":
            raise InvalidState(f"a {transfer['kind']} is not received; only a transfer is", state=transfer["kind"])
        if await conn.fetchval("select 1 from stock_movements where transfer_id = $1", transfer_id):
            raise InvalidState(f"transfer {transfer_id} is already received", state="received")
        sent: Decimal = transfer["quantity"]
        if quantity > sent:
            raise _invalid("/quantity", f"at most the {format(sent, 'f')} sent can arrive")
        lost = sent - quantity
        if lost > 0 and not reason:
            raise _invalid("/reason", f"{format(lost, 'f')} did not arrive: say why")
        if moved_at is not None and moved_at < transfer["moved_at"]:
            raise _invalid("/moved_at", f"the transfer left at {transfer['moved_at'].isoformat()}; it cannot "
                                        "arrive before that")
        before = await _read(conn, transfer_id)
        row = await _insert(
            conn, actor, transfer["incident_id"], kind="arrival", item=transfer["item"], unit=transfer["unit"],
            quantity=quantity, transfer_id=transfer_id, lost=lost, reason=reason, moved_at=moved_at,
            **{k: transfer[k] for k in ("from_site_id", "from_shelter_id", "to_site_id", "to_shelter_id")},
        )
        origin = Move(transfer["from_site_id"], transfer["from_shelter_id"], in_transit_out=-sent,
                      transferred_out=quantity, written_off=lost)
        destination = Move(transfer["to_site_id"], transfer["to_shelter_id"], received=quantity, on_hand=quantity)
        await apply(conn, actor=actor, incident_id=transfer["incident_id"], item=transfer["item"],
                    unit=transfer["unit"], moves=[origin, destination])
        key = f"{transfer['item']}|{transfer['unit']}"
        await counters.bump(conn, transfer["incident_id"], {("goods_in_transit", key): -sent,
                                                            ("goods_written_off", key): lost})
        return await _finish(conn, actor, row, event_entity=transfer_id, before=before)


async def reverse(conn: asyncpg.Connection, *, actor: Principal, movement_id: UUID, reason: str) -> StockMovement:
    """Take a movement back with a reversal that names it (stock.reversed); 409 with `available` when
    goods it brought somewhere have left since."""
    async with db.atomic(conn):
        m = await _locked(conn, movement_id)
        if m["kind"] in ("reversal", "arrival"):
            hint = "record the movement again" if m["kind"] == "reversal" else "reverse its transfer"
            raise InvalidState(f"a {m['kind']} is not reversed on its own; {hint}", state=m["kind"])
        q, key, people = m["quantity"], f"{m['item']}|{m['unit']}", m["people_reached"] or 0
        origin = {"site_id": m["from_site_id"], "shelter_id": m["from_shelter_id"]}
        bumps: counters.Bumps
        if m["kind"] == "transfer":
            arrival = await conn.fetchrow("select quantity, lost from stock_movements where transfer_id = $1",
                                          movement_id)
            if arrival is None:  # still on the way: back to where it left
                moves = [Move(**origin, on_hand=q, in_transit_out=-q)]
                bumps = {("goods_in_transit", key): -q}
            else:
                arrived, lost = arrival["quantity"], arrival["lost"]
                moves = [Move(**origin, on_hand=q, transferred_out=-arrived, written_off=-lost),
                         Move(m["to_site_id"], m["to_shelter_id"], received=-arrived, on_hand=-arrived)]
                bumps = {("goods_written_off", key): -lost}
        elif m["kind"] == "distribution":
            moves = [Move(**origin, on_hand=q, distributed=-q, people_reached=-Decimal(people))]
            bumps = {("goods_distributed", key): -q, ("people_reached", key): -people, ("people_reached", ""): -people}
        else:
            moves = [Move(**origin, on_hand=q, written_off=-q)]
            bumps = {("goods_written_off", key): -q}
        before = await _read(conn, movement_id)
        # A reversal moves nothing in the story: it is a correction, made (moved_at) when it is recorded.
        row = await _insert(
            conn, actor, m["incident_id"], kind="reversal", reverses=movement_id, reason=reason,
            people_reached=m["people_reached"],
            **{k: m[k] for k in ("item", "unit", "quantity", "from_site_id", "from_shelter_id", "to_site_id",
                                 "to_shelter_id", "region")},
        )
        await apply(conn, actor=actor, incident_id=m["incident_id"], item=m["item"], unit=m["unit"], moves=moves)
        await counters.bump(conn, m["incident_id"], bumps)
        return await _finish(conn, actor, row, event_entity=movement_id, before=before)


async def get(conn: asyncpg.Connection, *, movement_id: UUID) -> StockMovement | None:
    row = await conn.fetchrow(f"{SELECT} where m.id = $1", movement_id)
    return to_model(row) if row else None


async def list_movements(
    conn: asyncpg.Connection, *, incident_id: UUID, limit: int, cursor: str | None = None, kind: str | None = None,
    item: str | None = None, site_id: UUID | None = None, shelter_id: UUID | None = None, status: str | None = None,
) -> Page[StockMovement]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {SELECT}
         where m.incident_id = $3
           and ($1::timestamptz is null or (m.created_at, m.id) < ($1, $2::uuid))
           and ($4::text is null or m.kind = $4)
           and ($5::text is null or m.item = $5)
           and ($6::uuid is null or $6 in (m.from_site_id, m.to_site_id))
           and ($7::uuid is null or $7 in (m.from_shelter_id, m.to_shelter_id, m.recipient_shelter_id))
           and ($8::text is null or (m.kind = 'transfer' and a.id is null and r.id is null))
         order by m.created_at desc, m.id desc
         limit $9
        """,
        *position, incident_id, kind, item, site_id, shelter_id, status, limit + 1,
    )
    return cursors.page(rows, limit, StockMovement, to_model)
async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    """The stock counters recomputed from the movements (goods_received is the ledger's), for reconcile."""
    rows = await conn.fetch(
        f"""
        select item || '|' || unit as key, sum(in_transit_out) as goods_in_transit,
               sum(distributed) as goods_distributed, sum(written_off) as goods_written_off,
               sum(people_reached) as people_reached
          from ({CONTRIBUTIONS}) c group by item, unit
        """,
        incident_id,
    )
    expected: dict[tuple[str, str], Decimal] = {("people_reached", ""): ZERO}
    for r in rows:
        for name in ("goods_in_transit", "goods_distributed", "goods_written_off", "people_reached"):
            expected[(name, r["key"])] = Decimal(r[name])
        expected[("people_reached", "")] += r["people_reached"]
    return expected
