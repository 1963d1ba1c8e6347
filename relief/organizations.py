"""Organizations: register, update, approve and suspend the social organizations that pledge."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from models.codes import region_prefix
from models.common import Page, dump
from models.organizations import (
    Organization,
    OrganizationCreate,
    OrganizationStatus,
    OrganizationUpdate,
)
from relief import cursors, db, events
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, InvalidState, NotFound, StaleVersion


def _organization(row: asyncpg.Record) -> Organization:
    return Organization.model_validate(dict(row))


async def _emit(
    conn: asyncpg.Connection,
    type: str,
    actor: Principal,
    after: Organization,
    before: Organization | None = None,
) -> None:
    await events.emit(
        conn,
        type=type,
        actor=actor,
        entity_type="organization",
        entity_id=after.id,
        organization_id=after.id,
        before=before,
        after=after,
    )


def _duplicate(code: str) -> Conflict:
    return Conflict(f"an organization with credit code {code} is already registered", credit_code=code)


async def create(conn: asyncpg.Connection, *, actor: Principal, data: OrganizationCreate) -> Organization:
    """Register an organization (status pending) and emit organization.created."""
    async with db.atomic(conn):  # passes the write fence (relief/sitreps.py)
        try:
            row = await conn.fetchrow(
                """
                insert into organizations (name, credit_code, kind, region, contact, capabilities, language)
                values ($1, $2, $3, $4, $5, $6, $7)
                returning *
                """,
                data.name,
                data.credit_code,
                data.kind,
                data.region,
                dump(data.contact),
                dump(data.capabilities),
                data.language,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _duplicate(data.credit_code) from exc
        organization = _organization(row)
        await _emit(conn, "organization.created", actor, organization)
    return organization


async def get(conn: asyncpg.Connection, *, organization_id: UUID) -> Organization | None:
    row = await conn.fetchrow("select * from organizations where id = $1", organization_id)
    return _organization(row) if row else None


async def list_organizations(
    conn: asyncpg.Connection,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    only_id: UUID | None = None,
) -> Page[Organization]:
    """Newest first; `region` matches a whole province or city by its code or prefix (320000 or 32, 3205)."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    region_like = region_prefix(region) + "%" if region else None
    rows = await conn.fetch(
        """
        select * from organizations
         where ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($3::text is null or status = $3)
           and ($4::text is null or kind = $4)
           and ($5::text is null or region like $5)
           and ($6::uuid is null or id = $6)
         order by created_at desc, id desc
         limit $7
        """,
        *position,
        status,
        kind,
        region_like,
        only_id,
        limit + 1,
    )
    return cursors.page(rows, limit, Organization)


async def _locked(conn: asyncpg.Connection, organization_id: UUID) -> Organization:
    row = await conn.fetchrow("select * from organizations where id = $1 for update", organization_id)
    if row is None:
        raise NotFound(f"organization {organization_id} does not exist")
    return _organization(row)


async def update(
    conn: asyncpg.Connection,
    *,
    actor: Principal,
    organization_id: UUID,
    version: IfMatch,
    data: OrganizationUpdate,
) -> Organization:
    """Change the fields given; `version` must be the current one (optimistic concurrency)."""
    async with db.atomic(conn):
        before = await _locked(conn, organization_id)
        StaleVersion.check(f"organization {organization_id}", current=before.version, expected=version)
        # Only the top-level fields the client sent; nested values whole (exclude_unset would also
        # drop unset members inside `contact`, turning a no-op into a change).
        changes: dict[str, Any] = data.model_dump(mode="json", include=data.model_fields_set)
        merged = {**dump(before), **changes}
        if merged == dump(before):
            return before  # nothing changes: no new version, no event
        try:
            row = await conn.fetchrow(
                """
                update organizations
                   set name = $2, credit_code = $3, kind = $4, region = $5, contact = $6,
                       capabilities = $7, language = $8, version = version + 1, updated_at = now()
                 where id = $1
                returning *
                """,
                organization_id,
                merged["name"],
                merged["credit_code"],
                merged["kind"],
                merged["region"],
                merged["contact"],
                merged["capabilities"],
                merged["language"],
            )
        except asyncpg.UniqueViolationError as exc:
            raise _duplicate(merged["credit_code"]) from exc
        after = _organization(row)
        await _emit(conn, "organization.updated", actor, after, before)
    return after


# Which statuses each action may start from, and where it leads.
_TRANSITIONS = {
    "approve": (
        {OrganizationStatus.pending, OrganizationStatus.suspended},
        OrganizationStatus.approved,
        "organization.approved",
    ),
    "suspend": (
        {OrganizationStatus.approved},
        OrganizationStatus.suspended,
        "organization.suspended",
    ),
}


async def transition(
    conn: asyncpg.Connection, *, actor: Principal, organization_id: UUID, action: str
) -> Organization:
    """approve (pending/suspended → approved) or suspend (approved → suspended)."""
    allowed_from, target, event_type = _TRANSITIONS[action]
    async with db.atomic(conn):
        before = await _locked(conn, organization_id)
        if before.status not in allowed_from:
            raise InvalidState(
                f"cannot {action} an organization that is {before.status}", state=before.status
            )
        row = await conn.fetchrow(
            """
            update organizations set status = $2, version = version + 1, updated_at = now()
             where id = $1 returning *
            """,
            organization_id,
            target,
        )
        after = _organization(row)
        await _emit(conn, event_type, actor, after, before)
    return after
