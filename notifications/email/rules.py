"""Who gets an email for which event (models/notifications.RULES), and the messages themselves.

The fan-out calls `queue()` in the transaction that takes its batch of events off the outbox, so an
event's messages are stored exactly when its webhook deliveries are: a crash leaves both queued or
both written, and the unique (event, rule, recipient) makes a repeat harmless. Messages are rendered
here, once, in the recipient's language; what they say is names, counts, times and links — never a
resident's or a member's personal data (a member's name, phone, or emergency contact).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from models.notifications import RULES
from notifications.email import render
from relief.masking import mask_query
from relief.settings import Settings


@dataclass(frozen=True)
class Config:
    rules: frozenset[str]  # the rules switched on (empty: email is off)
    base_url: str
    zone: ZoneInfo
    escalate_minutes: float
    notice_minutes: float
    disable_hours: float

    @classmethod
    def of(cls, settings: Settings) -> Config:
        on = frozenset(r.event_type for r in RULES if settings.email_on and getattr(settings, r.setting))
        return cls(on, settings.base_url, ZoneInfo(settings.timezone), settings.alert_escalate_minutes,
                   settings.pledge_notice_minutes, settings.webhook_disable_after_hours)


@dataclass(frozen=True)
class Recipient:
    address: str
    language: str
    organization_id: UUID | None  # None: the bureau's own
    name: str = ""  # the organization's, for the greeting ("" for the bureau)


@dataclass
class Draft:
    recipients: list[Recipient]
    data: dict[str, Any] = field(default_factory=dict)
    tab: str = "room"  # the console tab the link opens


def _time(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") + f" ({zone.key})"


# --- recipients --------------------------------------------------------------------------------

async def _contact(conn: asyncpg.Connection, organization_id: Any) -> list[Recipient]:
    row = await conn.fetchrow(
        "select id, name, language, contact ->> 'email' as email from organizations where id = $1", organization_id
    )
    return [Recipient(row["email"], row["language"], row["id"], row["name"])] if row and row["email"] else []


async def _bureau(conn: asyncpg.Connection) -> list[Recipient]:
    rows = await conn.fetch(
        """
        select distinct on (lower(notify_email)) notify_email, language from api_keys
         where organization_id is null and revoked_at is null and notify_email is not null
         order by lower(notify_email), created_at
        """
    )
    return [Recipient(r["notify_email"], r["language"], None) for r in rows]


async def _names(conn: asyncpg.Connection, organization_id: Any) -> str:
    return await conn.fetchval("select name from organizations where id = $1", organization_id) or ""


# --- one function per rule: the recipients and what the template needs ---------------------------

def _alert_data(alert: dict[str, Any], config: Config) -> dict[str, Any]:
    kind = {"Alert": ("预警", "Alert"), "Update": ("预警更新", "Update"), "Cancel": ("预警撤销", "Cancel")}
    phrase = {"Alert": ("发布预警", "issued an alert"), "Update": ("更新了预警", "updated an alert"),
              "Cancel": ("撤销了预警", "cancelled an alert")}
    msg_type = alert.get("msg_type", "Alert")
    exercise = alert.get("status") in ("Exercise", "Test")
    return {
        "id": alert["id"], "headline": alert.get("headline", ""), "description": alert.get("description", ""),
        "instruction": alert.get("instruction", ""), "urgency": alert.get("urgency", ""),
        "severity": alert.get("severity", ""), "certainty": alert.get("certainty", ""),
        "area": (alert.get("area") or {}).get("description", ""), "sent_at": _time(alert.get("sent_at"), config.zone),
        "kind_zh": ("演练·" if exercise else "") + kind.get(msg_type, kind["Alert"])[0],
        "kind_en": ("Exercise " if exercise else "") + kind.get(msg_type, kind["Alert"])[1],
        "phrase_zh": phrase.get(msg_type, phrase["Alert"])[0], "phrase_en": phrase.get(msg_type, phrase["Alert"])[1],
        "ackable": msg_type != "Cancel", "escalate_minutes": f"{config.escalate_minutes:g}",
    }


async def _alert_broadcast(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    rows = await conn.fetch(
        """
        select o.id, o.name, o.language, o.contact ->> 'email' as email
          from alert_targets t join organizations o on o.id = t.organization_id
         where t.alert_id = $1 and o.contact ->> 'email' is not null
         order by o.name, o.id
        """,
        event["entity_id"],
    )
    return Draft([Recipient(r["email"], r["language"], r["id"], r["name"]) for r in rows],
                 _alert_data(event["after"], config), "alerts")


async def _alert_escalated(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    after = event["after"]
    alert = await conn.fetchrow(
        "select id, headline, instruction, area_description, sent_at, msg_type, status from alerts where id = $1",
        event["entity_id"],
    )
    data = _alert_data({**dict(alert), "id": str(alert["id"]), "area": {"description": alert["area_description"]}},
                       config)
    data["waited_minutes"] = f"{after.get('waited_seconds', 0) / 60:g}"
    return Draft(await _contact(conn, event["organization_id"]), data, "alerts")


async def _task_assigned(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    after = event["after"]
    row = await conn.fetchrow(
        """
        select t.title, t.priority, t.area_description, t.expected_minutes, o.language, o.id as organization_id,
               o.name as organization_name,
               coalesce((select m.email from roster_members m
                          where m.pledge_id = p.id and m.role = 'lead' and m.email is not null
                          order by m.position limit 1),
                        p.lead ->> 'email') as email
          from tasks t, pledges p join organizations o on o.id = p.organization_id
         where t.id = $1 and p.id = $2
        """,
        UUID(after["task_id"]), UUID(after["pledge_id"]),
    )
    if row is None:
        return Draft([])
    recipients = [Recipient(row["email"], row["language"], row["organization_id"], row["organization_name"])
                  ] if row["email"] else []
    return Draft(recipients, {
        "title": row["title"], "priority": row["priority"], "area": row["area_description"],
        "expected_minutes": row["expected_minutes"], "headcount": after.get("headcount"),
        "assignment_id": after["id"], "pledge_short": after["pledge_id"][:8],
    }, "field")


def _pledge_data(after: dict[str, Any], config: Config) -> dict[str, Any]:
    return {
        "pledge_id": after["pledge_id"], "pledge_short": after["pledge_id"][:8], "call_title": after["call_title"],
        "organization_name": after["organization_name"], "deadline": _time(after["deadline"], config.zone),
        "reminded_at": _time(after.get("reminded_at"), config.zone), "notice_minutes": f"{config.notice_minutes:g}",
    }


async def _pledge_reminded(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    return Draft(await _contact(conn, event["organization_id"]), _pledge_data(event["after"], config), "pledges")


async def _pledge_escalated(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    return Draft(await _bureau(conn), _pledge_data(event["after"], config), "pledges")


async def _webhook(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    after = event["after"]
    owner = after.get("organization_id")
    recipients = await (_contact(conn, UUID(owner)) if owner else _bureau(conn))
    return Draft(recipients, {
        "id": after["id"], "url": mask_query(after.get("url", "")),  # the query may hold the receiver's token
        "failing_since": _time(after.get("failing_since"), config.zone),
        "last_error": (after.get("last_error") or "")[:200], "reason": after.get("disabled_reason") or "",
        "disable_hours": f"{config.disable_hours:g}",
    }, "room")


async def _deployment_overdue(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    after = event["after"]
    # The task and the team by name; the member by nothing (their name and phone stay inside).
    title = await conn.fetchval("select title from tasks where id = $1", UUID(after["task_id"])) or ""
    return Draft(await _bureau(conn), {
        "task_title": title, "organization_name": await _names(conn, UUID(after["organization_id"])),
        "expected_back_at": _time(after["expected_back_at"], config.zone),
        "overdue_since": _time(after["overdue_since"], config.zone),
    }, "field")


async def _stock_low(conn: asyncpg.Connection, event: asyncpg.Record, config: Config) -> Draft:
    after = event["after"]
    return Draft(await _bureau(conn), {
        "location": (after.get("location") or {}).get("name") or "", "item": after.get("item", ""),
        "unit": after.get("unit", ""), "on_hand": after.get("on_hand", ""), "minimum": after.get("minimum", ""),
    }, "stock")


Recipe = Callable[[asyncpg.Connection, asyncpg.Record, Config], Awaitable[Draft]]
RECIPES: dict[str, Recipe] = {
    "alert.broadcast": _alert_broadcast,
    "alert.escalated": _alert_escalated,
    "task.assigned": _task_assigned,
    "pledge.reminded": _pledge_reminded,
    "pledge.escalated": _pledge_escalated,
    "webhook.failing": _webhook,
    "webhook.disabled": _webhook,
    "deployment.overdue": _deployment_overdue,
    "stock.low": _stock_low,
}


def _language_view(data: dict[str, Any], language: str) -> dict[str, Any]:
    """The data with its per-language words under their plain names (kind_zh → kind)."""
    view = dict(data)
    for key in ("kind", "phrase"):
        if f"{key}_{language}" in data:
            view[key] = data[f"{key}_{language}"]
    view["kind_phrase"] = view.get("phrase", "")
    return view


async def queue(conn: asyncpg.Connection, event_ids: list[int], config: Config, *, now: datetime) -> int:
    """Store the messages the switched-on rules make of these events; returns how many are new."""
    if not config.rules or not event_ids:
        return 0
    events = await conn.fetch(
        """
        select e.id, e.type, e.entity_id, e.incident_id, e.organization_id, coalesce(e.after, e.before) as after,
               i.title as incident_title, i.code as incident_code
          from events e left join incidents i on i.id = e.incident_id
         where e.id = any($1::bigint[]) and e.type = any($2::text[])
         order by e.id
        """,
        event_ids, list(config.rules),
    )
    columns: list[list[Any]] = [[] for _ in range(10)]
    for event in events:
        draft = await RECIPES[event["type"]](conn, event, config)
        seen: set[str] = set()
        for recipient in draft.recipients:
            if recipient.address.lower() in seen:
                continue
            seen.add(recipient.address.lower())
            link = f"{config.base_url}/#/incidents/{event['incident_id']}/{draft.tab}" if event["incident_id"] \
                else f"{config.base_url}/"
            message = render.render(event["type"], recipient.language, {
                "d": _language_view(draft.data, recipient.language), "org_name": recipient.name,
                "incident": {"title": event["incident_title"] or "", "code": event["incident_code"] or ""},
                "api": config.base_url, "link": link,
            })
            for column, value in zip(columns, (
                event["id"], event["type"], event["incident_id"], recipient.organization_id, recipient.address,
                recipient.language, message.subject, message.text, message.html, None,
            ), strict=True):
                column.append(value)
    if not columns[0]:
        return 0
    inserted = await conn.fetch(
        """
        insert into notifications (event_id, rule, incident_id, organization_id, recipient, language, subject,
                                   body_text, body_html, next_attempt_at)
        select *, $10::timestamptz from unnest($1::bigint[], $2::text[], $3::uuid[], $4::uuid[], $5::text[],
                                               $6::text[], $7::text[], $8::text[], $9::text[])
        on conflict (event_id, rule, recipient) do nothing
        returning 1
        """,
        *columns[:9], now,
    )
    return len(inserted)
