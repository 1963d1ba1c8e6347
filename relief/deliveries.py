"""The delivery log: what was sent to a subscription, each attempt, and manual retries and tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from models.common import Page
from models.webhooks import Attempt, Delivery, Recovery, WebhookStatus
from relief import cursors, db, events, webhooks
from relief.auth import Principal
from relief.errors import Invalid, InvalidState, NotFound

RECOVER_LIMIT = 10_000  # deliveries one recovery queues at most; the answer says whether more remain

_SELECT = """
    select d.id, d.webhook_id, d.event_id, d.event_type, d.status, d.attempts as attempt_count,
           d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at
      from webhook_deliveries d
"""


async def _with_attempts(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Delivery]:
    attempts = await conn.fetch(
        """
        select delivery_id, number, attempted_at, status_code, latency_ms, error, response_body
          from webhook_attempts where delivery_id = any($1::uuid[])
         order by delivery_id, number
        """,
        [r["id"] for r in rows],
    )
    by_delivery: dict[UUID, list[Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(Attempt.model_validate(dict(a)))
    return [Delivery(**dict(r), attempts=by_delivery.get(r["id"], [])) for r in rows]


async def list_deliveries(
    conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, limit: int, cursor: str | None = None,
    status: str | None = None, event_type: str | None = None,
) -> Page[Delivery]:
    """A subscription's deliveries, newest first, each with its attempts and its next attempt."""
    await webhooks.get(conn, actor=actor, webhook_id=webhook_id)
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {_SELECT}
         where d.webhook_id = $3
           and ($1::timestamptz is null or (d.created_at, d.id) < ($1, $2::uuid))
           and ($4::text is null or d.status = $4)
           and ($5::text is null or d.event_type = $5)
         order by d.created_at desc, d.id desc
         limit $6
        """,
        *position, webhook_id, status, event_type, limit + 1,
    )
    items = await _with_attempts(conn, list(rows[:limit]))
    next_cursor = cursors.encode_position(items[-1].created_at, items[-1].id) if len(rows) > limit else None
    return Page[Delivery](items=items, next_cursor=next_cursor)


async def get(conn: asyncpg.Connection, delivery_id: UUID) -> Delivery:
    row = await conn.fetchrow(f"{_SELECT} where d.id = $1", delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return (await _with_attempts(conn, [row]))[0]


async def retry(conn: asyncpg.Connection, *, actor: Principal, delivery_id: UUID) -> Delivery:
    """Send a delivery again now, whatever its state: a failed one gets one more attempt, a delivered
    one is re-sent with the same webhook-id (receivers deduplicate). One being sent right now keeps its
    worker's claim: that attempt's result decides, and no second worker sends it meanwhile."""
    async with db.atomic(conn):
        row = await conn.fetchrow(
            "select webhook_id from webhook_deliveries where id = $1 for update", delivery_id
        )
        if row is None:
            raise NotFound(f"delivery {delivery_id} does not exist")
        webhook = await webhooks.locked(conn, row["webhook_id"])
        try:
            webhooks.require_change(actor, webhook)
        except NotFound as exc:
            raise NotFound(f"delivery {delivery_id} does not exist") from exc
        await conn.execute(
            """
            update webhook_deliveries
               set status = 'pending', next_attempt_at = now(), delivered_at = null, updated_at = now()
             where id = $1
            """,
            delivery_id,
        )
        await conn.execute("select pg_notify('relief_deliveries', '')")  # wake a worker now
    return await get(conn, delivery_id)


async def send_test(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID) -> Delivery:
    """A webhook.test event for this subscription alone (paused or not: the owner asked for it)."""
    async with db.atomic(conn):
        webhook = await webhooks.locked(conn, webhook_id)
        webhooks.require_change(actor, webhook)
        event_id = await events.emit(
            conn, type="webhook.test", actor=actor, entity_type="webhook", entity_id=webhook_id,
            organization_id=webhook["organization_id"],
            after={"webhook_id": str(webhook_id), "message": "A test delivery from Relief: your endpoint works."},
        )
        delivery_id = await conn.fetchval(
            """
            insert into webhook_deliveries (webhook_id, event_id, event_type, next_attempt_at)
            values ($1, $2, 'webhook.test', now())
            returning id
            """,
            webhook_id, event_id,
        )
    return await get(conn, delivery_id)


async def recover(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, since: datetime,
                  until: datetime | None, retention_days: int, limit: int = RECOVER_LIMIT) -> Recovery:
    """Queue again what a subscription missed among the events committed in [since, until): its failed
    deliveries (same webhook-id: receivers deduplicate), and a delivery for each matching event that
    has none (the fan-out skips disabled subscriptions). Marked import rows stay summed up in their
    import.completed, as in the fan-out. The owner recovers; dispatchers any, as for pause."""
    async with db.atomic(conn):
        now = await conn.fetchval("select now()")
        until = until or now
        oldest = now - timedelta(days=retention_days)
        if since < oldest:
            raise Invalid(
                f"since is older than the delivery retention ({retention_days} days, from {oldest.isoformat()}): "
                "deliveries before it were purged, so what was sent then can no longer be told apart",
                errors=[{"pointer": "/since", "detail": f"at or after {oldest.isoformat()}"}],
            )
        if until <= since:
            raise Invalid("until must be after since", errors=[{"pointer": "/until", "detail": "after since"}])
        webhook = await webhooks.locked(conn, webhook_id)
        webhooks.require_change(actor, webhook, operational=True)
        if webhook["status"] == WebhookStatus.disabled:
            raise InvalidState(f"webhook {webhook_id} is disabled: resume it first, then recover what it missed",
                               state=webhook["status"])
        todo = await conn.fetch(
            f"""
            select e.id, e.type, e.created_at, d.id as delivery_id
              from webhooks w
              join events e on e.created_at >= greatest($2, w.created_at) and e.created_at < $3
              left join incidents i on i.id = e.incident_id
              left join webhook_deliveries d on d.webhook_id = w.id and d.event_id = e.id
             where w.id = $1 and e.import_id is null and (d.id is null or d.status = 'failed')
               and {MATCHES}
             order by e.created_at, e.id
             limit $4
            """,
            webhook_id, since, until, limit + 1,
        )
        more, todo = len(todo) > limit, todo[:limit]
        resent = await conn.execute(
            """
            update webhook_deliveries
               set status = 'pending', next_attempt_at = now(), delivered_at = null, updated_at = now()
             where id = any($1::uuid[]) and status = 'failed'
            """,
            [r["delivery_id"] for r in todo if r["delivery_id"] is not None],
        )
        fresh = [r for r in todo if r["delivery_id"] is None]
        created = await conn.execute(
            """
            insert into webhook_deliveries (webhook_id, event_id, event_type, next_attempt_at)
            select $1, e, t, now() from unnest($2::bigint[], $3::text[]) as u(e, t)
            on conflict (webhook_id, event_id) do nothing
            """,
            webhook_id, [r["id"] for r in fresh], [r["type"] for r in fresh],
        )
        recovery = Recovery(webhook_id=webhook_id, since=since, until=until, resent=int(resent.split()[-1]),
                            created=int(created.split()[-1]), more=more,
                            handled_until=todo[-1]["created_at"] if more else None)
        await events.emit(conn, type="webhook.recovered", actor=actor, entity_type="webhook", entity_id=webhook_id,
                          organization_id=webhook["organization_id"], after=recovery)
        await conn.execute("select pg_notify('relief_deliveries', '')")  # wake a worker now
    return recovery


async def purge(conn: asyncpg.Connection, *, older_than_days: int, batch: int = 10_000) -> int:
    """Delete finished deliveries (and their attempts) untouched for `older_than_days`; pending ones
    stay whatever their age. In batches, so a large purge never holds many locks at once."""
    purged = 0
    while True:
        result = await conn.execute(
            """
            delete from webhook_deliveries where id in (
                select id from webhook_deliveries
                 where status in ('delivered', 'failed') and updated_at < now() - make_interval(days => $1)
                 limit $2)
            """,
            older_than_days, batch,
        )
        count = int(result.split()[-1])
        purged += count
        if count < batch:
            return purged


# Whether subscription `w` gets event `e` (`i` its incident, left-joined): its event types, incidents,
# regions and skills all match (a filter applies only to events that have that dimension: an event with
# no incident passes the incident and region filters; skills concern personnel calls only), and its
# owner may read the event through the API (invariant 7: event_visible_to, migration 0009, shared with
# the live streams). Tests are sent on request only; a CAP subscription gets the alerts themselves.
# One fragment for the fan-out and a recovery.
MATCHES = """
    e.type <> 'webhook.test'
    and (w.format = 'json' or e.type = 'alert.broadcast')  -- CAP carries alerts, not their acknowledgements
    and exists (select 1 from unnest(w.event_types) p
                 where p = '*' or p = e.type or (right(p, 2) = '.*' and starts_with(e.type, left(p, -1))))
    and (cardinality(w.incidents) = 0 or e.incident_id is null or e.incident_id = any(w.incidents))
    and (cardinality(w.regions) = 0 or i.id is null
         or exists (select 1 from unnest(i.regions) r, unnest(w.regions) p where starts_with(r, p)))
    and (cardinality(w.skills) = 0 or e.entity_type <> 'call'
         or coalesce(e.after, e.before) ->> 'kind' is distinct from 'personnel'
         or coalesce(e.after, e.before) ->> 'skill' = any(w.skills))
    and event_visible_to(e, w.organization_id)
