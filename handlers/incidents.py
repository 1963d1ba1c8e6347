"""/v1/incidents: open, read, update, close and reopen incidents; their audit trail."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.events import Event, IncidentEventQuery
from models.incidents import Incident, IncidentCreate, IncidentQuery, IncidentUpdate
from models.keys import Role
from relief import events, incidents, masking

routes = Routes("incidents")

EVERYONE = "any key"
DISPATCHERS = "admin, dispatcher"


@routes.post("/v1/incidents", body=IncidentCreate, response=Incident, status=201, roles=DISPATCHERS,
             errors=(403, 409, 422))
async def create_incident(request: web.Request) -> web.Response:
    """Open an incident."""
    caller = principal(request)
    caller.require(Role.dispatcher)
    data = await body(request, IncidentCreate)
    async with pool(request).acquire() as conn:
        created = await incidents.create(conn, actor=caller, data=data)
    return respond(created, status=201, headers={"Location": f"/v1/incidents/{created.id}"})


@routes.get("/v1/incidents", query=IncidentQuery, response=Page[Incident], roles=EVERYONE, errors=(422,))
async def list_incidents(request: web.Request) -> web.Response:
    """List incidents, newest first, filtered by status, type, severity and region."""
    principal(request)
    params = query(request, IncidentQuery)
    async with pool(request).acquire() as conn:
        page = await incidents.list_incidents(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            status=params.status,
            type=params.type,
            severity=params.severity,
            region=params.region,
        )
    return respond(page)


async def _get(request: web.Request) -> Incident:
    incident_id = path_id(request)
    async with pool(request).acquire() as conn:
        found = await incidents.get(conn, incident_id=incident_id)
    if found is None:
        raise HttpProblem("not-found", f"incident {incident_id} does not exist")
    return found


@routes.get("/v1/incidents/{id}", response=Incident, roles=EVERYONE, errors=(404,))
async def get_incident(request: web.Request) -> web.Response:
    """Read one incident."""
    principal(request)
    return respond(await _get(request))


@routes.patch("/v1/incidents/{id}", body=IncidentUpdate, response=Incident, if_match=True,
              roles=DISPATCHERS, errors=(403, 404, 412, 422, 428))
async def update_incident(request: web.Request) -> web.Response:
    """Update an incident (If-Match with its ETag)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    version = if_match(request)
    data = await body(request, IncidentUpdate)
    async with pool(request).acquire() as conn:
        updated = await incidents.update(
            conn, actor=caller, incident_id=incident_id, version=version, data=data
        )
    return respond(updated)


@routes.post("/v1/incidents/{id}/close", response=Incident, roles=DISPATCHERS, errors=(403, 404, 409))
async def close_incident(request: web.Request) -> web.Response:
    """Close an open incident."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        return respond(await incidents.close(conn, actor=caller, incident_id=incident_id))


@routes.post("/v1/incidents/{id}/reopen", response=Incident, roles=DISPATCHERS, errors=(403, 404, 409))
async def reopen_incident(request: web.Request) -> web.Response:
    """Reopen a closed incident."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        return respond(await incidents.reopen(conn, actor=caller, incident_id=incident_id))


@routes.get("/v1/incidents/{id}/events", query=IncidentEventQuery, response=Page[Event],
            roles=DISPATCHERS, errors=(403, 404, 422))
async def incident_events(request: web.Request) -> web.Response:
    """An incident's audit trail, newest first."""
    caller = principal(request)
    caller.require(Role.dispatcher)
    params = query(request, IncidentEventQuery)
    incident = await _get(request)
    async with pool(request).acquire() as conn:
        page = await events.list_events(
            conn, audience=masking.Audience.of(caller), limit=params.limit, cursor=params.cursor,
            incident_id=incident.id, type=params.type,
        )
    return respond(page)
