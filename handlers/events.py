"""/v1/events: the whole audit trail, for dispatchers."""

from __future__ import annotations

from aiohttp import web

from handlers.common import pool, principal, query, respond
from handlers.routing import Routes
from models.common import Page
from models.events import Event, EventQuery
from models.keys import Role
from relief import events, masking

routes = Routes("events")


@routes.get("/v1/events", query=EventQuery, response=Page[Event], roles="admin, dispatcher",
            errors=(403, 422))
async def list_events(request: web.Request) -> web.Response:
    """Every event, newest first, filterable by type, entity, incident and organization."""
    caller = principal(request)
    caller.require(Role.dispatcher)
    params = query(request, EventQuery)
    async with pool(request).acquire() as conn:
        page = await events.list_events(
            conn,
            audience=masking.Audience.of(caller),
            limit=params.limit,
            cursor=params.cursor,
            incident_id=params.incident_id,
            type=params.type,
            entity_type=params.entity_type,
            entity_id=params.entity_id,
            organization_id=params.organization_id,
        )
    return respond(page)
