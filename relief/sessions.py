"""Console sessions: an API key pasted once becomes an HttpOnly cookie for the browser."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from models.keys import Role
from relief.auth import Principal


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value: never stored, only its hash
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class Signed:
    principal: Principal
    csrf_token: str
    expires_at: datetime


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def open_session(conn: asyncpg.Connection, *, key_id: object, lifetime: timedelta) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = await conn.fetchval(
        """
        insert into console_sessions (token_hash, key_id, csrf_token, expires_at)
        values ($1, $2, $3, now() + $4::interval)
        returning expires_at
        """,
        _hash(token), key_id, csrf, lifetime,
    )
    return Session(token, csrf, expires_at)


async def purge(conn: asyncpg.Connection) -> int:
    """Delete expired sessions (they are refused anyway; this keeps the table small)."""
    result = await conn.execute("delete from console_sessions where expires_at < now()")
    return int(result.split()[-1])


async def resolve(conn: asyncpg.Connection, token: str) -> Signed | None:
    """The principal behind a live session cookie: unexpired, and its key not revoked."""
    if not token or len(token) > 100:
        return None
    row = await conn.fetchrow(
        """
        select s.csrf_token, s.expires_at, k.id, k.role, k.organization_id, k.name, o.status as organization_status
          from console_sessions s
          join api_keys k on k.id = s.key_id and k.revoked_at is null
          left join organizations o on o.id = k.organization_id
         where s.token_hash = $1 and s.expires_at > now()
        """,
        _hash(token),
    )
    if row is None:
        return None
    principal = Principal(
        role=Role(row["role"]), key_id=row["id"], organization_id=row["organization_id"],
        organization_status=row["organization_status"], name=row["name"],
    )
    return Signed(principal, row["csrf_token"], row["expires_at"])


async def close_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("delete from console_sessions where token_hash = $1", _hash(token))
