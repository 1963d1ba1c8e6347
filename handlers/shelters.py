"""/v1/incidents/{id}/shelters and /v1/shelters: where evacuated people stay, and how full it is."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.shelters import Shelter, ShelterCreate, ShelterQuery, ShelterUpdate
from relief import incidents, shelters

routes = Routes("shelters")

DISPATCHERS = "admin, dispatcher"
STAFF = "admin, dispatcher, viewer"


@routes.post("/v1/incidents/{id}/shelters", body=ShelterCreate, response=Shelter, status=201, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def create_shelter(request: web.Request) -> web.Response:
    """Open a shelter with a capacity under an open incident (shelter.opened)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, ShelterCreate)
    async with pool(request).acquire() as conn:
        shelter = await shelters.create(conn, actor=caller, incident_id=incident_id, data=data)
    return respond(shelter, status=201, headers={"Location": f"/v1/shelters/{shelter.id}"})


@routes.get("/v1/incidents/{id}/shelters", query=ShelterQuery, response=Page[Shelter], roles=STAFF,
            errors=(403, 404, 422))
async def list_shelters(request: web.Request) -> web.Response:
    """An incident's shelters with their occupancy, newest first, filtered by status."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, ShelterQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await shelters.list_shelters(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, status=params.status
        )
    return respond(page)


@routes.get("/v1/shelters/{id}", response=Shelter, roles=STAFF, errors=(403, 404))
async def get_shelter(request: web.Request) -> web.Response:
    """Read a shelter: capacity, occupancy, available places and status."""
    caller, shelter_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        shelter = await shelters.get(conn, shelter_id=shelter_id)
    if shelter is None:
        raise HttpProblem("not-found", f"shelter {shelter_id} does not exist")
    return respond(shelter)


@routes.patch("/v1/shelters/{id}", body=ShelterUpdate, response=Shelter, if_match=True, roles=DISPATCHERS,
              errors=(403, 404, 409, 412, 422, 428))
async def update_shelter(request: web.Request) -> web.Response:
    """Edit a shelter (If-Match); its capacity never below the people it holds (409)."""
    caller, shelter_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    version = if_match(request)
    data = await body(request, ShelterUpdate)
    async with pool(request).acquire() as conn:
        shelter = await shelters.update(conn, actor=caller, shelter_id=shelter_id, version=version, data=data)
    return respond(shelter)


async def _transition(request: web.Request, action: str) -> web.Response:
    caller, shelter_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        return respond(await shelters.transition(conn, actor=caller, shelter_id=shelter_id, action=action))


@routes.post("/v1/shelters/{id}/close", response=Shelter, roles=DISPATCHERS, errors=(403, 404, 409))
async def close_shelter(request: web.Request) -> web.Response:
    """Close an empty shelter (shelter.closed); one that holds anyone is a 409 naming its occupancy."""
    return await _transition(request, "close")


@routes.post("/v1/shelters/{id}/reopen", response=Shelter, roles=DISPATCHERS, errors=(403, 404, 409))
async def reopen_shelter(request: web.Request) -> web.Response:
    """Reopen a closed shelter (shelter.reopened)."""
    return await _transition(request, "reopen")
