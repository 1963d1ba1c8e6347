"""Webhook subscriptions: who may hold them, their lifecycle, secrets and events.

Sending lives in notifications/; this module only stores and changes subscriptions, each change in
one transaction with its `webhook.*` event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from models.common import Page
from models.keys import Role
from models.webhooks import (
    Webhook,
    WebhookCreate,
    WebhookFormat,
    WebhookStatus,
    WebhookUpdate,
    WebhookWithSecret,
    cap_refusal,
)
from relief import cursors, db, events
from relief.auth import SYSTEM, Principal
from relief.errors import Forbidden, IfMatch, Invalid, InvalidState, NotFound, StaleVersion
from relief.sealing import Sealer, new_secret

# After a rotation the previous secret keeps signing this long, so receivers can switch at leisure.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)

_COLUMNS = """
    id, organization_id, url, destination, description, event_types, incidents, regions, skills, format, status,
    rate_limit, disabled_reason, failing_since, previous_secret_expires_at, version, created_at, updated_at,
    coalesce((select o.status = 'suspended' from organizations o where o.id = webhooks.organization_id), false)
        as held,
    coalesce((select jsonb_build_object(
                'state', case when b.opened_at is not null then 'open' when b.held_until > now() then 'held'
                              else 'closed' end,
                'consecutive_failures', b.failures, 'opened_at', b.opened_at, 'held_until', b.held_until)
       from webhook_destinations b where b.destination = webhooks.destination),
             '{"state": "closed", "consecutive_failures": 0}') as breaker  -- no row: it never failed
"""


def to_model(row: asyncpg.Record) -> Webhook:
    return Webhook.model_validate(dict(row))


def owner_of(actor: Principal) -> UUID | None:
    """Who owns what `actor` creates: its organization, or the bureau (None) for dispatchers."""
    if actor.role == Role.organization:
        if actor.organization_status != "approved":
            raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations subscribe")
        return actor.organization_id
    actor.require(Role.dispatcher)
    return None


def _require_read(actor: Principal, row: asyncpg.Record) -> None:
    # Another organization's subscription is "not found": its existence is not ours to tell.
    if not actor.is_staff and not actor.owns(row["organization_id"]):
        raise NotFound(f"webhook {row['id']} does not exist")


def require_change(actor: Principal, row: asyncpg.Record, *, operational: bool = False) -> None:
    """The owner changes a subscription: an organization its own, dispatchers the bureau's. Dispatchers
    may also pause, resume or delete an organization's (`operational`): they run the service."""
    _require_read(actor, row)
    if actor.owns(row["organization_id"]):
        if actor.organization_status != "approved":
            # Suspension holds the subscription as it is: no change (nor a test or a retry, which would
            # send) until a dispatcher approves the organization again (issue 10, item 4).
            raise Forbidden(
                f"your organization is {actor.organization_status}: its subscriptions are held, and accept no "
                "change until it is approved again"
            )
        return
    actor.require(Role.dispatcher)
    if row["organization_id"] is not None and not operational:
        raise Forbidden("only the organization that owns this subscription may change it")


async def _emit(conn: asyncpg.Connection, type: str, actor: Principal, after: Webhook | None,
                before: Webhook | None = None) -> None:
    subject = after or before
    if subject is None:
        raise TypeError("a webhook event needs the subscription before or after the change")
    await events.emit(
        conn, type=type, actor=actor, entity_type="webhook", entity_id=subject.id,
        organization_id=subject.organization_id, before=before, after=after,
    )


async def locked(conn: asyncpg.Connection, webhook_id: UUID) -> asyncpg.Record:
    row = await conn.fetchrow(f"select {_COLUMNS} from webhooks where id = $1 for update", webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    return row


async def create(
    conn: asyncpg.Connection, *, actor: Principal, data: WebhookCreate, destination: str, sealer: Sealer
) -> WebhookWithSecret:
    """Subscribe `data.url` (already checked by the SSRF guard) with a new secret, shown only now."""
    owner = owner_of(actor)
    secret = new_secret()
    async with db.atomic(conn):
        row = await conn.fetchrow(
            f"""
            insert into webhooks (organization_id, url, destination, description, event_types, incidents,
                                  regions, skills, secret, created_by_key_id, format, rate_limit)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::numeric)
            returning {_COLUMNS}
            """,
            owner, data.url, destination, data.description, _unique(data.event_types), _unique(data.incidents),
            _unique(data.regions), _unique(data.skills), sealer.seal(secret), actor.key_id, str(data.format),
            data.rate_limit,
        )
        webhook = to_model(row)
        await _emit(conn, "webhook.created", actor, webhook)
    return WebhookWithSecret(**webhook.model_dump(), secret=secret)


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(str(v) for v in values))


async def row(conn: asyncpg.Connection, webhook_id: UUID) -> asyncpg.Record:
    found = await conn.fetchrow(f"select {_COLUMNS} from webhooks where id = $1", webhook_id)
    if found is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    return found


async def get(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID) -> Webhook:
    found = await row(conn, webhook_id)
    _require_read(actor, found)
    return to_model(found)


