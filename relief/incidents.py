"""Incidents: open, update, close and reopen the disasters the bureau responds to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from models.codes import region_prefix
from models.common import Page
from models.incidents import Incident, IncidentCreate, IncidentStatus, IncidentUpdate
from relief import calls, cursors, db, events
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, InvalidState, NotFound, StaleVersion


def _incident(row: asyncpg.Record) -> Incident:
    return Incident.model_validate(dict(row))


async def _emit(
    conn: asyncpg.Connection,
    type: str,
    actor: Principal,
    after: Incident,
    before: Incident | None = None,
) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="incident",
        entity_id=after.id,
        incident_id=after.id,
        before=before,
        after=after,
    )


async def create(conn: asyncpg.Connection, *, actor: Principal, data: IncidentCreate) -> Incident:
    """Open an incident and emit incident.opened."""
    async with db.atomic(conn):  # passes the write fence (relief/sitreps.py)
        try:
            row = await conn.fetchrow(
                """
                insert into incidents (code, title, type, severity, regions, started_at, description)
                values ($1, $2, $3, $4, $5, $6, $7)
                returning *
                """,
                data.code,
                data.title,
                data.type,
                data.severity,
                _unique(data.regions),
                data.started_at,
                data.description,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"an incident with code {data.code} already exists", code=data.code) from exc
        incident = _incident(row)
        await _emit(conn, "incident.opened", actor, incident)
    return incident


def _unique(regions: list[str]) -> list[str]:
    return list(dict.fromkeys(regions))


async def require(conn: asyncpg.Connection, incident_id: UUID) -> None:
    """Raise NotFound unless the incident exists."""
    if not await conn.fetchval("select 1 from incidents where id = $1", incident_id):
        raise NotFound(f"incident {incident_id} does not exist")


async def require_open(conn: asyncpg.Connection, incident_id: UUID) -> None:
    """Hold the incident open for this transaction (a share lock), or refuse: 404, 409 when closed.

    Creates under an incident (calls, offers, shelters, residents, evacuations) call it first, so a
    concurrent close waits for them and closes what they made.
    """
    status = await conn.fetchval("select status from incidents where id = $1 for share", incident_id)
    if status is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if status != "open":
        raise InvalidState(f"incident {incident_id} is {status}; reopen it first", state=status)


async def get(conn: asyncpg.Connection, *, incident_id: UUID) -> Incident | None:
    row = await conn.fetchrow("select * from incidents where id = $1", incident_id)
    return _incident(row) if row else None


async def list_incidents(
    conn: asyncpg.Connection,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    type: str | None = None,
    severity: str | None = None,
    region: str | None = None,
) -> Page[Incident]:
    """Newest first. `region` (a code or its prefix: 3205 is 320500) matches up and down the hierarchy:
    3205 finds incidents recorded for Suzhou, for a district in it (320505) or for all of Jiangsu (320000)."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from incidents
         where ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($3::text is null or status = $3)
           and ($4::text is null or type = $4)
           and ($5::text is null or severity = $5)
           and ($6::text is null or exists (
                 select 1 from unnest(regions) r
                  where r like $6 || '%'
                     or $7 like regexp_replace(r, '(00)?00$', '') || '%'))
         order by created_at desc, id desc
         limit $8
        """,
        *position,
        status,
        type,
        severity,
        region_prefix(region) if region else None,
        region,
        limit + 1,
    )
    return cursors.page(rows, limit, Incident)


async def _locked(conn: asyncpg.Connection, incident_id: UUID) -> Incident:
    row = await conn.fetchrow("select * from incidents where id = $1 for update", incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return _incident(row)


async def update(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, version: IfMatch, data: IncidentUpdate
) -> Incident:
    """Change the fields given; `version` must be the current one (optimistic concurrency)."""
    async with db.atomic(conn):
        before = await _locked(conn, incident_id)
        StaleVersion.check(f"incident {incident_id}", current=before.version, expected=version)
        changes: dict[str, Any] = data.model_dump(include=data.model_fields_set)
        if "regions" in changes:
            changes["regions"] = _unique(changes["regions"])
        merged = {**before.model_dump(), **changes}
        if merged == before.model_dump():
            return before  # nothing changes: no new version, no event
        row = await conn.fetchrow(
            """
            update incidents
               set title = $2, type = $3, severity = $4, regions = $5, started_at = $6,
                   description = $7, version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            incident_id,
            merged["title"],
            merged["type"],
            merged["severity"],
            merged["regions"],
            merged["started_at"],
            merged["description"],
        )
        after = _incident(row)
        await _emit(conn, "incident.updated", actor, after, before)
    return after


async def close(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID) -> Incident:
    """Close an open incident (incident.closed)."""
    return await _set_status(conn, actor, incident_id, IncidentStatus.closed, "incident.closed")


async def reopen(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID) -> Incident:
    """Reopen a closed incident (incident.reopened)."""
    return await _set_status(conn, actor, incident_id, IncidentStatus.open, "incident.reopened")


async def _set_status(
    conn: asyncpg.Connection, actor: Principal, incident_id: UUID, target: IncidentStatus, event_type: str
) -> Incident:
    async with db.atomic(conn):
        before = await _locked(conn, incident_id)
        if before.status == target:
            verb = "close" if target == IncidentStatus.closed else "reopen"
            raise InvalidState(f"cannot {verb} an incident that is {before.status}", state=before.status)
        row = await conn.fetchrow(
            """
            update incidents
               set status = $2,
                   closed_at = case when $2 = 'closed' then now() end,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            incident_id,
            target,
        )
        after = _incident(row)
        await _emit(conn, event_type, actor, after, before)
        if target == IncidentStatus.closed:
            # Closing an incident closes its open calls; pledges already made stay trackable.
            await calls.close_open_calls(conn, actor=actor, incident_id=incident_id)
    return after

