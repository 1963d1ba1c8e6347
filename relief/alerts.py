"""Alerts: broadcast to volunteer teams (alert.broadcast), updated or cancelled by later alerts, and
acknowledged by the teams (alert.acknowledged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from models.alerts import (
    Ack,
    AckCreate,
    Acks,
    Alert,
    AlertArea,
    AlertCreate,
    AlertTarget,
    CapMsgType,
    OrganizationRef,
)
from models.common import Page
from models.keys import Role
from relief import cursors, db, deliveries, events, incidents
from relief.auth import Principal
from relief.errors import Forbidden, Invalid, InvalidState, NotFound


def _alert(row: asyncpg.Record) -> Alert:
    data: dict[str, Any] = dict(row)
    data["references"] = data.pop("references_id")
    data["area"] = AlertArea(
        description=data.pop("area_description"),
        polygon=data.pop("polygon"),
        circle=data.pop("circle"),
        geocodes=data.pop("geocodes"),
    )
    return Alert.model_validate(data)


def _bad_reference(detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": "/references", "detail": detail}])


async def _thread_of(conn: asyncpg.Connection, *, incident_id: UUID, references: UUID) -> UUID:
    """The chain the referenced alert belongs to, locked until commit; refuses what cannot be replaced.

    The lock on the chain's first alert makes an update and a cancel of one chain take turns, so an
    update never slips in after the cancel it would have been refused by.
    """
    row = await conn.fetchrow("select incident_id, thread_id from alerts where id = $1", references)
    if row is None:
        raise _bad_reference(f"alert {references} does not exist")
    if row["incident_id"] != incident_id:
        raise _bad_reference(f"alert {references} belongs to another incident")
    thread_id: UUID = row["thread_id"]
    await conn.execute("select 1 from alerts where id = $1 for update", thread_id)
    cancel = await conn.fetchval(
        "select id from alerts where thread_id = $1 and msg_type = 'Cancel' limit 1", thread_id
    )
    if cancel is not None:
        raise InvalidState(f"alert {references} was cancelled by alert {cancel}", state="cancelled")
    return thread_id


async def create(
    conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, sender: str, data: AlertCreate
) -> Alert:
    """Broadcast an alert, an update or a cancel under an open incident (alert.broadcast)."""
    actor.require(Role.dispatcher)
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        alert_id = uuid4()
        thread_id = alert_id
        if data.msg_type != CapMsgType.Alert:
            if data.references is None:  # AlertCreate requires it; a plain check survives python -O
                raise TypeError("an update or cancel names the alert it references")
            thread_id = await _thread_of(conn, incident_id=incident_id, references=data.references)
        area = data.area
        row = await conn.fetchrow(
            """
            insert into alerts (id, incident_id, sender, sent_at, status, msg_type, references_id, thread_id,
                                headline, description, instruction, event, category, urgency, severity,
                                certainty, response_type, area_description, polygon, circle, geocodes,
                                created_by)
            values ($1, $2, $3, date_trunc('second', now()), $4, $5, $6, $7, $8, $9, $10,
                    coalesce($11, (select left(title, 200) from incidents where id = $2)),  -- the column holds 200
                    $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
            returning *
            """,
            alert_id,
            incident_id,
            sender,
            data.status,
            data.msg_type,
            data.references,
            thread_id,
            data.headline,
            data.description,
            data.instruction,
            data.event,
            data.category,
            data.urgency,
            data.severity,
            data.certainty,
            data.response_type,
            area.description,
            area.polygon,
            area.circle,
            [g.model_dump() for g in area.geocodes],
            actor.key_id,
        )
        alert = _alert(row)
        event_id = await events.emit(
            conn,
            type="alert.broadcast",
            actor=actor,
            entity_type="alert",
            entity_id=alert.id,
            incident_id=incident_id,
            after=alert,
        )
        await conn.execute("update alerts set event_id = $2 where id = $1", alert.id, event_id)
        await conn.execute(_TARGETS, alert.id, event_id)
    return alert


# Who an alert is sent to, fixed as it is broadcast: the owners of the subscriptions its event matches
# (the fan-out's own rule, deliveries.MATCHES) and the approved volunteer teams whose region lies within
# one of the incident's. The acks' not_acknowledged, the email rule and the escalation read this set.
_SIGNIFICANT = "case when r like '%0000' then left(r, 2) when r like '%00' then left(r, 4) else r end"
_TARGETS = f"""
insert into alert_targets (alert_id, organization_id)
select $1, o.id
  from organizations o, events e join incidents i on i.id = e.incident_id
 where e.id = $2
   and (exists (select 1 from webhooks w
                 where w.organization_id = o.id and w.status <> 'disabled' and w.created_at <= e.created_at
                   and {deliveries.MATCHES})
        or (o.kind = 'volunteer_team' and o.status = 'approved'
            and exists (select 1 from unnest(i.regions) r where starts_with(o.region, {_SIGNIFICANT}))))
on conflict do nothing
"""


async def get(conn: asyncpg.Connection, *, alert_id: UUID) -> Alert | None:
    row = await conn.fetchrow("select * from alerts where id = $1", alert_id)
    return _alert(row) if row else None


async def require(conn: asyncpg.Connection, alert_id: UUID) -> Alert:
    alert = await get(conn, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


async def list_alerts(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    msg_type: str | None = None,
) -> Page[Alert]:
    """An incident's alerts, newest first."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from alerts
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or msg_type = $4)
         order by created_at desc, id desc
         limit $5
        """,
        *position,
        incident_id,
        msg_type,
        limit + 1,
    )
    return cursors.page(rows, limit, Alert, _alert)


_ACK = """
    select k.*, o.name as organization_name
      from alert_acks k join organizations o on o.id = k.organization_id
