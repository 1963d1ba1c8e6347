"""The email log (GET /v1/notifications) and the rules it follows (GET /v1/notification-rules).

Messages are made by the delivery workers' fan-out (notifications/email/rules.py) and sent by them;
this module only reads what they wrote, for dispatchers (every message) and for an organization (the
messages addressed to it).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from models.common import Page
from models.keys import Role
from models.notifications import (
    RULES,
    Notification,
    NotificationAttempt,
    NotificationDetail,
    NotificationQuery,
    NotificationRule,
    NotificationRules,
)
from relief import cursors
from relief.auth import Principal
from relief.errors import Forbidden, NotFound
from relief.settings import Settings

_COLUMNS = """
    n.id, n.rule, n.channel, n.event_id, n.incident_id, n.organization_id, n.recipient, n.language, n.subject,
    n.status, n.attempts, case when n.status = 'pending' then n.next_attempt_at end as next_attempt_at,
    n.last_error, n.delivered_at, n.created_at
"""


def rules(settings: Settings) -> NotificationRules:
    return NotificationRules(email=settings.email_on, items=[
        NotificationRule(name=r.event_type, recipients=r.recipients, description=r.description,
                         enabled=settings.email_on and bool(getattr(settings, r.setting)),
                         setting=f"RELIEF_{r.setting.upper()}")
        for r in RULES
    ])


def _scope(caller: Principal) -> UUID | None:
    """The organization whose messages the caller reads; None: all of them (dispatchers, admins)."""
    if caller.at_least(Role.dispatcher):
        return None
    if caller.organization_id is not None:
        return caller.organization_id
    raise Forbidden("the email log needs the dispatcher role, or an organization's key for its own")


async def list_notifications(conn: asyncpg.Connection, *, caller: Principal,
                             params: NotificationQuery) -> Page[Notification]:
    own = _scope(caller)
    position = cursors.decode_position(params.cursor) if params.cursor else (None, None)
    organization = own or params.organization_id
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from notifications n
         where ($1::timestamptz is null or (n.created_at, n.id) < ($1, $2::uuid))
           and ($3::uuid is null or n.organization_id = $3)
           and ($4::text is null or n.status = $4)
           and ($5::text is null or n.rule = $5)
           and ($6::uuid is null or n.incident_id = $6)
           and ($7::bigint is null or n.event_id = $7)
         order by n.created_at desc, n.id desc
         limit $8
        """,
        *position, organization, params.status, params.rule, params.incident_id, params.event_id, params.limit + 1,
    )
    return cursors.page(rows, params.limit, Notification)


async def get_notification(conn: asyncpg.Connection, *, caller: Principal, notification_id: UUID) -> NotificationDetail:
    own = _scope(caller)
    row = await conn.fetchrow(
        f"""
        select {_COLUMNS}, n.body_text from notifications n
         where n.id = $1 and ($2::uuid is null or n.organization_id = $2)
        """,
        notification_id, own,
    )
    if row is None:  # another organization's message is as absent as one that never was
        raise NotFound("no such notification")
    attempts = await conn.fetch(
        "select number, attempted_at, smtp_code, error, latency_ms from notification_attempts"
        " where notification_id = $1 order by number",
        notification_id,
    )
    return NotificationDetail.model_validate(
        {**dict(row), "attempt_log": [NotificationAttempt.model_validate(dict(a)) for a in attempts]}
    )
