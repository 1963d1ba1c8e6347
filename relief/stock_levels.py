"""Stock levels per location (a site or a shelter), item and unit, moved only by guarded updates.

Goods come in by donations (relief/ledger.py calls `donated`) and transfers' arrivals, and leave by
transfers, distributions and write-offs (relief/stock.py); a reversal moves them back. Every move of a
level is one guarded statement on the level's row: the row lock serializes the movements of one
location and item, and the condition (`on_hand + change >= 0`) is checked on the locked row, so no
read-then-write race can take stock below zero (409 with `available`).

Per location: on_hand = received − transferred_out − in_transit_out − distributed − written_off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.stock import LocationView, Minimum, StockLevel, StockTotal
from models.summary import Difference
from relief import db, events, sites
from relief.auth import Principal
from relief.errors import Insufficient, Invalid, NotFound

ZERO = Decimal(0)
LEVEL_COLUMNS = ("received", "on_hand", "in_transit_out", "transferred_out", "distributed", "written_off",
                 "people_reached")


@dataclass(frozen=True)
class Move:
    """How one location's level of an item moves (negative: down)."""

    site_id: UUID | None
    shelter_id: UUID | None
    received: Decimal = ZERO
    on_hand: Decimal = ZERO
    in_transit_out: Decimal = ZERO
    transferred_out: Decimal = ZERO
    distributed: Decimal = ZERO
    written_off: Decimal = ZERO
    people_reached: Decimal = ZERO

    @property
    def location_id(self) -> UUID:
        return self.site_id or self.shelter_id  # type: ignore[return-value]

    def deltas(self) -> list[Decimal]:
        return [Decimal(getattr(self, c)) for c in LEVEL_COLUMNS]


LEVELS = """
    select l.*, coalesce(s.name, h.name) as location_name
      from stock_levels l left join sites s on s.id = l.site_id left join shelters h on h.id = l.shelter_id
"""


def level_model(row: asyncpg.Record | dict[str, Any]) -> StockLevel:
    return StockLevel(
        location=LocationView(site_id=row["site_id"], shelter_id=row["shelter_id"], name=row["location_name"]),
        **{k: row[k] for k in ("item", "unit", *LEVEL_COLUMNS, "minimum", "low")},
    )


# Both statements keep `low` equal to (minimum is not null and on_hand < minimum), so whether the level
# was low before is known from the change (was_low), without a read before the write.
_RAISE = """
    insert into stock_levels (incident_id, site_id, shelter_id, item, unit, received, on_hand, in_transit_out,
                              transferred_out, distributed, written_off, people_reached)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    on conflict (location_id, item, unit) do update
       set received = stock_levels.received + excluded.received,
           on_hand = stock_levels.on_hand + excluded.on_hand,
           in_transit_out = stock_levels.in_transit_out + excluded.in_transit_out,
           transferred_out = stock_levels.transferred_out + excluded.transferred_out,
           distributed = stock_levels.distributed + excluded.distributed,
           written_off = stock_levels.written_off + excluded.written_off,
           people_reached = stock_levels.people_reached + excluded.people_reached,
           low = stock_levels.minimum is not null and stock_levels.on_hand + excluded.on_hand < stock_levels.minimum
    returning site_id, shelter_id, item, unit, minimum, low, (minimum is not null and on_hand - $7 < minimum) as was_low
"""
_GUARDED = """
    update stock_levels
       set received = received + $6, on_hand = on_hand + $7, in_transit_out = in_transit_out + $8,
           transferred_out = transferred_out + $9, distributed = distributed + $10, written_off = written_off + $11,
           people_reached = people_reached + $12, low = minimum is not null and on_hand + $7 < minimum
     where location_id = coalesce($2::uuid, $3::uuid) and item = $4 and unit = $5 and incident_id = $1
       and on_hand + $7 >= 0
    returning site_id, shelter_id, item, unit, minimum, low, (minimum is not null and on_hand - $7 < minimum) as was_low
"""


