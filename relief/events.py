"""The event log: every state change writes one row here, in the change's own transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from models.common import Page, dump
from models.events import EntityRef, Event, EventActor
from relief import cursors, masking
from relief.auth import Principal
from relief.db import dumps


def _payload(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return dump(value)


# The columns of an event row, in the order values() gives them; statements that insert an event
# alongside other rows (in one round trip) use the two together.
COLUMNS = (
    "type, entity_type, entity_id, incident_id, organization_id,"
    " actor_key_id, actor_role, actor_organization_id, before, after"
)


def values(
    *,
    type: str,
    actor: Principal,
    entity_type: str,
    entity_id: UUID,
    incident_id: UUID | None = None,
    organization_id: UUID | None = None,
    before: BaseModel | dict[str, Any] | None = None,
    after: BaseModel | dict[str, Any] | None = None,
) -> list[Any]:
    """An event row's values, in COLUMNS order."""
    return [
        type,
        entity_type,
        entity_id,
        incident_id,
        organization_id,
        actor.key_id,
        "system" if actor.key_id is None else str(actor.role),
        actor.organization_id,
        _payload(before),
        _payload(after),
    ]


async def emit(conn: asyncpg.Connection, **event: Any) -> int:
    """Append one event (see values() for the fields); call it inside the transaction that made the
    change. Returns its id."""
    return await conn.fetchval(
        f"insert into events ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
        *values(**event),
    )


