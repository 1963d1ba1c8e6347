"""API keys: issue (shown once), list, change (language, notify_email) and revoke."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from models.common import Page
from models.keys import Key, KeyCreated, KeyUpdate, Role
from models.organizations import Language
from relief import cursors, db, events
from relief.auth import Principal, display_prefix, hash_key, new_key
from relief.errors import Invalid, InvalidState, NotFound

_COLUMNS = "id, name, role, organization_id, prefix, language, notify_email, created_at, last_used_at, revoked_at"


def _key(row: asyncpg.Record) -> Key:
    return Key.model_validate(dict(row))


def _check_notify_email(organization_id: UUID | None, notify_email: str | None) -> None:
    """The bureau's notices go to its staff; an organization is written to at its contact's email."""
    if notify_email is not None and organization_id is not None:
        detail = "only bureau staff keys (admin, dispatcher, viewer) take a notify_email"
        raise Invalid(
            f"{detail}; an organization is written to at its contact's email",
            errors=[{"pointer": "/notify_email", "detail": detail}],
        )


async def create(
    conn: asyncpg.Connection,
    *,
    actor: Principal,
    name: str,
    role: Role,
    organization_id: UUID | None = None,
    language: Language = Language.zh,
    notify_email: str | None = None,
) -> KeyCreated:
    """Issue a key; only its hash is stored, so the returned secret cannot be shown again."""
    if (role == Role.organization) != (organization_id is not None):
        raise Invalid(
            "organization keys name their organization; other roles do not",
            errors=[{"pointer": "/organization_id", "detail": "required exactly when role is organization"}],
        )
    _check_notify_email(organization_id, notify_email)
    secret = new_key()
    async with db.atomic(conn):  # passes the write fence (relief/sitreps.py)
        if organization_id is not None:
            exists = await conn.fetchval("select 1 from organizations where id = $1", organization_id)
            if not exists:
                raise NotFound(f"organization {organization_id} does not exist")
        row = await conn.fetchrow(
            f"""
            insert into api_keys (name, role, organization_id, hash, prefix, language, notify_email)
            values ($1, $2, $3, $4, $5, $6, $7)
            returning {_COLUMNS}
            """,
            name,
            role,
            organization_id,
            hash_key(secret),
            display_prefix(secret),
            language,
            notify_email,
        )
        key = _key(row)
        await events.emit(
            conn,
            type="key.created",
            actor=actor,
            entity_type="key",
            entity_id=key.id,
            organization_id=organization_id,
            after=key,
        )
    return KeyCreated(**key.model_dump(), key=secret)


async def get(conn: asyncpg.Connection, *, key_id: UUID) -> Key | None:
    row = await conn.fetchrow(f"select {_COLUMNS} from api_keys where id = $1", key_id)
    return _key(row) if row else None


async def list_keys(
    conn: asyncpg.Connection,
    *,
    limit: int,
    cursor: str | None = None,
    organization_id: UUID | None = None,
    role: Role | None = None,
    include_revoked: bool = False,
) -> Page[Key]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from api_keys
         where ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($3::uuid is null or organization_id = $3)
           and ($4::text is null or role = $4)
           and ($5 or revoked_at is null)
         order by created_at desc, id desc
         limit $6
        """,
        *position,
        organization_id,
        role,
        include_revoked,
        limit + 1,
    )
    return cursors.page(rows, limit, Key)


async def update(conn: asyncpg.Connection, *, actor: Principal, key_id: UUID, data: KeyUpdate) -> Key:
    """Change a live key's language or notify_email (null clears it); a revoked key changes no more."""
    async with db.atomic(conn):
        row = await conn.fetchrow(f"select {_COLUMNS} from api_keys where id = $1 for update", key_id)
        if row is None:
            raise NotFound(f"key {key_id} does not exist")
        before = _key(row)
        if before.revoked_at is not None:
            raise InvalidState(f"key {key_id} is revoked; a revoked key changes no more", state="revoked")
        merged = {**before.model_dump(), **data.model_dump(include=data.model_fields_set)}
        _check_notify_email(before.organization_id, merged["notify_email"])
        if (merged["language"], merged["notify_email"]) == (before.language, before.notify_email):
            return before  # nothing changes
        row = await conn.fetchrow(
            f"update api_keys set language = $2, notify_email = $3 where id = $1 returning {_COLUMNS}",
            key_id,
            merged["language"],
            merged["notify_email"],
        )
        after = _key(row)
        await _emit(conn, "key.updated", actor, before, after)
    return after


async def _emit(conn: asyncpg.Connection, type_: str, actor: Principal, before: Key, after: Key) -> None:
    await events.emit(conn, type=type_, actor=actor, entity_type="key", entity_id=after.id,
                      organization_id=after.organization_id, before=before, after=after)


async def revoke(conn: asyncpg.Connection, *, actor: Principal, key_id: UUID) -> Key:
    """Revoke a key at once; revoking a revoked key changes nothing and emits nothing."""
    async with db.atomic(conn):
        row = await conn.fetchrow(f"select {_COLUMNS} from api_keys where id = $1 for update", key_id)
        if row is None:
            raise NotFound(f"key {key_id} does not exist")
        before = _key(row)
        if before.revoked_at is not None:
            return before
        row = await conn.fetchrow(
            f"update api_keys set revoked_at = now() where id = $1 returning {_COLUMNS}", key_id
        )
        after = _key(row)
        await _emit(conn, "key.revoked", actor, before, after)
    return after