async def apply(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, item: str, unit: str, moves: list[Move]
) -> None:
    """Move levels in the caller's transaction: 409 with `available` if one would go below zero; stock.low
    for each level this takes below its minimum (once per crossing: rising back re-arms it)."""
    # In one order everywhere (location, then item and unit), so two movements between the same two
    # locations lock their rows in the same order and never deadlock.
    for move in sorted(moves, key=lambda m: str(m.location_id)):
        args = (incident_id, move.site_id, move.shelter_id, item, unit, *move.deltas())
        lowers = move.on_hand < 0 or move.in_transit_out < 0
        row = await conn.fetchrow(_GUARDED if lowers else _RAISE, *args)
        if row is None:
            available = await conn.fetchval(
                "select on_hand from stock_levels where location_id = $1 and item = $2 and unit = $3",
                move.location_id, item, unit,
            ) or ZERO
            where = "site" if move.site_id else "shelter"
            raise Insufficient(
                f"{where} {move.location_id} holds {format(available, 'f')} {unit} of {item} on hand, "
                f"not {format(-move.on_hand, 'f')}",
                available=format(available, "f"),
            )
        if row["low"] and not row["was_low"]:
            await announce_low(conn, actor=actor, incident_id=incident_id, location_id=move.location_id,
                               item=item, unit=unit)


async def announce_low(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, location_id: UUID, item: str, unit: str
) -> None:
    """stock.low: a level has just gone below its minimum (the event names the location)."""
    row = await conn.fetchrow(f"{LEVELS} where l.location_id = $1 and l.item = $2 and l.unit = $3",
                              location_id, item, unit)
    await events.emit(conn, type="stock.low", actor=actor, entity_type="stock_level", entity_id=location_id,
                      incident_id=incident_id, after=level_model(row))


async def donated(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, site_id: UUID | None,
    shelter_id: UUID | None, item: str, unit: str, quantity: Decimal,
) -> None:
    """A goods donation into its location's stock, or (negative) its reversal out of it: 409 if gone."""
    await apply(conn, actor=actor, incident_id=incident_id, item=item, unit=unit,
                moves=[Move(site_id, shelter_id, received=quantity, on_hand=quantity)])


async def location(conn: asyncpg.Connection, *, site_id: UUID | None, shelter_id: UUID | None) -> UUID:
    """The incident of a site or shelter named in a path (404 when there is none)."""
    incident_id = await sites.incident_of(conn, site_id=site_id, shelter_id=shelter_id)
    if incident_id is None:
        raise NotFound(f"{'site' if site_id else 'shelter'} {site_id or shelter_id} does not exist")
    return incident_id


async def levels(
    conn: asyncpg.Connection, *, incident_id: UUID, site_id: UUID | None = None, shelter_id: UUID | None = None,
    item: str | None = None,
) -> list[StockLevel]:
    rows = await conn.fetch(
        f"""
        {LEVELS}
         where l.incident_id = $1 and ($2::uuid is null or l.site_id = $2) and ($3::uuid is null or l.shelter_id = $3)
           and ($4::text is null or l.item = $4)
         order by location_name, l.location_id, l.item, l.unit
        """,
        incident_id, site_id, shelter_id, item,
    )
    return [level_model(r) for r in rows]


def totals(tally: dict[tuple[str, str], Decimal], item: str | None = None) -> list[StockTotal]:
    """Per item of the incident, from its counters (their names: relief/stock.py)."""
    names = {"goods_received": "received", "goods_in_transit": "in_transit", "goods_distributed": "distributed",
             "goods_written_off": "written_off", "people_reached": "people_reached"}
    found: dict[tuple[str, str], dict[str, Decimal]] = {}
    for (name, key), value in tally.items():
        if name in names and key:
            name_of_item, _, unit = key.partition("|")
            if item is None or name_of_item == item:
                found.setdefault((name_of_item, unit), dict.fromkeys(names.values(), ZERO))[names[name]] += value
    return [
        StockTotal(item=i, unit=u, **f, on_hand=f["received"] - f["distributed"] - f["written_off"] - f["in_transit"])
        for (i, u), f in sorted(found.items())
    ]


