"""The body of every delivery: the event envelope of DESIGN.md, the same for every subscriber."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import asyncpg

from relief import masking
from relief.db import dumps

# Nobody outside gets a resident's details through a webhook (invariant 10): resident events carry
# only what a head count needs. A whitelist, so a field added to residents later stays inside.
_RESIDENT_FIELDS = (
    "id", "incident_id", "status", "shelter_id", "household_size", "origin_region", "origin_region_name", "assisted_by",
    "sheltered_at", "returned_at", "version", "created_at", "updated_at",
)


def data_of(row: asyncpg.Record | dict[str, Any], audience: masking.Audience = masking.OUTSIDE) -> Any:
    data = row["after"] if row["after"] is not None else row["before"]
    if row["entity_type"] == "resident" and isinstance(data, dict):
        data = {k: data[k] for k in _RESIDENT_FIELDS if k in data}
    return masking.shown(row["entity_type"], data, audience)


def document(
    row: asyncpg.Record | dict[str, Any], audience: masking.Audience = masking.OUTSIDE
) -> dict[str, Any]:
    """{"id", "type", "timestamp", "incident_id", "data"}: what webhooks and streams send of an event,
    masked for `audience` by the one rule (relief/masking.py)."""
    return {
        "id": row["id"],
        "type": row["type"],
        "timestamp": row["created_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "incident_id": str(row["incident_id"]) if row["incident_id"] else None,
        "data": data_of(row, audience),
    }


def render(row: asyncpg.Record | dict[str, Any], *, bureau: bool = False) -> str:
    """The envelope as compact JSON: a delivery's body, signed as these bytes.

    A delivery leaves the building, so it is masked for the outside whoever subscribed: no full phone
    of a lead or a contact (those who may read one get it from the API). The bureau's own
    subscriptions differ in one way only: its documents come whole (a situation report, where
    organizations get its public version)."""
    return dumps(document(row, masking.BUREAU_OUTSIDE if bureau else masking.OUTSIDE))


async def load(conn: asyncpg.Connection, event_ids: list[int], *, bureau: bool = False) -> dict[int, str]:
    rows = await conn.fetch(
        "select id, type, entity_type, incident_id, before, after, created_at from events where id = any($1::bigint[])",
        event_ids,
    )
    return {r["id"]: render(r, bureau=bureau) for r in rows}
