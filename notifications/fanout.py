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

# Which subscriptions get which event. A subscription gets an event when its event types, incidents,
# regions and skills all match (a filter applies only to events that have that dimension: an event with
# no incident passes the incident and region filters; skills concern personnel calls only), and its
# owner may read the event through the API (invariant 7: event_visible_to, migration 0009, shared with
# the live streams).
_FAN_OUT = """
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
     where e.type <> 'webhook.test'
       and exists (select 1 from unnest(w.event_types) p
                    where p = '*' or p = e.type or (right(p, 2) = '.*' and starts_with(e.type, left(p, -1))))
       and (cardinality(w.incidents) = 0 or e.incident_id is null or e.incident_id = any(w.incidents))
       and (cardinality(w.regions) = 0 or i.id is null
            or exists (select 1 from unnest(i.regions) r, unnest(w.regions) p where starts_with(r, p)))
       and (cardinality(w.skills) = 0 or e.entity_type <> 'call'
            or coalesce(e.after, e.before) ->> 'kind' is distinct from 'personnel'
            or coalesce(e.after, e.before) ->> 'skill' = any(w.skills))
       and event_visible_to(e, w.organization_id)
    on conflict (webhook_id, event_id) do nothing
    returning 1
)
select (select count(*) from done) as events, (select count(*) from inserted) as deliveries
"""

BATCH = 100


async def fan_out(conn: asyncpg.Connection, *, now: datetime, batch: int = BATCH) -> tuple[int, int]:
    """Fan out one batch of queued events; returns (events, deliveries created)."""
    row = await conn.fetchrow(_FAN_OUT, batch, now)
    return row["events"], row["deliveries"]
