"""Offers: capacity an organization puts forward for an incident, unasked."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from models.calls import CallKind
from models.common import Page
from models.keys import Role
from models.offers import Offer, OfferCreate
from relief import counters, cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Forbidden

_SELECT = """
    select f.*, o.name as organization_name
      from offers f join organizations o on o.id = f.organization_id
"""


def _offer(row: asyncpg.Record) -> Offer:
    return Offer.model_validate(dict(row))


async def create(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: OfferCreate) -> Offer:
    """Offer capacity to an open incident (offer.created); approved organizations only."""
    if actor.role != Role.organization or actor.organization_id is None:
        raise Forbidden("offers are made with an organization's key")
    if actor.organization_status != "approved":
        raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations offer")
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        row = await conn.fetchrow(
            """
            with f as (
                insert into offers (incident_id, organization_id, kind, item, unit, skill, currency, quantity,
                                    region, available_from, available_until, note)
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                returning *
            )
            select f.*, o.name as organization_name from f join organizations o on o.id = f.organization_id
            """,
            incident_id,
            actor.organization_id,
            data.kind,
            data.item if data.kind == CallKind.goods else None,
            data.unit if data.kind == CallKind.goods else None,
            data.skill if data.kind == CallKind.personnel else None,
            (data.currency or "CNY") if data.kind == CallKind.money else None,
            data.quantity,
            data.region,
            data.available_from,
            data.available_until,
            data.note,
        )
        offer = _offer(row)
        await counters.join(conn, incident_id, offer.organization_id)
        await events.emit(
            conn,
            type="offer.created",
            actor=actor,
            entity_type="offer",
            entity_id=offer.id,
            incident_id=incident_id,
            organization_id=offer.organization_id,
            after=offer,
        )
    return offer


async def list_offers(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    kind: str | None = None,
    organization_id: UUID | None = None,
) -> Page[Offer]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {_SELECT}
         where f.incident_id = $3
           and ($1::timestamptz is null or (f.created_at, f.id) < ($1, $2::uuid))
           and ($4::text is null or f.kind = $4)
           and ($5::uuid is null or f.organization_id = $5)
         order by f.created_at desc, f.id desc
         limit $6
        """,
        *position,
        incident_id,
        kind,
        organization_id,
        limit + 1,
    )
    return cursors.page(rows, limit, Offer)