"""


async def acknowledge(conn: asyncpg.Connection, *, actor: Principal, alert_id: UUID, data: AckCreate) -> Ack:
    """Record or change the caller's organization's answer to an alert (alert.acknowledged).

    One row per organization and alert, the latest answer wins; an answer that changes nothing writes
    nothing and emits nothing. The row is locked before it changes, so `before` is the answer replaced.
    """
    if actor.role != Role.organization or actor.organization_id is None:
        raise Forbidden("alerts are acknowledged with an organization's key")
    if actor.organization_status != "approved":
        raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations acknowledge")
    async with db.atomic(conn):
        alert = await require(conn, alert_id)
        while True:
            before = await conn.fetchrow(
                f"{_ACK} where k.alert_id = $1 and k.organization_id = $2 for update of k",
                alert_id,
                actor.organization_id,
            )
            if before is not None:
                if (before["status"], before["note"]) == (data.status, data.note):
                    return Ack.model_validate(dict(before))
                await conn.execute(
                    """
                    update alert_acks set status = $2, note = $3, version = version + 1, updated_at = now()
                     where id = $1
                    """,
                    before["id"],
                    data.status,
                    data.note,
                )
            elif not await conn.fetchval(
                """
                insert into alert_acks (alert_id, organization_id, status, note) values ($1, $2, $3, $4)
                on conflict (alert_id, organization_id) do nothing
                returning true
                """,
                alert_id,
                actor.organization_id,
                data.status,
                data.note,
            ):
                continue  # a concurrent first answer won the insert: change that one instead
            break
        ack = Ack.model_validate(
            dict(await conn.fetchrow(f"{_ACK} where k.alert_id = $1 and k.organization_id = $2",
                                     alert_id, actor.organization_id))
        )
        await events.emit(
            conn,
            type="alert.acknowledged",
            actor=actor,
            entity_type="alert_ack",
            entity_id=ack.id,
            incident_id=alert.incident_id,
            organization_id=ack.organization_id,
            before=Ack.model_validate(dict(before)) if before else None,
            after=ack,
        )
    return ack


async def list_acks(
    conn: asyncpg.Connection,
    *,
    alert_id: UUID,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    organization_id: UUID | None = None,
) -> Acks:
    """An alert's acknowledgements, newest first, and (unless narrowed to one organization) the
    organizations it was sent to that have not acknowledged it.

    "Sent to" is its targets (alert_targets), fixed in the broadcast's transaction.
    """
    await require(conn, alert_id)
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {_ACK}
         where k.alert_id = $3
           and ($1::timestamptz is null or (k.created_at, k.id) < ($1, $2::uuid))
           and ($4::text is null or k.status = $4)
           and ($5::uuid is null or k.organization_id = $5)
         order by k.created_at desc, k.id desc
         limit $6
        """,
        *position,
        alert_id,
        status,
        organization_id,
        limit + 1,
    )
    page = cursors.page(rows, limit, Ack)
    missing: list[OrganizationRef] = []
    if organization_id is None:
        missing = [
            OrganizationRef.model_validate(dict(r))
            for r in await conn.fetch(
                """
                select o.id, o.name
                  from organizations o
                 where o.id in (select organization_id from alert_targets where alert_id = $1)
                   and not exists (select 1 from alert_acks k where k.alert_id = $1 and k.organization_id = o.id)
                 order by o.name, o.id
                """,
                alert_id,
            )
        ]
    return Acks(items=page.items, next_cursor=page.next_cursor, not_acknowledged=missing)