async def emit_many(conn: asyncpg.Connection, rows: list[list[Any]]) -> None:
    """Append many events (each a values() list) in one statement, in list order; for set-based
    writes (imports), in the transaction that made the changes."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    # jsonb has no binary codec here (db.init_connection encodes text): the payloads go as text, cast back.
    before, after = ([None if v is None else dumps(v) for v in column] for column in columns[8:])
    await conn.execute(
        f"""
        insert into events ({COLUMNS})
        select type, entity_type, entity_id, incident_id, organization_id, actor_key_id, actor_role,
               actor_organization_id, before::jsonb, after::jsonb
          from unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[],
                      $8::uuid[], $9::text[], $10::text[]) with ordinality
               as e(type, entity_type, entity_id, incident_id, organization_id, actor_key_id, actor_role,
                    actor_organization_id, before, after, n)
         order by n
        """,
        *columns[:8], before, after,
    )


def _event(row: asyncpg.Record, audience: masking.Audience) -> Event:
    before, after = masking.event_data(row["entity_type"], row["before"], row["after"], audience)
    return Event(
        id=row["id"],
        type=row["type"],
        entity=EntityRef(type=row["entity_type"], id=row["entity_id"]),
        incident_id=row["incident_id"],
        organization_id=row["organization_id"],
        actor=EventActor(
            key_id=str(row["actor_key_id"]) if row["actor_key_id"] else None,
            role=row["actor_role"],
            organization_id=str(row["actor_organization_id"]) if row["actor_organization_id"] else None,
            # Only the audit trail's query joins the key (staff read it); streams' rows carry no name.
            key_name=row.get("actor_key_name"),
            key_prefix=row.get("actor_key_prefix"),
        ),
        before=before,
        after=after,
        created_at=row["created_at"],
    )


async def list_events(
    conn: asyncpg.Connection,
    *,
    audience: masking.Audience,
    limit: int,
    cursor: str | None = None,
    incident_id: UUID | None = None,
    type: str | None = None,
    entity_type: str | None = None,
    entity_id: UUID | None = None,
    organization_id: UUID | None = None,
) -> Page[Event]:
    """Events newest first; `type` may end in `.*` to take a whole family (`incident.*`)."""
    after_id = cursors.decode_id(cursor, param="cursor") if cursor else None
    type_like = None
    if type is not None:
        type_like = type[:-1] + "%" if type.endswith(".*") else type
    rows = await conn.fetch(
        """
        select e.*, k.name as actor_key_name, k.prefix as actor_key_prefix
          from events e left join api_keys k on k.id = e.actor_key_id
         where ($1::bigint is null or e.id < $1)
           and ($2::uuid is null or e.incident_id = $2)
           and ($3::text is null or e.type like $3)
           and ($4::text is null or e.entity_type = $4)
           and ($5::uuid is null or e.entity_id = $5)
           and ($6::uuid is null or e.organization_id = $6 or e.actor_organization_id = $6)
         order by e.id desc
         limit $7
        """,
        after_id,
        incident_id,
        type_like,
        entity_type,
        entity_id,
        organization_id,
        limit + 1,
    )
    items = [_event(r, audience) for r in rows[:limit]]
    next_cursor = cursors.encode_id(items[-1].id) if len(rows) > limit else None
    return Page[Event](items=items, next_cursor=next_cursor)


def encode_position(txid: int, event_id: int) -> str:
    """A stream position: the (transaction id, event id) of the last event read."""
    return f"{txid}-{event_id}"


def decode_position(position: str) -> tuple[int, int]:
    txid, _, event_id = position.partition("-")
    if not (txid.isascii() and txid.isdigit() and event_id.isascii() and event_id.isdigit()) or len(position) > 41:
        raise ValueError(f"not a stream position: {position!r}")
    if int(txid) >= 2**63 or int(event_id) >= 2**63:
        raise ValueError(f"not a stream position: {position!r}")
    return int(txid), int(event_id)


async def read_after(
    conn: asyncpg.Connection, *, position: str | None, limit: int = 500
) -> tuple[list[Event], str | None]:
    """Every event committed after `position` (see _read), as the API shows events."""
    found, last = await _read(conn, position=position or "0-0", limit=limit)
    # Internal readers only (tests, tools): the event as stored, for a reader who sees contacts.
    whole = masking.Audience(sees_contacts=True, staff=True)
    return [_event(row, whole) for _, row in found], last if found else position


async def current_head(conn: asyncpg.Connection) -> str:
    """The position "now", for a reader that wants only what commits from here on: every event of a
    transaction older than the oldest one still running is already visible, so it starts there."""
    xmin = await conn.fetchval("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return encode_position(xmin, 0)


async def read_incident_after(
    conn: asyncpg.Connection, *, incident_id: UUID, position: str, owner: UUID | None, staff: bool, limit: int = 200
) -> tuple[list[tuple[str, asyncpg.Record]], str]:
    """An incident's events after `position` (see _read), keeping only those the reader may see
    (event_visible_to: staff see all, an organization what it may read). The returned position passes
    the hidden ones too, so a reader never scans them again."""
    return await _read(conn, position=position, limit=limit, incident_id=incident_id, owner=owner, staff=staff)


async def _read(
    conn: asyncpg.Connection, *, position: str, limit: int, incident_id: UUID | None = None,
    owner: UUID | None = None, staff: bool = True,
) -> tuple[list[tuple[str, asyncpg.Record]], str]:
    """Events committed after `position`, in an order that only grows with commit visibility, each
    with its own position, and the position to resume from.

    Only rows whose transaction is older than every transaction still running are returned
    (txid < pg_snapshot_xmin): such rows can no longer be joined by a row that commits later with a
    smaller position, so a reader resuming from the returned position never skips an event. The cost
    is that a long-running transaction delays the stream until it ends. Events an import wrote are
    passed over like hidden ones (its one import.completed stands for them).
    """
    txid, event_id = decode_position(position)
    # One incident's stream filters in the WHERE clause itself, so it uses the (incident, txid, id) index.
    incident = "e.incident_id = $6 and" if incident_id is not None else ""
    rows = await conn.fetch(
        f"""
        select e.*, e.txid::text::bigint as txid_number,
               e.import_id is null and ($5 or event_visible_to(e, $4)) as visible
          from events e
         where {incident} (e.txid, e.id) > ($1::text::xid8, $2)
           and e.txid < pg_snapshot_xmin(pg_current_snapshot())
         order by e.txid, e.id
         limit $3
        """,
        str(txid), event_id, limit, owner, staff, *([incident_id] if incident_id is not None else []),
    )
    if not rows:
        return [], position
    seen = [(encode_position(r["txid_number"], r["id"]), r) for r in rows if r["visible"]]
    return seen, encode_position(rows[-1]["txid_number"], rows[-1]["id"])
