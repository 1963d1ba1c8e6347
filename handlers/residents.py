"""/v1/incidents/{id}/residents, /v1/residents and /v1/incidents/{id}/evacuations: who was moved, and where.

Residents' ID numbers and phones never leave: responses show ****1234 and 139****5678, and viewers
do not see names.
"""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, created, idempotent, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.residents import (
    Evacuation,
    EvacuationCreate,
    EvacuationQuery,
    Resident,
    ResidentCreate,
    ResidentQuery,
    ResidentRegistered,
    ShelterRef,
)
from relief import idempotency, incidents, residents
from relief.app_keys import SETTINGS

routes = Routes("residents")

DISPATCHERS = "admin, dispatcher"
STAFF = "admin, dispatcher, viewer (viewers do not see names)"
OPTIONAL_KEY = "; an optional Idempotency-Key makes retries safe"


def _shown(request: web.Request, resident: Resident) -> Resident:
    """Names are for dispatchers; viewers read residents without them (DESIGN.md invariant 9)."""
    if principal(request).at_least(Role.dispatcher):
        return resident
    return resident.model_copy(update={"name": None})



@routes.post("/v1/incidents/{id}/residents", body=ResidentCreate, response=ResidentRegistered, status=201,
             also=(200,), idempotency_optional=True, roles=DISPATCHERS, errors=(403, 404, 409, 422),
             summary="Register an evacuated resident (201); the same ID number again gives 200 with the existing "
                     "resident and \"duplicate\": true" + OPTIONAL_KEY)
async def register_resident(request: web.Request) -> web.Response:
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, ResidentCreate)
    secret = request.app[SETTINGS].secret_key.get_secret_value().encode()

    async def work(conn, store):  # type: ignore[no-untyped-def]
        resident, duplicate = await residents.register(
            conn, actor=caller, incident_id=incident_id, data=data, secret=secret
        )
        shown = ResidentRegistered(**resident.model_dump(), duplicate=duplicate)
        location = f"/v1/residents/{resident.id}"
        if duplicate:
            return idempotency.Response(200, shown.model_dump_json().encode(), location)
        return created(shown, location)

    # The idempotency store keeps a fingerprint of the body: make it one of the keyed hash, so that
    # not even a digest of the bare ID number is stored.
    fingerprinted = data.model_copy(update={"id_number": residents.id_hash(secret, data.id_number).hex()})
    return await idempotent(request, fingerprinted, work, required=False)


@routes.get("/v1/incidents/{id}/residents", query=ResidentQuery, response=Page[Resident], roles=STAFF,
            errors=(403, 404, 422))
async def list_residents(request: web.Request) -> web.Response:
    """An incident's residents, newest first; ?q= a name (dispatchers) or the ID's last 4 characters."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, ResidentQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await residents.list_residents(
            conn,
            incident_id=incident_id,
            limit=params.limit,
            cursor=params.cursor,
            q=params.q,
            search_names=caller.at_least(Role.dispatcher),
            status=params.status,
            shelter_id=params.shelter_id,
        )
    page.items = [_shown(request, r) for r in page.items]
    return respond(page)


@routes.get("/v1/residents/{id}", response=Resident, roles=STAFF, errors=(403, 404))
async def get_resident(request: web.Request) -> web.Response:
    """Read a resident: status, shelter, and the ID number and phone masked."""
    caller, resident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        resident = await residents.get(conn, resident_id=resident_id)
    if resident is None:
        raise HttpProblem("not-found", f"resident {resident_id} does not exist")
    return respond(_shown(request, resident))


@routes.post("/v1/residents/{id}/checkin", body=ShelterRef, response=Resident, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def checkin_resident(request: web.Request) -> web.Response:
    """Check a registered resident into a shelter (resident.sheltered); full or closed is a 409."""
    caller, resident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, ShelterRef)
    async with pool(request).acquire() as conn:
        resident = await residents.checkin(conn, actor=caller, resident_id=resident_id, shelter_id=data.shelter_id)
    return respond(resident)


@routes.post("/v1/residents/{id}/move", body=ShelterRef, response=Resident, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def move_resident(request: web.Request) -> web.Response:
    """Move a sheltered resident to another shelter (resident.moved); a full one is a 409."""
    caller, resident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, ShelterRef)
    async with pool(request).acquire() as conn:
        resident = await residents.move(conn, actor=caller, resident_id=resident_id, shelter_id=data.shelter_id)
    return respond(resident)


@routes.post("/v1/residents/{id}/return", response=Resident, roles=DISPATCHERS, errors=(403, 404, 409))
async def return_resident(request: web.Request) -> web.Response:
    """A resident goes home (resident.returned), freeing their place in a shelter."""
    caller, resident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        resident = await residents.return_home(conn, actor=caller, resident_id=resident_id)
    return respond(resident)


@routes.post("/v1/incidents/{id}/evacuations", body=EvacuationCreate, response=Evacuation, status=201, location=False,
             idempotency_optional=True, roles=DISPATCHERS, errors=(403, 404, 409, 422),
             summary="Record a head count evacuated (evacuation.recorded); centralized fills the shelter, "
                     "409 past its capacity" + OPTIONAL_KEY)
async def record_evacuation(request: web.Request) -> web.Response:
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, EvacuationCreate)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        evacuation = await residents.record_evacuation(conn, actor=caller, incident_id=incident_id, data=data)
        # An evacuation record has no URL of its own: it is read back through the incident's list.
        return idempotency.Response(201, evacuation.model_dump_json().encode())

    return await idempotent(request, data, work, required=False)


@routes.get("/v1/incidents/{id}/evacuations", query=EvacuationQuery, response=Page[Evacuation],
            roles="admin, dispatcher, viewer", errors=(403, 404, 422))
async def list_evacuations(request: web.Request) -> web.Response:
    """An incident's aggregate evacuations, newest first, filtered by placement or shelter."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, EvacuationQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await residents.list_evacuations(
            conn,
            incident_id=incident_id,
            limit=params.limit,
            cursor=params.cursor,
            placement=params.placement,
            shelter_id=params.shelter_id,
        )
    return respond(page)