# The public feed: CAP's own rule for what an alert supersedes (an Update or Cancel replaces the message it
# references), plus ours that a Cancel ends its whole chain (create refuses updates after one).
# Exercises and tests are for the teams: a public aggregator may not show the status, and a drill
# read as a real evacuation order is the harm CAP's status exists to prevent.
_CURRENT = """
    a.msg_type <> 'Cancel'
    and not exists (select 1 from alerts later where later.references_id = a.id)
    and not exists (select 1 from alerts c where c.thread_id = a.thread_id and c.msg_type = 'Cancel')
"""
FEED_LIMIT = 500  # far more alerts than a bureau has in force at once; bounds one unauthenticated read


async def current_public(conn: asyncpg.Connection, *, limit: int = FEED_LIMIT) -> list[Alert]:
    """The alerts in force for the public, newest first: actual, neither updated nor cancelled, in an
    open incident."""
    rows = await conn.fetch(
        f"""
        select a.* from alerts a join incidents i on i.id = a.incident_id
         where i.status = 'open' and a.status = 'Actual' and {_CURRENT}
         order by a.sent_at desc, a.created_at desc, a.id desc
         limit $1
        """,
        limit,
    )
    return [_alert(r) for r in rows]


async def public_changed_at(conn: asyncpg.Connection) -> datetime | None:
    """When the public feed last changed: the latest actual alert sent (a cancel or update removes one),
    or the latest change of an incident that has them (closing one removes its alerts); None if none."""
    changed: datetime | None = await conn.fetchval(
        """
        select greatest(max(a.sent_at), max(i.updated_at))
          from alerts a join incidents i on i.id = a.incident_id
         where a.status = 'Actual'
        """
    )
    return changed


async def latest_version(conn: asyncpg.Connection, *, alert_id: UUID) -> UUID | None:
    """The message that now stands for a superseded alert: its chain's Cancel, else the chain's newest
    message. None for an alert still in force, and for a Cancel (nothing replaces it)."""
    found: UUID | None = await conn.fetchval(
        f"""
        select coalesce(
            (select c.id from alerts c where c.thread_id = a.thread_id and c.msg_type = 'Cancel' limit 1),
            (select n.id from alerts n where n.thread_id = a.thread_id and n.id <> a.id
              order by n.created_at desc, n.id desc limit 1))
          from alerts a
         where a.id = $1 and a.msg_type <> 'Cancel' and not ({_CURRENT})
        """,
        alert_id,
    )
    return found


# A channel's state for one organization: delivered if any message got through, else pending, else failed.
def _reach(status: str) -> str:
    return f"""
    case when bool_or({status} = 'delivered') then 'delivered' when bool_or({status} = 'pending') then 'pending'
         when bool_or({status} = 'failed') then 'failed' else 'none' end
    """


async def targets(conn: asyncpg.Connection, *, alert_id: UUID) -> list[AlertTarget]:
    """Who an alert was sent to, by webhook and by email, who answered, who was escalated."""
    await require(conn, alert_id)
    rows = await conn.fetch(
        f"""
        select o.id, o.name, t.escalated_at, k.status as ack_status, k.updated_at as acknowledged_at,
               (select {_reach("d.status")} from webhook_deliveries d join webhooks w on w.id = d.webhook_id
                 where d.event_id = a.event_id and w.organization_id = o.id) as webhook,
               (select {_reach("n.status")} from notifications n
                 where n.event_id = a.event_id and n.organization_id = o.id) as email,
               (select {_reach("n.status")} from notifications n
                 where n.event_id = t.escalation_event_id and n.organization_id = o.id) as escalation_email
          from alert_targets t join alerts a on a.id = t.alert_id join organizations o on o.id = t.organization_id
          left join alert_acks k on k.alert_id = t.alert_id and k.organization_id = t.organization_id
         where t.alert_id = $1
         order by o.name, o.id
        """,
        alert_id,
    )
    return [AlertTarget(organization=OrganizationRef(id=r["id"], name=r["name"]), webhook=r["webhook"],
                        email=r["email"], ack_status=r["ack_status"], acknowledged_at=r["acknowledged_at"],
                        escalated_at=r["escalated_at"], escalation_email=r["escalation_email"]) for r in rows]
