"""Nobody left unanswered: alerts a targeted team has not acknowledged, and accepted pledges not
dispatched by their call's deadline, are raised as events on time, once each.

- `alert.escalated`: an alert (not a cancel, not a test) still current (neither updated nor
  cancelled since) that a target (alert_targets) has not acknowledged `delay` seconds after it was
  sent; the email rules send it to that team again.
- `pledge.reminded`: an accepted pledge whose call's deadline passed; its organization is reminded.
- `pledge.escalated`: the same pledge still not dispatched `notice` seconds after its reminder; the
  bureau is told.

Once, as deployment.overdue is (relief/overdue.py): one UPDATE stamps the rows still unstamped, with
FOR UPDATE SKIP LOCKED, in the transaction that writes the events, so two replicas raising at the same
moment take different rows and never the same one twice. The OverdueWatch of every replica runs these
on each round (at most POLL_SECONDS apart, well inside the 30 s the issue allows). Times are the
database's clock unless a test passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from relief import db, events
from relief.auth import SYSTEM

BATCH = 200


@dataclass(frozen=True)
class Delays:
    alert_seconds: float  # RELIEF_ALERT_ESCALATE_MINUTES × 60
    pledge_notice_seconds: float  # RELIEF_PLEDGE_NOTICE_MINUTES × 60


_ALERT_WAITING = """
    t.escalated_at is null
    and a.msg_type <> 'Cancel' and a.status <> 'Test'
    and i.status = 'open'
    and not exists (select 1 from alert_acks k where k.alert_id = a.id and k.organization_id = t.organization_id)
    and not exists (select 1 from alerts later where later.references_id = a.id)
    and not exists (select 1 from alerts c where c.thread_id = a.thread_id and c.msg_type = 'Cancel')
"""

_PLEDGE_OPEN = """
    p.status = 'accepted' and c.deadline is not null and i.status = 'open'
"""


async def escalate_alerts(conn: asyncpg.Connection, *, delay: float, now: datetime | None = None,
                          limit: int = BATCH) -> list[asyncpg.Record]:
    """Raise alert.escalated for up to `limit` (alert, team) pairs past `delay` seconds unanswered."""
    async with db.atomic(conn):
        rows = await conn.fetch(
            f"""
            with due as (
                select t.alert_id, t.organization_id
                  from alert_targets t join alerts a on a.id = t.alert_id join incidents i on i.id = a.incident_id
                 where {_ALERT_WAITING}
                   and a.created_at <= coalesce($2::timestamptz, now()) - make_interval(secs => $1)
                 order by a.created_at, t.organization_id
                 limit $3
                 for update of t skip locked
            )
            update alert_targets t set escalated_at = coalesce($2::timestamptz, now())
              from due, alerts a, organizations o
             where t.alert_id = due.alert_id and t.organization_id = due.organization_id
               and a.id = t.alert_id and o.id = t.organization_id
            returning t.alert_id, t.organization_id, t.escalated_at, a.incident_id, a.headline, a.created_at,
                      a.msg_type, o.name as organization_name
            """,
            delay, now, limit,
        )
        for row in rows:
            event_id = await events.emit(
                conn, type="alert.escalated", actor=SYSTEM, entity_type="alert", entity_id=row["alert_id"],
                incident_id=row["incident_id"], organization_id=row["organization_id"],
                after={"alert_id": str(row["alert_id"]), "organization_id": str(row["organization_id"]),
                       "organization_name": row["organization_name"], "headline": row["headline"],
                       "msg_type": row["msg_type"], "sent_at": row["created_at"].isoformat(),
                       "escalated_at": row["escalated_at"].isoformat(), "waited_seconds": int(delay)},
            )
            await conn.execute(
                "update alert_targets set escalation_event_id = $3 where alert_id = $1 and organization_id = $2",
                row["alert_id"], row["organization_id"], event_id,
            )
    return rows


async def _pledge_step(conn: asyncpg.Connection, *, type_: str, stamp: str, due: str, args: list,
                       now: datetime | None, limit: int) -> list[asyncpg.Record]:
    async with db.atomic(conn):
        rows = await conn.fetch(
            f"""
            with due as (
                select p.id from pledges p join calls c on c.id = p.call_id join incidents i on i.id = c.incident_id
                 where {_PLEDGE_OPEN} and p.{stamp} is null and {due}
                 order by c.deadline, p.id
                 limit $2
                 for update of p skip locked
            )
            update pledges p set {stamp} = coalesce($1::timestamptz, now())
              from due, calls c, organizations o
             where p.id = due.id and c.id = p.call_id and o.id = p.organization_id
            returning p.id, p.call_id, p.organization_id, p.reminded_at, p.bureau_notified_at, p.status,
                      c.incident_id, c.title as call_title, c.deadline, o.name as organization_name
            """,
            now, limit, *args,
        )
        for row in rows:
            await events.emit(
                conn, type=type_, actor=SYSTEM, entity_type="pledge", entity_id=row["id"],
                incident_id=row["incident_id"], organization_id=row["organization_id"],
                after={"pledge_id": str(row["id"]), "call_id": str(row["call_id"]), "call_title": row["call_title"],
                       "organization_id": str(row["organization_id"]),
                       "organization_name": row["organization_name"], "status": row["status"],
                       "deadline": row["deadline"].isoformat(),
                       "reminded_at": row["reminded_at"].isoformat(),
                       "bureau_notified_at": row["bureau_notified_at"].isoformat()
                       if row["bureau_notified_at"] else None},
            )
    return rows


async def remind_pledges(conn: asyncpg.Connection, *, now: datetime | None = None,
                         limit: int = BATCH) -> list[asyncpg.Record]:
    """pledge.reminded for accepted pledges whose call's deadline has passed."""
    return await _pledge_step(conn, type_="pledge.reminded", stamp="reminded_at",
                              due="c.deadline <= coalesce($1::timestamptz, now())", args=[], now=now, limit=limit)