async def list_webhooks(
    conn: asyncpg.Connection, *, actor: Principal, limit: int, cursor: str | None = None,
    status: str | None = None, organization_id: UUID | None = None,
) -> Page[Webhook]:
    """Newest first. Organizations see their own; staff see all, or one organization's."""
    if not actor.is_staff:
        if actor.role != Role.organization:
            raise Forbidden("webhooks are listed with an organization's key or a staff key")
        organization_id = actor.organization_id
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from webhooks
         where ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($3::text is null or status = $3)
           and ($4::uuid is null or organization_id = $4)
         order by created_at desc, id desc
         limit $5
        """,
        *position, status, organization_id, limit + 1,
    )
    return cursors.page(rows, limit, Webhook)


async def update(
    conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, version: IfMatch, data: WebhookUpdate,
    destination: str | None,
) -> Webhook:
    """Change a subscription's URL, filters, description, format or pace (If-Match)."""
    async with db.atomic(conn):
        row = await locked(conn, webhook_id)
        require_change(actor, row)
        before = to_model(row)
        StaleVersion.check(f"webhook {webhook_id}", current=before.version, expected=version)
        changes = data.model_dump(include=data.model_fields_set)
        merged = {k: row[k] for k in ("url", "destination", "description", "event_types", "incidents", "regions",
                                       "skills", "format", "rate_limit")}
        for name in ("event_types", "incidents", "regions", "skills"):
            if name in changes:
                changes[name] = _unique(changes[name])
        merged.update(changes)
        if destination is not None:
            merged["destination"] = destination
        refusal = cap_refusal(WebhookFormat(merged["format"]), merged["event_types"])
        if refusal:
            raise Invalid(refusal, errors=[{"pointer": "/event_types" if "event_types" in changes else "/format",
                                            "detail": refusal}])
        row = await conn.fetchrow(
            f"""
            update webhooks
               set url = $2, destination = $3, description = $4, event_types = $5, incidents = $6,
                   regions = $7, skills = $8, format = $9, rate_limit = $10::numeric,
                   -- a new pace starts now: a turn earned at the old one (a slow pace's long wait) is dropped
                   rate_next_at = case when rate_limit is distinct from $10::numeric then null else rate_next_at end,
                   version = version + 1, updated_at = now()
             where id = $1
            returning {_COLUMNS}
            """,
            webhook_id, merged["url"], merged["destination"], merged["description"], merged["event_types"],
            merged["incidents"], merged["regions"], merged["skills"], str(merged["format"]), merged["rate_limit"],
        )
        after = to_model(row)
        await _emit(conn, "webhook.updated", actor, after, before)
    return after


async def rotate(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, sealer: Sealer) -> WebhookWithSecret:
    """A new secret, shown once; the current one keeps signing alongside it for 24 hours."""
    secret = new_secret()
    async with db.atomic(conn):
        row = await locked(conn, webhook_id)
        require_change(actor, row)
        before = to_model(row)
        row = await conn.fetchrow(
            f"""
            update webhooks
               set previous_secret = secret, previous_secret_expires_at = now() + $3::interval,
                   secret = $2, version = version + 1, updated_at = now()
             where id = $1
            returning {_COLUMNS}
            """,
            webhook_id, sealer.seal(secret), PREVIOUS_SECRET_GRACE,
        )
        after = to_model(row)
        await _emit(conn, "webhook.rotated", actor, after, before)
    return WebhookWithSecret(**after.model_dump(), secret=secret)


async def set_status(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, action: str) -> Webhook:
    """pause (active → paused: deliveries wait) or resume (paused or disabled → active)."""
    allowed = {"pause": (WebhookStatus.active,), "resume": (WebhookStatus.paused, WebhookStatus.disabled)}[action]
    async with db.atomic(conn):
        row = await locked(conn, webhook_id)
        require_change(actor, row, operational=True)
        before = to_model(row)
        if before.status not in allowed:
            raise InvalidState(f"webhook {webhook_id} is {before.status}; it cannot {action}", state=before.status)
        row = await conn.fetchrow(
            f"""
            update webhooks
               set status = $2, disabled_reason = null, failing_since = null,
                   version = version + 1, updated_at = now()
             where id = $1
            returning {_COLUMNS}
            """,
            webhook_id, "paused" if action == "pause" else "active",
        )
        after = to_model(row)
        await _emit(conn, f"webhook.{action}d", actor, after, before)
    return after


async def delete(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID) -> None:
    """Unsubscribe; its delivery log goes with it."""
    async with db.atomic(conn):
        row = await locked(conn, webhook_id)
        require_change(actor, row, operational=True)
        await conn.execute("delete from webhooks where id = $1", webhook_id)
        await _emit(conn, "webhook.deleted", actor, None, to_model(row))


async def disable(conn: asyncpg.Connection, *, actor: Principal, webhook_id: UUID, reason: str) -> bool:
    """Disable a subscription its receiver gave up on (410 Gone, or failing for days) and tell its
    owner (webhook.disabled, fanned out to the owner's other subscriptions). False if already off."""
    async with db.atomic(conn):
        try:
            row = await locked(conn, webhook_id)
        except NotFound:
            return False  # deleted meanwhile
        if row["status"] == WebhookStatus.disabled:
            return False
        before = to_model(row)
        row = await conn.fetchrow(
            f"""
            update webhooks set status = 'disabled', disabled_reason = $2, version = version + 1, updated_at = now()
             where id = $1
            returning {_COLUMNS}
            """,
            webhook_id, reason,
        )
        await _emit(conn, "webhook.disabled", actor, to_model(row), before)
    return True


async def notice_failing(conn: asyncpg.Connection, *, webhook_id: UUID, now: datetime) -> bool:
    """webhook.failing, once per run of failures (a success clears failing_noticed_at): its owner is
    told by email while there is still time to fix the receiver. False if already told or gone."""
    async with db.atomic(conn):
        told = await conn.fetchval(
            """
            update webhooks set failing_noticed_at = $2
             where id = $1 and status <> 'disabled' and failing_since is not null and failing_noticed_at is null
            returning id
            """,
            webhook_id, now,
        )
        if told is None:
            return False
        model = to_model(await locked(conn, webhook_id))
        await _emit(conn, "webhook.failing", SYSTEM, model, model)
    return True
