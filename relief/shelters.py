"""Shelters: register them, edit them, close and reopen them, and keep their occupancy exact."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from models.common import Page
from models.shelters import Location, Shelter, ShelterCreate, ShelterStatus, ShelterUpdate
from relief import cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, Invalid, InvalidState, NotFound, StaleVersion


def to_model(row: asyncpg.Record | dict[str, Any]) -> Shelter:
    return Shelter(
        **{k: row[k] for k in (
            "id", "incident_id", "name", "address", "capacity", "occupancy", "status", "closed_at", "version",
            "created_at", "updated_at",
        )},
        location=Location(lat=row["lat"], lon=row["lon"]) if row["lat"] is not None else None,
        available=row["capacity"] - row["occupancy"],
    )


async def emit(
    conn: asyncpg.Connection, type: str, actor: Principal, after: Shelter, before: Shelter | None = None
) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="shelter",
        entity_id=after.id,
        incident_id=after.incident_id,
        before=before,
        after=after,
    )


async def create(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: ShelterCreate
) -> Shelter:
    """Open a shelter under an open incident (shelter.opened)."""
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        row = await conn.fetchrow(
            """
            insert into shelters (incident_id, name, address, capacity, lat, lon)
            values ($1, $2, $3, $4, $5, $6)
            returning *
            """,
            incident_id,
            data.name,
            data.address,
            data.capacity,
            data.location.lat if data.location else None,
            data.location.lon if data.location else None,
        )
        shelter = to_model(row)
        await emit(conn, "shelter.opened", actor, shelter)
    return shelter


async def get(conn: asyncpg.Connection, *, shelter_id: UUID) -> Shelter | None:
    row = await conn.fetchrow("select * from shelters where id = $1", shelter_id)
    return to_model(row) if row else None


async def list_shelters(
    conn: asyncpg.Connection, *, incident_id: UUID, limit: int, cursor: str | None = None, status: str | None = None
) -> Page[Shelter]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from shelters
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or status = $4)
         order by created_at desc, id desc
         limit $5
        """,
        *position,
        incident_id,
        status,
        limit + 1,
    )
    return cursors.page(rows, limit, Shelter, to_model)


async def locked(conn: asyncpg.Connection, shelter_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow("select * from shelters where id = $1 for update", shelter_id)
    if row is None:
        raise NotFound(f"shelter {shelter_id} does not exist")
    return row


def _near(occupancy: int, capacity: int) -> bool:
    return occupancy * 10 >= capacity * 9


async def announce(
    conn: asyncpg.Connection, actor: Principal, after: Shelter, *, occupancy: int, capacity: int
) -> None:
    """shelter.near_capacity (90 %) and shelter.full (100 %), each only when this change crosses it
    upward from `occupancy` of `capacity`: once per crossing, not on every check-in."""
    if _near(after.occupancy, after.capacity) and not _near(occupancy, capacity):
        await emit(conn, "shelter.near_capacity", actor, after)
    if after.occupancy >= after.capacity and occupancy < capacity:
        await emit(conn, "shelter.full", actor, after)


async def occupy(
    conn: asyncpg.Connection, *, incident_id: UUID, shelter_id: UUID, delta: int, pointer: str = "/shelter_id"
) -> tuple[int, Shelter]:
    """Move a shelter's occupancy by `delta` in the caller's transaction; returns (occupancy before,
    shelter after). The caller emits its own event, then announce() the thresholds crossed.

    One guarded update: the row lock serializes changes to the shelter and the condition is checked
    on the locked row, so no read-then-write race can let in more people than places.
    """
    row = await conn.fetchrow(
        """
        update shelters
           set occupancy = occupancy + $2,
               status = case when status = 'closed' then 'closed'
                             when occupancy + $2 >= capacity then 'full' else 'open' end,
               updated_at = now()
         where id = $1 and incident_id = $3
           and occupancy + $2 between 0 and capacity
           and ($2 < 0 or status <> 'closed')
        returning *, occupancy - $2 as previous_occupancy
        """,
        shelter_id,
        delta,
        incident_id,
    )
    if row is not None:
        return row["previous_occupancy"], to_model(row)
    current = await conn.fetchrow("select * from shelters where id = $1", shelter_id)
    if current is None or current["incident_id"] != incident_id:
        detail = f"shelter {shelter_id} is not a shelter of this incident"
        raise Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])
    shelter = to_model(current)
    if shelter.status == ShelterStatus.closed:
        raise InvalidState(f"shelter {shelter_id} is closed", state=shelter.status)
    raise InvalidState(
        f"shelter {shelter_id} holds {shelter.occupancy} of {shelter.capacity}: room for {shelter.available}, "
        f"not {delta}",
        state=shelter.status,
        occupancy=shelter.occupancy,
        capacity=shelter.capacity,
        available=shelter.available,
    )


