"""/v1/incidents/{id}/impacts: impact figures by region, source and time (灾情统计)."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, created, idempotent, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.impacts import Impact, ImpactCreate, ImpactCurrent, ImpactCurrentQuery, ImpactQuery
from models.keys import Role
from relief import impacts, incidents

routes = Routes("impacts")

STAFF = "admin, dispatcher, viewer"


@routes.post("/v1/incidents/{id}/impacts", body=ImpactCreate, response=Impact, status=201,
             idempotency_optional=True, roles="admin, dispatcher", errors=(403, 404, 409, 422),
             summary="Record an impact figure (an observation: region, figure, value, source, as-of time); "
                     "an optional Idempotency-Key makes retries safe")
async def record_impact(request: web.Request) -> web.Response:
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, ImpactCreate)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        impact = await impacts.record(conn, actor=caller, incident_id=incident_id, data=data)
        return created(impact, f"/v1/impacts/{impact.id}")

    return await idempotent(request, data, work, required=False)


@routes.get("/v1/incidents/{id}/impacts", query=ImpactQuery, response=Page[Impact], roles=STAFF,
            errors=(403, 404, 422))
async def list_impacts(request: web.Request) -> web.Response:
    """The history of an incident's impact figures, newest recorded first."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, ImpactQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await impacts.list_impacts(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, region=params.region,
            figure=params.figure, source=params.source,
        )
    return respond(page)


@routes.get("/v1/incidents/{id}/impacts/current", query=ImpactCurrentQuery, response=ImpactCurrent, roles=STAFF,
            errors=(403, 404, 422))
async def current_impacts(request: web.Request) -> web.Response:
    """The current value per region, figure and source (each organization its own): the latest by as-of
    time; with emergency_relocated as Relief's own evacuation records count it (source relief)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, ImpactCurrentQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        result = await impacts.current(
            conn, incident_id=incident_id, region=params.region, figure=params.figure, source=params.source,
        )
    return respond(result)


@routes.get("/v1/impacts/{id}", response=Impact, roles=STAFF, errors=(403, 404))
async def get_impact(request: web.Request) -> web.Response:
    """Read one recorded observation."""
    caller, impact_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        impact = await impacts.get(conn, impact_id=impact_id)
    if impact is None:
        raise HttpProblem("not-found", f"impact figure {impact_id} does not exist")
    return respond(impact)