"""


# Whether a delivery may be sent now (`d` a delivery, `w` its subscription): an active subscription,
# or a test (which a paused one may also receive), and never while the owning organization is
# suspended: its deliveries wait, and go out once it is approved again. One fragment for the worker's
# claim, its "when is the next one due" and /metrics' lag, so none can disagree with another.
SENDABLE = """
    (w.status = 'active' or d.event_type = 'webhook.test')
    and not exists (select 1 from organizations o where o.id = w.organization_id and o.status = 'suspended')
"""


async def backlog(conn: asyncpg.Connection) -> asyncpg.Record:
    """How far delivery is behind: events not fanned out, deliveries waiting, how long the oldest due one
    (of a subscription that is sending) has waited, and the destinations held back by their breaker.
    For /metrics: a stalled worker or a dead receiver shows here."""
    return await conn.fetchrow(
        f"""
        select (select count(*) from webhook_outbox) as outbox,
               (select count(*) from webhook_deliveries where status = 'pending') as pending,
               (select coalesce(extract(epoch from now() - min(d.next_attempt_at)), 0)
                  from webhook_deliveries d join webhooks w on w.id = d.webhook_id
                 where d.status = 'pending' and d.next_attempt_at <= now() and {SENDABLE}) as lag,
               (select count(*) from webhook_destinations where opened_at is not null) as destinations_open,
               (select count(*) from webhook_destinations
                 where opened_at is not null or held_until > now()) as destinations_held
        """
    )
