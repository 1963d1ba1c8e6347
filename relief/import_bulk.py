"""Set-based writes for the kinds an import brings by the hundred thousand: residents and head counts.

A batch's prepared rows (relief/import_apply.prepare: the API's models, references resolved) are
written with one statement per table instead of a use case per row: the residents or evacuations,
their events (one per row written, as the API writes them, marked with the import), the row keys and
the counters, all in the batch's transaction. What this path does not take stays on the row-by-row
one (relief/import_apply.apply): a resident checking into a shelter and a centralized head count
(both fill a shelter up to its capacity, one row at a time), donations (each is chained in the
ledger) and impact figures (few rows). If the database refuses the set (a constraint the models do
not know), the runner takes the same rows one by one, so each refusal lands on its own row.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg

from models.residents import Evacuation, Placement
from relief import counters, events, incidents, residents
from relief.import_apply import Context, Prepared

KINDS = ("residents", "evacuations")


def takes(kind: str, row: Prepared) -> bool:
    """Whether the set-based path writes this row (else it goes through its use case alone)."""
    if kind == "residents":
        return row.shelter is None
    if kind == "evacuations":
        return row.data.placement != Placement.centralized
    return False


async def write(conn: asyncpg.Connection, ctx: Context, kind: str, rows: list[tuple[Prepared, str]]) -> int:
    """Write `rows` ((prepared row, row key) each) and return how many were written; the rest were
    present already (the same person, the same row key). Raises what require_open raises."""
    if not rows:
        return 0
    await incidents.require_open(conn, ctx.incident_id)
    if kind == "residents":
        return await _residents(conn, ctx, rows)
    return await _evacuations(conn, ctx, rows)


async def _residents(conn: asyncpg.Connection, ctx: Context, rows: list[tuple[Prepared, str]]) -> int:
    data = [row.data for row, _ in rows]
    inserted = await conn.fetch(
        """
        insert into residents (incident_id, name, id_type, id_hash, id_last4, phone, household_id, household_size,
                               origin_region, origin_address, vulnerabilities, assisted_by)
        select $1, name, id_type, id_hash, id_last4, phone, household_id, household_size, origin_region,
               origin_address, string_to_array(flags, ','), assisted_by
          from unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::int[],
                      $9::text[], $10::text[], $11::text[], $12::uuid[]) with ordinality
               as r(name, id_type, id_hash, id_last4, phone, household_id, household_size, origin_region,
                    origin_address, flags, assisted_by, n)
         order by n
        on conflict (incident_id, id_hash) do nothing
        returning *
        """,
        ctx.incident_id,
        [d.name for d in data],
        [str(d.id_type) for d in data],
        [bytes.fromhex(key) for _, key in rows],  # a resident's row key is the keyed hash of the ID number
        [d.id_number[-4:] for d in data],
        [d.phone for d in data],
        [d.household_id for d in data],
        [d.household_size for d in data],
        [d.origin_region for d in data],
        [d.origin_address for d in data],
        [",".join(str(v) for v in d.vulnerabilities) for d in data],
        [d.assisted_by for d in data],
    )
    await events.emit_many(conn, [
        events.values(type="resident.registered", actor=ctx.actor, entity_type="resident", entity_id=row["id"],
                      incident_id=ctx.incident_id, after=residents.to_model(row))
        for row in inserted
    ])
    await counters.bump(conn, ctx.incident_id, {("evacuated", "individual"): len(inserted)})
    await _join(conn, ctx, {row["assisted_by"] for row in inserted})
    return len(inserted)


async def _evacuations(conn: asyncpg.Connection, ctx: Context, rows: list[tuple[Prepared, str]]) -> int:
    claimed = {r["row_key"] for r in await conn.fetch(
        """
        insert into import_row_keys (incident_id, kind, row_key, import_id)
        select $1, 'evacuations', k, $2 from unnest($3::text[]) as k
        on conflict do nothing
        returning row_key
        """,
        ctx.incident_id, ctx.import_id, [key for _, key in rows],
    )}
    data = [row.data for row, key in rows if key in claimed]
    if not data:
        return 0
    inserted = await conn.fetch(
        """
        insert into evacuations (incident_id, count, from_region, placement, assisted_by, occurred_at, note,
                                 recorded_by)
        select $1, count, from_region, placement, assisted_by, coalesce(occurred_at, now()), note, $2
          from unnest($3::int[], $4::text[], $5::text[], $6::uuid[], $7::timestamptz[], $8::text[]) with ordinality
               as e(count, from_region, placement, assisted_by, occurred_at, note, n)
         order by n
        returning *
        """,
        ctx.incident_id, ctx.actor.key_id,
        [d.count for d in data], [d.from_region for d in data], [str(d.placement) for d in data],
        [d.assisted_by for d in data], [d.occurred_at for d in data], [d.note for d in data],
    )
    await events.emit_many(conn, [
        events.values(type="evacuation.recorded", actor=ctx.actor, entity_type="evacuation", entity_id=row["id"],
                      incident_id=ctx.incident_id, after=Evacuation.model_validate(dict(row)))
        for row in inserted
    ])
    placed: Counter[str] = Counter()
    for row in inserted:
        placed[row["placement"]] += row["count"]
    bumps: counters.Bumps = {("evacuated", "aggregate"): Decimal(sum(placed.values()))}
    bumps.update({("placement", placement): Decimal(n) for placement, n in placed.items()})
    await counters.bump(conn, ctx.incident_id, bumps)
    await _join(conn, ctx, {row["assisted_by"] for row in inserted})
    return len(inserted)


async def _join(conn: asyncpg.Connection, ctx: Context, organizations: set[Any]) -> None:
    for organization in sorted(o for o in organizations if o is not None):  # sorted: one lock order
        await counters.join(conn, ctx.incident_id, organization)


__all__ = ["KINDS", "takes", "write"]
