"""Per-incident counters: moved in the transaction of the rows they count, read by the summary."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg

Bumps = dict[tuple[str, str], Decimal | int]
"""(counter name, key) → how much it moves; the key is '' for a plain total."""


async def bump(conn: asyncpg.Connection, incident_id: UUID, changes: Bumps) -> None:
    """Move several counters of one incident in one statement (upserts, so new keys start at 0)."""
    changes = {k: v for k, v in changes.items() if v}
    if not changes:
        return
    # Sorted, so two transactions touching the same counters lock them in the same order.
    keys = sorted(changes)
    await conn.execute(
        """
        insert into incident_counters (incident_id, name, key, value)
        select $1, name, key, value from unnest($2::text[], $3::text[], $4::numeric[]) as u(name, key, value)
        on conflict (incident_id, name, key) do update set value = incident_counters.value + excluded.value
        """,
        incident_id,
        [name for name, _ in keys],
        [key for _, key in keys],
        [Decimal(changes[k]) for k in keys],
    )


async def join(conn: asyncpg.Connection, incident_id: UUID, organization_id: UUID | None) -> None:
    """Count an organization among an incident's participants, once."""
    if organization_id is None:
        return
    joined = await conn.fetchval(
        """
        insert into incident_participants (incident_id, organization_id) values ($1, $2)
        on conflict do nothing returning true
        """,
        incident_id,
        organization_id,
    )
    if joined:
        await bump(conn, incident_id, {("participants", ""): 1})


async def read(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    rows = await conn.fetch("select name, key, value from incident_counters where incident_id = $1", incident_id)
    return {(r["name"], r["key"]): r["value"] for r in rows}
