"""Fan-out: turn committed events into one delivery per matching subscription.

Events wait in webhook_outbox (queued by a trigger in the transaction that wrote them). A worker
claims a batch with FOR UPDATE SKIP LOCKED, inserts the deliveries and deletes the batch in one
statement, so a crash at any point either leaves the events queued or has their deliveries stored,
and two workers never fan out the same event (the unique (webhook, event) pair also makes a repeat
harmless).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from notifications.email import rules
from relief.deliveries import MATCHES

# Which subscriptions get which event: relief/deliveries.MATCHES (shared with a subscription's recovery).
_FAN_OUT = f"""
with batch as (
    select event_id from webhook_outbox order by event_id limit $1 for update skip locked
), done as (
    delete from webhook_outbox o using batch b where o.event_id = b.event_id returning o.event_id
), inserted as (
    insert into webhook_deliveries (webhook_id, event_id, event_type, next_attempt_at)
    select w.id, e.id, e.type, $2
      from done
      join events e on e.id = done.event_id
      left join incidents i on i.id = e.incident_id
      join webhooks w on w.status <> 'disabled' and w.created_at <= e.created_at
     where {MATCHES}
    on conflict (webhook_id, event_id) do nothing
    returning 1
)
select (select count(*) from done) as events, (select count(*) from inserted) as deliveries,
       (select coalesce(array_agg(event_id), '{{}}') from done) as event_ids
"""

BATCH = 100


async def fan_out(conn: asyncpg.Connection, *, now: datetime, batch: int = BATCH,
                  mail: rules.Config | None = None) -> tuple[int, int, int]:
    """Fan out one batch of queued events; returns (events, deliveries created, emails queued).

    The emails the notification rules make of the batch are stored in the same transaction as its
    deliveries, so neither is lost nor made twice by a crash between them."""
    async with conn.transaction():
        row = await conn.fetchrow(_FAN_OUT, batch, now)
        emails = await rules.queue(conn, list(row["event_ids"]), mail, now=now) if mail is not None else 0
    return row["events"], row["deliveries"], emails
