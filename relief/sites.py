"""Sites: where goods are held (warehouses, collection and distribution points). A shelter holds stock too."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import asyncpg

from models.common import Page
from models.shelters import Location
from models.sites import Manager, Site, SiteCreate, SiteUpdate
from relief import cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, Invalid, NotFound, StaleVersion


def to_model(row: asyncpg.Record | dict[str, Any]) -> Site:
    return Site(
        **{k: row[k] for k in (
            "id", "incident_id", "kind", "name", "address", "intake", "version", "created_at", "updated_at",
        )},
        location=Location(lat=row["lat"], lon=row["lon"]) if row["lat"] is not None else None,
        manager=Manager(name=row["manager_name"], phone=row["manager_phone"]) if row["manager_name"] else None,
    )


async def emit(conn: asyncpg.Connection, type: str, actor: Principal, after: Site, before: Site | None = None) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="site",
        entity_id=after.id,
        incident_id=after.incident_id,
        before=before,
        after=after,
    )


def _taken(name: str) -> Conflict:
    return Conflict(f"this incident already has a site named {name!r}", name=name)


async def create(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: SiteCreate) -> Site:
    """Open a site under an open incident (site.opened); names are unique within the incident (409)."""
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        row = await conn.fetchrow(
            """
            insert into sites (incident_id, kind, name, address, lat, lon, manager_name, manager_phone)
            values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (incident_id, name) do nothing
            returning *
            """,
            incident_id,
            data.kind,
            data.name,
            data.address,
            data.location.lat if data.location else None,
            data.location.lon if data.location else None,
            data.manager.name if data.manager else None,
            data.manager.phone if data.manager else None,
        )
        if row is None:
            raise _taken(data.name)
        site = to_model(row)
        await emit(conn, "site.opened", actor, site)
    return site


async def get(conn: asyncpg.Connection, *, site_id: UUID) -> Site | None:
    row = await conn.fetchrow("select * from sites where id = $1", site_id)
    return to_model(row) if row else None


async def list_sites(
    conn: asyncpg.Connection, *, incident_id: UUID, limit: int, cursor: str | None = None, kind: str | None = None
) -> Page[Site]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from sites
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or kind = $4)
         order by created_at desc, id desc
         limit $5
        """,
        *position,
        incident_id,
        kind,
        limit + 1,
    )
    return cursors.page(rows, limit, Site, to_model)


async def update(
    conn: asyncpg.Connection, *, actor: Principal, site_id: UUID, version: IfMatch, data: SiteUpdate
) -> Site:
    """Edit a site (If-Match; site.updated). Nothing changed: no new version, no event."""
    async with db.atomic(conn):
        # No key update: movements naming the site (a foreign key) need not wait for the edit.
        row = await conn.fetchrow("select * from sites where id = $1 for no key update", site_id)
        if row is None:
            raise NotFound(f"site {site_id} does not exist")
        before = to_model(row)
        StaleVersion.check(f"site {site_id}", current=before.version, expected=version)
        changes = data.model_dump(include=data.model_fields_set)
        merged = {k: row[k] for k in ("kind", "name", "address", "lat", "lon", "manager_name", "manager_phone")}
        merged.update({k: changes[k] for k in ("kind", "name", "address") if k in changes})
        if "location" in changes:
            location = changes["location"] or {"lat": None, "lon": None}
            merged.update(lat=location["lat"], lon=location["lon"])
        if "manager" in changes:
            manager = changes["manager"] or {"name": None, "phone": None}
            merged.update(manager_name=manager["name"], manager_phone=manager["phone"])
        if all(merged[k] == row[k] for k in merged):
            return before
        try:
            row = await conn.fetchrow(
                """
                update sites
                   set kind = $2, name = $3, address = $4, lat = $5, lon = $6, manager_name = $7,
                       manager_phone = $8, version = version + 1, updated_at = now()
                 where id = $1
                returning *
                """,
                site_id,
                *merged.values(),
            )
        except asyncpg.UniqueViolationError:
            raise _taken(merged["name"]) from None
        after = to_model(row)
        await emit(conn, "site.updated", actor, after, before)
    return after


async def intake(conn: asyncpg.Connection, incident_id: UUID) -> UUID:
    """The incident's intake site, created on first use: where goods received at no named location land."""
    site_id = await conn.fetchval("select id from sites where incident_id = $1 and intake", incident_id)
    # Two first receipts at once: one insert wins, the other finds it. A dispatcher's own site may
    # already bear the usual name: then the intake site gets a suffixed one.
    for name in ("接收点 Intake", "接收点 Intake (auto)", f"接收点 Intake {uuid4().hex[:8]}"):
        if site_id is not None:
            break
        site_id = await conn.fetchval(
            """
            insert into sites (incident_id, kind, name, intake) values ($1, 'collection_point', $2, true)
            on conflict do nothing returning id
            """,
            incident_id,
            name,
        ) or await conn.fetchval("select id from sites where incident_id = $1 and intake", incident_id)
    return site_id


async def incident_of(conn: asyncpg.Connection, *, site_id: UUID | None, shelter_id: UUID | None) -> UUID | None:
    """The incident a site or a shelter belongs to (None: there is no such location)."""
    if site_id is not None:
        return await conn.fetchval("select incident_id from sites where id = $1", site_id)
    return await conn.fetchval("select incident_id from shelters where id = $1", shelter_id)


async def locate(
    conn: asyncpg.Connection, *, incident_id: UUID, site_id: UUID | None, shelter_id: UUID | None, pointer: str = ""
) -> tuple[UUID | None, UUID | None]:
    """Check that a location named in a body (a site or a shelter) belongs to the incident: 422 at `pointer`."""
    if (site_id is None) == (shelter_id is None):
        detail = 'name exactly one of {"site_id": …} or {"shelter_id": …}'
        raise Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])
    if await incident_of(conn, site_id=site_id, shelter_id=shelter_id) != incident_id:
        name, value = ("site", site_id) if site_id is not None else ("shelter", shelter_id)
        detail = f"no {name} {value} in this incident"
        raise Invalid(detail, errors=[{"pointer": f"{pointer}/{name}_id", "detail": detail}])
    return site_id, shelter_id
