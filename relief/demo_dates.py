"""The Doksuri demo in its own time: the rows the console and exports show are dated July–August 2023.

The demo loads in one transaction through the use cases, so every row it writes is stamped with the
moment of loading (`now()` is the transaction's start). `apply()` runs last, in that transaction, and
moves each row's own time columns (created_at, updated_at, and the state times beside them) into the
story's window for its kind, in the order the load made the rows (the first event of each), so a
pledge made before another still reads as made before it.

What stays at load time, and why:
- the event log (`events`): it is append-only and ordered by commit; its times say when the load
  wrote the events, and the streams' positions and webhook fan-out depend on them;
- the ledger's rows (donations, stock movements, disbursements): their created_at is part of each
  entry's hash in the signed chain (relief/chain.py), whose entries the database refuses to change;
  moving them would make `relief verify-ledger` fail, which is what it is for. Their story time is in
  their receipt and voucher numbers and in their domain times, which are not hashed and which the load
  passes from the scenario: a donation's received_at (relief/demo_data.py), a stock movement's moved_at
  and a disbursement's disbursed_at (relief/demo_use.py);
- the field (rosters, check-ins, tasks' start): who is on site *now*, and the overdue alarm, are
  relative to the moment of loading by design (relief/demo_field.py);
- impact figures and situation reports carry their 2023 `as_of` and issue times already.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg


def beijing(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


# table: (its entity type in the event log, the window its rows' created_at are spread over, in load order)
WINDOWS: dict[str, tuple[str, datetime, datetime]] = {
    "calls": ("call", beijing(7, 28, 8), beijing(7, 28, 11)),
    "shelters": ("shelter", beijing(7, 28, 11), beijing(7, 28, 14)),
    "sites": ("site", beijing(7, 28, 9), beijing(7, 28, 10)),
    "pledges": ("pledge", beijing(7, 28, 11, 30), beijing(7, 30, 20)),
    "offers": ("offer", beijing(7, 29, 9), beijing(7, 30, 18)),
    "residents": ("resident", beijing(7, 28, 16), beijing(7, 29, 12)),
    "alerts": ("alert", beijing(7, 29, 9, 20), beijing(7, 29, 9, 20)),
    "tasks": ("task", beijing(7, 29, 6), beijing(7, 29, 8)),
}
# Organizations registered with the bureau the evening before the landfall reached Suzhou.
ORGANIZATIONS = (beijing(7, 27, 18), beijing(7, 27, 22))
INCIDENT_OPENED = beijing(7, 28, 7, 30)
ACKS_FROM = beijing(7, 29, 9, 32)  # the teams' answers to the alert, 13 minutes apart
# A state change's time (accepted, sheltered, returned…) follows its row's creation by this much.
STEP = "interval '95 minutes'"
RETURNED = beijing(8, 2, 10)


async def _spread(conn: asyncpg.Connection, table: str, entity: str, start: datetime, end: datetime,
                  incident_id: UUID) -> None:
    # Table names come from the constants above, never from input; values are parameters.
    await conn.execute(
        f"""
        with ranked as (
            select t.id, (row_number() over (order by first.id nulls last, t.id) - 1)::float8
                         / greatest(count(*) over () - 1, 1) as part
              from {table} t
              left join lateral (select min(e.id) as id from events e
                                  where e.entity_type = $4 and e.entity_id = t.id) first on true
             where t.incident_id = $3
        )
        update {table} t
           set created_at = $1::timestamptz + ($2::timestamptz - $1::timestamptz) * r.part
          from ranked r
         where t.id = r.id
        """,
        start, end, incident_id, entity,
    )


async def apply(conn: asyncpg.Connection, *, incident_id: UUID, organization_ids: list[UUID]) -> None:
    """Date the demo's rows in July–August 2023 (in the load's transaction, after everything else)."""
    await conn.execute("update incidents set created_at = $2, updated_at = $2 where id = $1",
                       incident_id, INCIDENT_OPENED)
    await conn.execute(
        """
        with ranked as (select id, (row_number() over (order by created_at, id) - 1)::float8
                                   / greatest(count(*) over () - 1, 1) as part
                          from organizations where id = any($1::uuid[]) and created_at = now())
        update organizations o
           set created_at = $2::timestamptz + ($3::timestamptz - $2::timestamptz) * r.part,
               updated_at = $2::timestamptz + ($3::timestamptz - $2::timestamptz) * r.part + interval '14 hours'
          from ranked r where o.id = r.id
        """,
        organization_ids, *ORGANIZATIONS,
    )
    for table, (entity, start, end) in WINDOWS.items():
        await _spread(conn, table, entity, start, end, incident_id)
    await conn.execute(
        """
        with ranked as (select k.id, row_number() over (order by k.created_at, k.id) - 1 as n
                          from alert_acks k join alerts a on a.id = k.alert_id where a.incident_id = $1)
        update alert_acks k set created_at = $2::timestamptz + r.n * interval '13 minutes'
          from ranked r where k.id = r.id
        """,
        incident_id, ACKS_FROM,
    )
    # A head count is recorded half an hour after the people moved (its occurred_at, 2023 already).
    await conn.execute("update evacuations set created_at = occurred_at + interval '30 minutes' where incident_id = $1",
                       incident_id)
    # The state times and updated_at follow from the new created_at.
    await conn.execute("update calls set published_at = created_at + interval '5 minutes' "
                       "where incident_id = $1 and published_at is not null", incident_id)
    # A call closed, fulfilled or cancelled in the story was so when it last changed (its updated_at, below).
    await conn.execute(f"update calls set closed_at = created_at + {STEP} "
                       "where incident_id = $1 and closed_at is not null", incident_id)
    for table in ("calls", "shelters", "sites", "pledges", "offers", "residents", "alert_acks", "tasks"):
        await conn.execute(f"update {table} set updated_at = created_at + {STEP} where "
                           + ("alert_id in (select id from alerts where incident_id = $1)" if table == "alert_acks"
                              else "incident_id = $1"), incident_id)
    await conn.execute(
        """
        update residents
           set sheltered_at = case when sheltered_at is not null then created_at + interval '20 minutes' end,
               returned_at = case when returned_at is not null then $2::timestamptz end,
               updated_at = case when returned_at is not null then $2::timestamptz else updated_at end
         where incident_id = $1
        """,
        incident_id, RETURNED,
    )
    await conn.execute("update alerts set sent_at = date_trunc('second', created_at) where incident_id = $1",
                       incident_id)