async def set_minimums(
    conn: asyncpg.Connection, *, actor: Principal, site_id: UUID | None, shelter_id: UUID | None,
    minimums: list[Minimum],
) -> list[StockLevel]:
    """Replace a location's minimums (those left out are cleared): one stock.minimums_set event, and
    stock.low for each level now below a minimum that was not before."""
    keys = [(m.item, m.unit) for m in minimums]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            detail = f"{key[0]} in {key[1]} is listed twice"
            raise Invalid(detail, errors=[{"pointer": f"/{index}", "detail": detail}])
    async with db.atomic(conn):
        return await _set_minimums(conn, actor=actor, site_id=site_id, shelter_id=shelter_id, minimums=minimums)


async def _set_minimums(
    conn: asyncpg.Connection, *, actor: Principal, site_id: UUID | None, shelter_id: UUID | None,
    minimums: list[Minimum],
) -> list[StockLevel]:
    incident_id = await location(conn, site_id=site_id, shelter_id=shelter_id)
    location_id = site_id or shelter_id
    # The location's rows locked in (item, unit) order; a movement holds at most one row of a location,
    # so the two cannot wait for each other in a cycle.
    before = await conn.fetch(
        "select item, unit, minimum, low from stock_levels where location_id = $1 order by item, unit for update",
        location_id,
    )
    ordered = sorted(minimums, key=lambda m: (m.item, m.unit))
    await conn.execute(
        """
        insert into stock_levels (incident_id, site_id, shelter_id, item, unit, minimum, low)
        select $1, $2, $3, item, unit, minimum, minimum > 0  -- a new level holds nothing yet
          from unnest($4::text[], $5::text[], $6::numeric[]) as u(item, unit, minimum)
        on conflict (location_id, item, unit) do update
           set minimum = excluded.minimum, low = stock_levels.on_hand < excluded.minimum
        """,
        incident_id, site_id, shelter_id,
        [m.item for m in ordered], [m.unit for m in ordered], [m.minimum for m in ordered],
    )
    await conn.execute(
        """
        update stock_levels set minimum = null, low = false
         where location_id = $1 and minimum is not null
           and (item, unit) not in (select * from unnest($2::text[], $3::text[]))
        """,
        location_id, [m.item for m in ordered], [m.unit for m in ordered],
    )
    after = await levels(conn, incident_id=incident_id, site_id=site_id, shelter_id=shelter_id)
    was_low = {(r["item"], r["unit"]) for r in before if r["low"]}

    def listing(levels_: Any) -> dict[str, Any]:
        return {"minimums": [{"item": lv["item"], "unit": lv["unit"], "minimum": format(lv["minimum"], "f")}
                             for lv in levels_ if lv["minimum"] is not None]}

    old, new = listing(before), listing([{"item": lv.item, "unit": lv.unit, "minimum": lv.minimum} for lv in after])
    if old == new:
        return after  # nothing changed: no event
    await events.emit(conn, type="stock.minimums_set", actor=actor, entity_type="stock_level",
                      entity_id=location_id, incident_id=incident_id, before=old, after=new)
    for level in after:
        if level.low and (level.item, level.unit) not in was_low:
            await announce_low(conn, actor=actor, incident_id=incident_id, location_id=location_id,
                               item=level.item, unit=level.unit)
    return after


