"""API keys and principals: who is calling, and what their role lets them do."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from models.common import Actor
from models.keys import Role
from relief.errors import Forbidden

KEY_PREFIX = "rk_"
# last_used_at is refreshed at most this often per key, so a busy key costs no write per request.
LAST_USED_RESOLUTION_SECONDS = 60

# admin ⊇ dispatcher ⊇ viewer; organization stands apart, scoped to its own organization.
_RANK = {Role.viewer: 1, Role.dispatcher: 2, Role.admin: 3}


@dataclass(frozen=True)
class Principal:
    """The caller, as its key says."""

    role: Role
    key_id: UUID | None = None
    organization_id: UUID | None = None
    organization_status: str | None = None
    name: str = ""

    @property
    def is_staff(self) -> bool:
        """The bureau's own roles (viewer, dispatcher, admin), which read every incident's data."""
        return self.role in _RANK

    def at_least(self, role: Role) -> bool:
        return self.role in _RANK and _RANK[self.role] >= _RANK[role]

    def require(self, role: Role) -> None:
        """Raise Forbidden unless the caller's role is `role` or above it."""
        if not self.at_least(role):
            raise Forbidden(f"this action needs the {role} role; your key has the {self.role} role")

    def owns(self, organization_id: UUID | None) -> bool:
        return self.role == Role.organization and organization_id == self.organization_id

    def actor(self) -> Actor:
        return Actor(
            key_id=str(self.key_id) if self.key_id else None,
            role=str(self.role),
            organization_id=str(self.organization_id) if self.organization_id else None,
        )


SYSTEM = Principal(role=Role.admin, name="system")
"""The actor of changes made from the command line."""


def new_key() -> str:
    """A fresh API key: rk_ followed by 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


async def authenticate(conn: asyncpg.Connection, key: str) -> Principal | None:
    """The principal of a live key, or None for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = await conn.fetchrow(
        """
        select k.id, k.role, k.organization_id, k.name, o.status as organization_status,
               (k.last_used_at is null
                or k.last_used_at < now() - make_interval(secs => $2)) as stale
          from api_keys k
          left join organizations o on o.id = k.organization_id
         where k.hash = $1 and k.revoked_at is null
        """,
        hash_key(key),
        LAST_USED_RESOLUTION_SECONDS,
    )
    if row is None:
        return None
    if row["stale"]:
        # At most one small write per key per minute, not one per request.
        await conn.execute("update api_keys set last_used_at = now() where id = $1", row["id"])
    return Principal(
        role=Role(row["role"]),
        key_id=row["id"],
        organization_id=row["organization_id"],
        organization_status=row["organization_status"],
        name=row["name"],
    )


__all__ = ["SYSTEM", "Forbidden", "Principal", "authenticate", "hash_key", "new_key"]
