"""/v1/notifications and /v1/notification-rules: what Relief emailed, to whom, and by which rule."""

from __future__ import annotations

from aiohttp import web

from handlers.common import path_id, pool, principal, query, respond
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.notifications import Notification, NotificationDetail, NotificationQuery, NotificationRules
from relief import notifications
from relief.app_keys import SETTINGS

routes = Routes("notifications")

READERS = "admin, dispatcher: every message; an organization: the messages addressed to it"


@routes.get("/v1/notification-rules", response=NotificationRules, roles="admin, dispatcher", errors=(403,))
async def list_rules(request: web.Request) -> web.Response:
    """What gets emailed, to whom, and whether each rule is on (each has a setting that turns it off)."""
    principal(request).require(Role.dispatcher)
    return respond(notifications.rules(request.app[SETTINGS]))


@routes.get("/v1/notifications", query=NotificationQuery, response=Page[Notification], roles=READERS,
            errors=(403, 422))
async def list_notifications(request: web.Request) -> web.Response:
    """The email log, newest first: each message's rule, recipient, state and attempts so far."""
    caller = principal(request)
    params = query(request, NotificationQuery)
    async with pool(request).acquire() as conn:
        page = await notifications.list_notifications(conn, caller=caller, params=params)
    return respond(page)


@routes.get("/v1/notifications/{id}", response=NotificationDetail, roles=READERS, errors=(403, 404))
async def get_notification(request: web.Request) -> web.Response:
    """One message as sent (its plain-text part) and every attempt: the SMTP reply or the error."""
    caller, notification_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        detail = await notifications.get_notification(conn, caller=caller, notification_id=notification_id)
    return respond(detail)
