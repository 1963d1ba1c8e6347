"""/v1/incidents/{id}/alerts and /v1/alerts: alerts broadcast to volunteer teams, CAP 1.2, acknowledgements."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from handlers.common import body, path_id, pool, principal, query, respond
from handlers.routing import Routes
from models.alerts import Ack, AckCreate, AckQuery, Acks, Alert, AlertCreate, AlertQuery, AlertTargets
from models.common import Page
from models.keys import Role
from notifications import cap
from relief import alerts, incidents
from relief.app_keys import SETTINGS
from relief.errors import Forbidden

routes = Routes("alerts")

DISPATCHERS = "admin, dispatcher"
EVERY_KEY = "admin, dispatcher, viewer, organization"


@routes.post("/v1/incidents/{id}/alerts", body=AlertCreate, response=Alert, status=201, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def create_alert(request: web.Request) -> web.Response:
    """Broadcast an alert to the teams, or an Update or Cancel of an earlier one (alert.broadcast)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, AlertCreate)
    sender = request.app[SETTINGS].cap_sender
    async with pool(request).acquire() as conn:
        alert = await alerts.create(conn, actor=caller, incident_id=incident_id, sender=sender, data=data)
    return respond(alert, status=201, headers={"Location": f"/v1/alerts/{alert.id}"})


@routes.get("/v1/incidents/{id}/alerts", query=AlertQuery, response=Page[Alert], roles=EVERY_KEY,
            errors=(404, 422))
async def list_alerts(request: web.Request) -> web.Response:
    """An incident's alerts, updates and cancels, newest first."""
    incident_id = path_id(request)
    params = query(request, AlertQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await alerts.list_alerts(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, msg_type=params.msg_type
        )
    return respond(page)


# Registered before /v1/alerts/{id}: that route's {id} would otherwise also match "….cap".
@routes.get("/v1/alerts/{id}.cap", roles=EVERY_KEY, errors=(404,), content_type=cap.MEDIA_TYPE)
async def get_alert_cap(request: web.Request) -> web.Response:
    """The alert as a CAP 1.2 message (application/cap+xml), valid against the OASIS CAP 1.2 schema."""
    alert_id = path_id(request)
    async with pool(request).acquire() as conn:
        alert = await alerts.require(conn, alert_id)
        referenced = await alerts.get(conn, alert_id=alert.references) if alert.references else None
    zone = ZoneInfo(request.app[SETTINGS].timezone)
    return web.Response(
        body=cap.render(alert, zone=zone, referenced=referenced),
        content_type=cap.MEDIA_TYPE,
        charset="utf-8",
        headers={"ETag": f'"{alert.version}"'},
    )


@routes.get("/v1/alerts/{id}", response=Alert, roles=EVERY_KEY, errors=(404,))
async def get_alert(request: web.Request) -> web.Response:
    """Read an alert."""
    alert_id = path_id(request)
    async with pool(request).acquire() as conn:
        return respond(await alerts.require(conn, alert_id))


@routes.post("/v1/alerts/{id}/acks", body=AckCreate, response=Ack, roles="an approved organization",
             errors=(403, 404, 422))
async def acknowledge_alert(request: web.Request) -> web.Response:
    """Answer an alert (received, responding, unable); a later answer replaces it (alert.acknowledged)."""
    caller, alert_id = principal(request), path_id(request)
    if caller.role != Role.organization:
        raise Forbidden("alerts are acknowledged with an organization's key")
    data = await body(request, AckCreate)
    async with pool(request).acquire() as conn:
        ack = await alerts.acknowledge(conn, actor=caller, alert_id=alert_id, data=data)
    return respond(ack)


@routes.get("/v1/alerts/{id}/targets", response=AlertTargets, roles="admin, dispatcher, viewer", errors=(403, 404))
async def alert_targets(request: web.Request) -> web.Response:
    """Every organization the alert was sent to: reached by webhook, by email, acknowledged, escalated."""
    caller, alert_id = principal(request), path_id(request)
    if not caller.is_staff:
        raise Forbidden("who an alert reached is the bureau's to read")
    async with pool(request).acquire() as conn:
        items = await alerts.targets(conn, alert_id=alert_id)
    return respond(AlertTargets(items=items, escalate_after_minutes=request.app[SETTINGS].alert_escalate_minutes))


@routes.get("/v1/alerts/{id}/acks", query=AckQuery, response=Acks,
            roles="admin, dispatcher, viewer: every answer and who has not answered; an organization: its own",
            errors=(403, 404, 422))
async def list_acks(request: web.Request) -> web.Response:
    """Who acknowledged an alert, newest first, and which teams it was sent to have not."""
    caller, alert_id = principal(request), path_id(request)
    if not caller.is_staff and caller.organization_id is None:
        raise Forbidden("this key belongs to no organization")
    params = query(request, AckQuery)
    async with pool(request).acquire() as conn:
        acks = await alerts.list_acks(
            conn,
            alert_id=alert_id,
            limit=params.limit,
            cursor=params.cursor,
            status=params.status,
            organization_id=None if caller.is_staff else caller.organization_id,
        )
    return respond(acks)
