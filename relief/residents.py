"""Residents evacuated one by one (register, check in, move, return) and aggregate evacuations.

A resident's ID number never reaches the database: only an HMAC under the service's secret (to find
the same person registered twice) and its last 4 characters. Phones are stored, and shown masked.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.common import Page
from models.residents import (
    Evacuation,
    EvacuationCreate,
    Placement,
    Resident,
    ResidentCreate,
    ResidentStatus,
)
from relief import counters, cursors, db, events, incidents, shelters
from relief.auth import Principal
from relief.errors import Invalid, InvalidState, NotFound
from relief.masking import mask_phone

Counters = dict[tuple[str, str], Decimal]


def id_hash(secret: bytes, id_number: str) -> bytes:
    """The keyed hash an ID number is stored as: without the key, it cannot be guessed back."""
    return hmac.new(secret, id_number.strip().upper().encode(), hashlib.sha256).digest()


def to_model(row: asyncpg.Record | dict[str, Any]) -> Resident:
    """A resident as staff see them: the ID number as ****1234, the phone as 139****5678."""
    return Resident(
        **{k: row[k] for k in (
            "id", "incident_id", "name", "id_type", "household_id", "household_size", "origin_region",
            "origin_address", "vulnerabilities", "assisted_by", "status", "shelter_id", "sheltered_at",
            "returned_at", "version", "created_at", "updated_at",
        )},
        id_number_masked="****" + row["id_last4"],
        phone=mask_phone(row["phone"]) if row["phone"] else None,
    )


async def emit(
    conn: asyncpg.Connection, type: str, actor: Principal, after: Resident, before: Resident | None = None
) -> None:
    # No organization_id: a resident's details are never an organization's to receive (invariant 7),
    # even the organization that helped move them.
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="resident",
        entity_id=after.id,
        incident_id=after.incident_id,
        before=before,
        after=after,
    )


async def _check_organization(conn: asyncpg.Connection, organization_id: UUID | None) -> None:
    if organization_id is not None and not await conn.fetchval(
        "select 1 from organizations where id = $1", organization_id
    ):
        detail = f"organization {organization_id} does not exist"
        raise Invalid(detail, errors=[{"pointer": "/assisted_by", "detail": detail}])


async def register(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: ResidentCreate, secret: bytes
) -> tuple[Resident, bool]:
    """Register an evacuated resident (resident.registered); returns (resident, duplicate).

    The same ID number in the same incident is the same person: the existing resident comes back
    with duplicate=True, and nothing is written or counted again.
    """
    digest = id_hash(secret, data.id_number)
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        await _check_organization(conn, data.assisted_by)
        # A concurrent registration of the same person waits here on the first one's row, then finds it.
        row = await conn.fetchrow(
            """
            insert into residents (incident_id, name, id_type, id_hash, id_last4, phone, household_id,
                                   household_size, origin_region, origin_address, vulnerabilities, assisted_by)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            on conflict (incident_id, id_hash) do nothing
            returning *
            """,
            incident_id,
            data.name,
            data.id_type,
            digest,
            data.id_number[-4:],
            data.phone,
            data.household_id,
            data.household_size,
            data.origin_region,
            data.origin_address,
            [str(v) for v in data.vulnerabilities],
            data.assisted_by,
        )
        if row is None:
            existing = await conn.fetchrow(
                "select * from residents where incident_id = $1 and id_hash = $2", incident_id, digest
            )
            return to_model(existing), True
        resident = to_model(row)
        await emit(conn, "resident.registered", actor, resident)
        await counters.bump(conn, incident_id, {("evacuated", "individual"): 1})
        await counters.join(conn, incident_id, data.assisted_by)
    return resident, False


async def get(conn: asyncpg.Connection, *, resident_id: UUID) -> Resident | None:
    row = await conn.fetchrow("select * from residents where id = $1", resident_id)
    return to_model(row) if row else None


async def list_residents(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    q: str | None = None,
    search_names: bool = False,
    status: str | None = None,
    shelter_id: UUID | None = None,
) -> Page[Resident]:
    """Newest first; `q` matches the ID's last 4 characters, and names only when `search_names`."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from residents
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or id_last4 = upper($4) or ($5 and strpos(lower(name), lower($4)) > 0))
           and ($6::text is null or status = $6)
           and ($7::uuid is null or shelter_id = $7)
         order by created_at desc, id desc
         limit $8
        """,
        *position,
        incident_id,
        q,
        search_names,
        status,
        shelter_id,
        limit + 1,
    )
    return cursors.page(rows, limit, Resident, to_model)


async def _locked(conn: asyncpg.Connection, resident_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow("select * from residents where id = $1 for update", resident_id)
    if row is None:
        raise NotFound(f"resident {resident_id} does not exist")
    return row


async def _set_place(conn: asyncpg.Connection, resident_id: UUID, status: str, shelter_id: UUID | None) -> Resident:
    row = await conn.fetchrow(
        """
        update residents
           set status = $2, shelter_id = $3,
               sheltered_at = case when $2 = 'sheltered' then coalesce(sheltered_at, now()) else sheltered_at end,
               returned_at = case when $2 = 'returned' then now() end,
               version = version + 1, updated_at = now()
         where id = $1
        returning *
        """,
        resident_id,
        status,
        shelter_id,
    )
    return to_model(row)


def _refuse(action: str, resident: Resident) -> InvalidState:
    return InvalidState(f"cannot {action} a resident who is {resident.status}", state=resident.status)


async def checkin(conn: asyncpg.Connection, *, actor: Principal, resident_id: UUID, shelter_id: UUID) -> Resident:
    """Check a registered resident into a shelter (resident.sheltered); a full or closed one is a 409."""
    async with db.atomic(conn):
        row = await _locked(conn, resident_id)
        before = to_model(row)
        if before.status != ResidentStatus.registered:
            raise _refuse("check in", before)
        occupancy, shelter = await shelters.occupy(
            conn, incident_id=before.incident_id, shelter_id=shelter_id, delta=1
        )
        after = await _set_place(conn, resident_id, ResidentStatus.sheltered, shelter_id)
        await emit(conn, "resident.sheltered", actor, after, before)
        await shelters.announce(conn, actor, shelter, occupancy=occupancy, capacity=shelter.capacity)
        await counters.bump(conn, before.incident_id, {("placement", "centralized"): 1, ("sheltered", ""): 1})
    return after


async def move(conn: asyncpg.Connection, *, actor: Principal, resident_id: UUID, shelter_id: UUID) -> Resident:
    """Move a sheltered resident to another shelter (resident.moved); both occupancies move together."""
    async with db.atomic(conn):
        row = await _locked(conn, resident_id)
        before = to_model(row)
        if before.status != ResidentStatus.sheltered or before.shelter_id is None:
            raise _refuse("move", before)
        if shelter_id == before.shelter_id:
            detail = "the resident is already in this shelter"
            raise Invalid(detail, errors=[{"pointer": "/shelter_id", "detail": detail}])
        # Both shelters locked in id order, so two opposite moves cannot deadlock.
        await conn.execute(
            "select 1 from shelters where id = any($1::uuid[]) order by id for update",
            sorted([before.shelter_id, shelter_id]),
        )
        occupancy, target = await shelters.occupy(
            conn, incident_id=before.incident_id, shelter_id=shelter_id, delta=1
        )
        await shelters.occupy(conn, incident_id=before.incident_id, shelter_id=before.shelter_id, delta=-1)
        after = await _set_place(conn, resident_id, ResidentStatus.sheltered, shelter_id)
        await emit(conn, "resident.moved", actor, after, before)
        await shelters.announce(conn, actor, target, occupancy=occupancy, capacity=target.capacity)
    return after


async def return_home(conn: asyncpg.Connection, *, actor: Principal, resident_id: UUID) -> Resident:
    """A resident goes home (resident.returned), freeing their place in a shelter."""
    async with db.atomic(conn):
        row = await _locked(conn, resident_id)
        before = to_model(row)
        if before.status == ResidentStatus.returned:
            raise _refuse("return", before)
        bumps: counters.Bumps = {("returned", ""): 1}
        if before.shelter_id is not None:
            await shelters.occupy(conn, incident_id=before.incident_id, shelter_id=before.shelter_id, delta=-1)
            bumps[("sheltered", "")] = -1
        after = await _set_place(conn, resident_id, ResidentStatus.returned, None)
        await emit(conn, "resident.returned", actor, after, before)
        await counters.bump(conn, before.incident_id, bumps)
    return after


async def record_evacuation(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: EvacuationCreate
) -> Evacuation:
    """Record a head count evacuated (evacuation.recorded); centralized ones fill their shelter."""
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        await _check_organization(conn, data.assisted_by)
        moved = None
        if data.placement == Placement.centralized:
            if data.shelter_id is None:  # the model requires it; a plain check survives python -O
                raise TypeError("a centralized evacuation needs a shelter")
            moved = await shelters.occupy(conn, incident_id=incident_id, shelter_id=data.shelter_id, delta=data.count)
        row = await conn.fetchrow(
            """
            insert into evacuations (incident_id, count, from_region, placement, shelter_id, assisted_by,
                                     occurred_at, note, recorded_by)
            values ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8, $9)
            returning *
            """,
            incident_id,
            data.count,
            data.from_region,
            data.placement,
            data.shelter_id,
            data.assisted_by,
            data.occurred_at,
            data.note,
            actor.key_id,
        )
        evacuation = Evacuation.model_validate(dict(row))
        await events.emit(
            conn, type="evacuation.recorded", actor=actor, entity_type="evacuation", entity_id=evacuation.id,
            incident_id=incident_id, after=evacuation,
        )
        bumps: counters.Bumps = {("evacuated", "aggregate"): data.count, ("placement", data.placement): data.count}
        if moved is not None:
            occupancy, shelter = moved
            await shelters.announce(conn, actor, shelter, occupancy=occupancy, capacity=shelter.capacity)
            bumps[("sheltered", "")] = data.count
        await counters.bump(conn, incident_id, bumps)
        await counters.join(conn, incident_id, data.assisted_by)
    return evacuation


async def list_evacuations(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    placement: str | None = None,
    shelter_id: UUID | None = None,
) -> Page[Evacuation]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from evacuations
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or placement = $4)
           and ($5::uuid is null or shelter_id = $5)
         order by created_at desc, id desc
         limit $6
        """,
        *position,
        incident_id,
        placement,
        shelter_id,
        limit + 1,
    )
    return cursors.page(rows, limit, Evacuation)


