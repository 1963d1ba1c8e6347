"""Impact figures: record an observation (impact.recorded), read the history and the current values."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from models.common import Page
from models.impacts import UNITS, Figure, Impact, ImpactCreate, ImpactCurrent, ImpactValue
from relief import cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Invalid

SELECT = """
select i.*, o.name as organization_name
  from impacts i left join organizations o on o.id = i.organization_id
"""

_FIGURE_ORDER = {figure: n for n, figure in enumerate(Figure)}
_SOURCE_ORDER = {"government": 0, "relief": 1, "organization": 2, "media": 3, "other": 4}


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


def to_model(row: asyncpg.Record) -> Impact:
    return Impact.model_validate(dict(row))


async def record(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: ImpactCreate) -> Impact:
    """Append one observation; the event names the reporting organization, if any."""
    async with db.atomic(conn):
        await incidents.require(conn, incident_id)
        if data.organization_id is not None and not await conn.fetchval(
            "select 1 from organizations where id = $1", data.organization_id
        ):
            raise _invalid("/organization_id", "no such organization")
        row = await conn.fetchrow(
            """
            with i as (
                insert into impacts (incident_id, region, figure, value, unit, source, organization_id,
                                     as_of, note, recorded_by)
                values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()), $9, $10)
                returning *
            )
            """ + SELECT.replace("from impacts i", "from i"),
            incident_id,
            data.region,
            str(data.figure),
            data.value,
            UNITS[data.figure],
            str(data.source),
            data.organization_id,
            data.as_of,
            data.note,
            actor.key_id,
        )
        impact = to_model(row)
        await events.emit(
            conn, type="impact.recorded", actor=actor, entity_type="impact", entity_id=impact.id,
            incident_id=incident_id, organization_id=impact.organization_id, after=impact,
        )
    return impact


async def get(conn: asyncpg.Connection, *, impact_id: UUID) -> Impact | None:
    row = await conn.fetchrow(f"{SELECT} where i.id = $1", impact_id)
    return to_model(row) if row else None


def _like(prefix: str | None) -> str | None:
    return None if prefix is None else prefix + "%"


async def list_impacts(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    region: str | None = None,
    figure: str | None = None,
    source: str | None = None,
) -> Page[Impact]:
    """The history, newest recorded first."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {SELECT}
         where i.incident_id = $3
           and ($1::timestamptz is null or (i.created_at, i.id) < ($1, $2::uuid))
           and ($4::text is null or i.region like $4)
           and ($5::text is null or i.figure = $5)
           and ($6::text is null or i.source = $6)
         order by i.created_at desc, i.id desc
         limit $7
        """,
        *position,
        incident_id,
        _like(region),
        figure,
        source,
        limit + 1,
    )
    return cursors.page(rows, limit, Impact, to_model)


async def current(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    region: str | None = None,
    figure: str | None = None,
    source: str | None = None,
) -> ImpactCurrent:
    """Per region, figure, source and organization: the latest observation by as_of (ties: the later
    recorded). Beside them, emergency_relocated as Relief counts it (source relief): residents
    registered by origin region plus aggregate evacuations by the region they left."""
    items: list[ImpactValue] = []
    if source != "relief":
        rows = await conn.fetch(
            """
            select distinct on (i.region, i.figure, i.source, i.organization_id)
                   i.id as impact_id, i.region, i.figure, i.value, i.unit, i.source, i.organization_id,
                   o.name as organization_name, i.as_of
              from impacts i left join organizations o on o.id = i.organization_id
             where i.incident_id = $1
               and ($2::text is null or i.region like $2)
               and ($3::text is null or i.figure = $3)
               and ($4::text is null or i.source = $4)
             order by i.region, i.figure, i.source, i.organization_id, i.as_of desc, i.created_at desc, i.id desc
            """,
            incident_id,
            _like(region),
            figure,
            source,
        )
        items += [ImpactValue.model_validate(dict(row)) for row in rows]
    if source in (None, "relief") and figure in (None, Figure.emergency_relocated):
        rows = await conn.fetch(
            """
            select region, sum(n) as value, max(at) as as_of from (
                select origin_region as region, count(*) as n, max(created_at) as at
                  from residents where incident_id = $1 group by origin_region
                union all
                select from_region, sum(count), max(occurred_at)
                  from evacuations where incident_id = $1 group by from_region
            ) counted
             where ($2::text is null or region like $2)
             group by region
            """,
            incident_id,
            _like(region),
        )
        items += [
            ImpactValue(region=row["region"], figure=Figure.emergency_relocated, value=row["value"],
                        unit="people", source="relief", as_of=row["as_of"])
            for row in rows
        ]
    items.sort(key=lambda v: (v.region, _FIGURE_ORDER[v.figure], _SOURCE_ORDER[v.source],
                              v.organization_name or "", str(v.organization_id or "")))
    return ImpactCurrent(incident_id=incident_id, items=items)


__all__ = ["current", "get", "list_impacts", "record"]