async def update(
    conn: asyncpg.Connection, *, actor: Principal, shelter_id: UUID, version: IfMatch, data: ShelterUpdate
) -> Shelter:
    """Edit a shelter (If-Match); its capacity never below the people it holds now (409)."""
    async with db.atomic(conn):
        row = await locked(conn, shelter_id)
        before = to_model(row)
        StaleVersion.check(f"shelter {shelter_id}", current=before.version, expected=version)
        changes = data.model_dump(include=data.model_fields_set)
        capacity = changes.get("capacity", before.capacity)
        if capacity < before.occupancy:
            raise Conflict(
                f"shelter {shelter_id} holds {before.occupancy} people; its capacity cannot go below that",
                occupancy=before.occupancy,
            )
        merged = {"name": row["name"], "address": row["address"], "capacity": capacity,
                  "lat": row["lat"], "lon": row["lon"]}
        merged.update({k: changes[k] for k in ("name", "address") if k in changes})
        if "location" in changes:
            location = changes["location"] or {"lat": None, "lon": None}
            merged.update(lat=location["lat"], lon=location["lon"])
        if all(merged[k] == row[k] for k in merged):
            return before
        row = await conn.fetchrow(
            """
            update shelters
               set name = $2, address = $3, capacity = $4, lat = $5, lon = $6,
                   status = case when status = 'closed' then 'closed'
                                 when occupancy >= $4 then 'full' else 'open' end,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            shelter_id,
            merged["name"],
            merged["address"],
            capacity,
            merged["lat"],
            merged["lon"],
        )
        after = to_model(row)
        await emit(conn, "shelter.updated", actor, after, before)
        if after.status != ShelterStatus.closed:
            await announce(conn, actor, after, occupancy=before.occupancy, capacity=before.capacity)
    return after


async def transition(conn: asyncpg.Connection, *, actor: Principal, shelter_id: UUID, action: str) -> Shelter:
    """close (an empty open or full shelter) or reopen (a closed one, under an open incident)."""
    async with db.atomic(conn):
        row = await locked(conn, shelter_id)
        before = to_model(row)
        if action == "close":
            if before.status == ShelterStatus.closed:
                raise InvalidState(f"shelter {shelter_id} is already closed", state=before.status)
            if before.occupancy:
                raise InvalidState(
                    f"shelter {shelter_id} holds {before.occupancy} people; move or return them first",
                    state=before.status,
                    occupancy=before.occupancy,
                )
        else:
            if before.status != ShelterStatus.closed:
                raise InvalidState(f"shelter {shelter_id} is {before.status}, not closed", state=before.status)
            await incidents.require_open(conn, before.incident_id)
        row = await conn.fetchrow(
            """
            update shelters
               set status = $2, closed_at = case when $2 = 'closed' then now() end,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            shelter_id,
            ShelterStatus.closed if action == "close" else ShelterStatus.open,
        )
        after = to_model(row)
        await emit(conn, "shelter.closed" if action == "close" else "shelter.reopened", actor, after, before)
    return after


async def occupancy_differences(conn: asyncpg.Connection, incident_id: UUID) -> list[dict[str, Any]]:
    """Shelters of the incident whose stored occupancy differs from the rows it counts (for reconcile)."""
    rows = await conn.fetch(
        """
        select s.id, s.name, s.occupancy,
               (select count(*) from residents r where r.shelter_id = s.id and r.status = 'sheltered')
               + (select coalesce(sum(e.count), 0) from evacuations e
                   where e.shelter_id = s.id and e.placement = 'centralized') as expected
          from shelters s
         where s.incident_id = $1
         order by s.created_at, s.id
        """,
        incident_id,
    )
    return [
        {"shelter_id": r["id"], "name": r["name"], "stored": r["occupancy"], "expected": int(r["expected"])}
        for r in rows
        if r["occupancy"] != r["expected"]
    ]
