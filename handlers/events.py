"""/v1/events: the whole audit trail, for dispatchers; /v1/event-types: the catalog, for everyone."""

from __future__ import annotations

from aiohttp import web

from handlers.common import pool, principal, query, respond
from handlers.routing import Routes
from models.common import Page
from models.event_payloads import payload_schema
from models.events import EVENT_TYPES, Event, EventQuery, EventType, EventTypes
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


@routes.get("/v1/event-types", response=EventTypes, public=True,
            summary="Every event type Relief emits, with what it means and the schema of its payload "
            "(webhook filters take these)")
async def event_types(request: web.Request) -> web.Response:
    """The event catalog: what a webhook subscription's event_types may name (or a family, `sitrep.*`)."""
    return respond(EventTypes(items=[EventType(type=t, description=d, payload_schema=payload_schema(t))
                                     for t, d in EVENT_TYPES.items()]))