async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> Counters:
    """The counters this area moves, recomputed from the rows (for `relief reconcile`).

    Every key is present, zeros included; a counter row that was never written reads as 0.
    The participants counter is shared with other areas and is not recomputed here.
    """
    row = await conn.fetchrow(
        """
        select (select count(*) from residents where incident_id = $1) as individual,
               (select count(*) from residents where incident_id = $1 and sheltered_at is not null) as checked_in,
               (select count(*) from residents where incident_id = $1 and status = 'sheltered') as sheltered,
               (select count(*) from residents where incident_id = $1 and status = 'returned') as returned,
               coalesce(sum(count), 0) as aggregate,
               coalesce(sum(count) filter (where placement = 'centralized'), 0) as centralized,
               coalesce(sum(count) filter (where placement = 'dispersed'), 0) as dispersed
          from evacuations where incident_id = $1
        """,
        incident_id,
    )
    return {
        ("evacuated", "individual"): Decimal(row["individual"]),
        ("evacuated", "aggregate"): Decimal(row["aggregate"]),
        ("placement", "centralized"): Decimal(row["checked_in"] + row["centralized"]),
        ("placement", "dispersed"): Decimal(row["dispersed"]),
        ("sheltered", ""): Decimal(row["sheltered"] + row["centralized"]),
        ("returned", ""): Decimal(row["returned"]),
    }