# ── Reconcile (relief/summary.py) ───────────────────────────────────────────────────────────────────
# What each ledger row adds to its location's level while it stands (a reversal takes it all back).
CONTRIBUTIONS = """
    select coalesce(site_id, shelter_id) as location_id, item, unit, quantity as received, 0 as in_transit_out,
           0 as transferred_out, 0 as distributed, 0 as written_off, 0 as people_reached
      from donations where incident_id = $1 and kind = 'goods'
    union all
    select coalesce(m.from_site_id, m.from_shelter_id), m.item, m.unit, 0,
           case when a.id is null then m.quantity else 0 end, coalesce(a.quantity, 0), 0, coalesce(a.lost, 0), 0
      from stock_movements m left join stock_movements a on a.transfer_id = m.id
     where m.incident_id = $1 and m.kind = 'transfer'
       and not exists (select 1 from stock_movements r where r.reverses = m.id)
    union all
    select coalesce(a.to_site_id, a.to_shelter_id), a.item, a.unit, a.quantity, 0, 0, 0, 0, 0
      from stock_movements a
     where a.incident_id = $1 and a.kind = 'arrival'
       and not exists (select 1 from stock_movements r where r.reverses = a.transfer_id)
    union all
    select coalesce(m.from_site_id, m.from_shelter_id), m.item, m.unit, 0, 0, 0,
           case when m.kind = 'distribution' then m.quantity else 0 end,
           case when m.kind = 'write_off' then m.quantity else 0 end, coalesce(m.people_reached, 0)
      from stock_movements m
     where m.incident_id = $1 and m.kind in ('distribution', 'write_off')
       and not exists (select 1 from stock_movements r where r.reverses = m.id)
"""


async def differences(conn: asyncpg.Connection, incident_id: UUID) -> list[Difference]:
    """Stock levels whose stored figures differ from the donations and movements they count."""
    rows = await conn.fetch(
        f"""
        with e as (
            select location_id, item, unit, sum(received) as received, sum(in_transit_out) as in_transit_out,
                   sum(transferred_out) as transferred_out, sum(distributed) as distributed,
                   sum(written_off) as written_off, sum(people_reached) as people_reached
              from ({CONTRIBUTIONS}) c group by location_id, item, unit
        )
        select coalesce(l.location_id, e.location_id) as location_id, coalesce(l.item, e.item) as item,
               coalesce(l.unit, e.unit) as unit, l.minimum, l.low,
               coalesce(l.received, 0) as received, coalesce(e.received, 0) as e_received,
               coalesce(l.on_hand, 0) as on_hand,
               coalesce(e.received - e.transferred_out - e.in_transit_out - e.distributed - e.written_off, 0)
                   as e_on_hand,
               coalesce(l.in_transit_out, 0) as in_transit_out, coalesce(e.in_transit_out, 0) as e_in_transit_out,
               coalesce(l.transferred_out, 0) as transferred_out, coalesce(e.transferred_out, 0) as e_transferred_out,
               coalesce(l.distributed, 0) as distributed, coalesce(e.distributed, 0) as e_distributed,
               coalesce(l.written_off, 0) as written_off, coalesce(e.written_off, 0) as e_written_off,
               coalesce(l.people_reached, 0) as people_reached, coalesce(e.people_reached, 0) as e_people_reached
          from (select * from stock_levels where incident_id = $1) l
          full join e on e.location_id = l.location_id and e.item = l.item and e.unit = l.unit
         order by 1, 2, 3
        """,
        incident_id,
    )
    out = []
    for r in rows:
        key = f"{r['location_id']}|{r['item']}|{r['unit']}"
        for name in LEVEL_COLUMNS:
            if r[name] != r[f"e_{name}"]:
                out.append(Difference(incident_id=incident_id, counter=f"stock.{name}", key=key,
                                      stored=r[name], recomputed=r[f"e_{name}"]))
        low = r["minimum"] is not None and r["on_hand"] < r["minimum"]
        if r["low"] is not None and r["low"] != low:
            out.append(Difference(incident_id=incident_id, counter="stock.low", key=key,
                                  stored=int(r["low"]), recomputed=int(low)))
    return out