async def escalate_pledges(conn: asyncpg.Connection, *, notice: float, now: datetime | None = None,
                           limit: int = BATCH) -> list[asyncpg.Record]:
    """pledge.escalated for reminded pledges still not dispatched `notice` seconds later."""
    return await _pledge_step(
        conn, type_="pledge.escalated", stamp="bureau_notified_at",
        due="p.reminded_at <= coalesce($1::timestamptz, now()) - make_interval(secs => $3)",
        args=[notice], now=now, limit=limit,
    )


async def raise_due(conn: asyncpg.Connection, delays: Delays, *, now: datetime | None = None) -> int:
    """Every step that is due, in order; the number of events raised (BATCH or more: call again)."""
    raised = len(await escalate_alerts(conn, delay=delays.alert_seconds, now=now))
    raised += len(await remind_pledges(conn, now=now))
    raised += len(await escalate_pledges(conn, notice=delays.pledge_notice_seconds, now=now))
    return raised


async def seconds_to_next(conn: asyncpg.Connection, delays: Delays) -> float | None:
    """Seconds until the earliest step still to raise falls due (negative if due), or None."""
    due = await conn.fetchval(
        f"""
        select extract(epoch from least(
            (select min(a.created_at) + make_interval(secs => $1)
               from alert_targets t join alerts a on a.id = t.alert_id join incidents i on i.id = a.incident_id
              where {_ALERT_WAITING}),
            (select min(c.deadline) from pledges p join calls c on c.id = p.call_id
               join incidents i on i.id = c.incident_id
              where {_PLEDGE_OPEN} and p.reminded_at is null),
            (select min(p.reminded_at) + make_interval(secs => $2) from pledges p join calls c on c.id = p.call_id
               join incidents i on i.id = c.incident_id
              where {_PLEDGE_OPEN} and p.bureau_notified_at is null and p.reminded_at is not null)
        ) - now())
        """,
        delays.alert_seconds, delays.pledge_notice_seconds,
    )
    return None if due is None else float(due)
