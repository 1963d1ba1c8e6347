"""/v1/incidents/{id}/calls and /v1/calls: publish needs, edit them, close them; see who could fill them."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, TypeAdapter

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.calls import Call, CallCreate, CallQuery, CallStatus, CallUpdate
from models.common import Input, Page
from models.keys import Role
from models.offers import Matches
from relief import calls, incidents, matching

routes = Routes("calls")

DISPATCHERS = "admin, dispatcher"
EVERYONE = "any key (organizations do not see drafts)"


# The body is a union discriminated by "kind": each kind validated by its own schema.
CALL_CREATE: TypeAdapter[CallCreate] = TypeAdapter(CallCreate)


class MatchQuery(Input):
    """Matches are a ranked top list, not pages: no cursor (one sent is an unknown parameter)."""

    limit: int = Field(default=20, ge=1, le=100, description="How many of the best matches")


async def _visible_call(request: web.Request) -> Call:
    caller, call_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        call = await calls.get(conn, call_id=call_id)
    if call is None or (call.status == CallStatus.draft and not caller.is_staff):
        raise HttpProblem("not-found", f"call {call_id} does not exist")
    return call


@routes.post("/v1/incidents/{id}/calls", body=CallCreate, response=Call, status=201, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def create_call(request: web.Request) -> web.Response:
    """Create a relief call (money, goods or personnel); "status": "open" publishes it at once."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, CALL_CREATE)
    async with pool(request).acquire() as conn:
        call = await calls.create(conn, actor=caller, incident_id=incident_id, data=data)
    return respond(call, status=201, headers={"Location": f"/v1/calls/{call.id}"})


@routes.get("/v1/incidents/{id}/calls", query=CallQuery, response=Page[Call], roles=EVERYONE, errors=(404, 422))
async def list_calls(request: web.Request) -> web.Response:
    """List an incident's calls, newest first, filtered by status, kind, priority, skill or item."""
    caller, incident_id = principal(request), path_id(request)
    params = query(request, CallQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await calls.list_calls(
            conn,
            incident_id=incident_id,
            limit=params.limit,
            cursor=params.cursor,
            status=params.status,
            kind=params.kind,
            priority=params.priority,
            skill=params.skill,
            item=params.item,
            include_drafts=caller.is_staff,
        )
    return respond(page)


@routes.get("/v1/calls/{id}", response=Call, roles=EVERYONE, errors=(404,))
async def get_call(request: web.Request) -> web.Response:
    """Read a call with its counters: requested, committed, in_transit, delivered, remaining."""
    return respond(await _visible_call(request))


@routes.patch("/v1/calls/{id}", body=CallUpdate, response=Call, if_match=True, roles=DISPATCHERS,
              errors=(403, 404, 409, 412, 422, 428))
async def update_call(request: web.Request) -> web.Response:
    """Edit a draft or open call (If-Match); never below what is already committed (409)."""
    caller, call_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    version = if_match(request)
    data = await body(request, CallUpdate)
    async with pool(request).acquire() as conn:
        call = await calls.update(conn, actor=caller, call_id=call_id, version=version, data=data)
    return respond(call)


async def _transition(request: web.Request, action: str) -> web.Response:
    caller, call_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        return respond(await calls.transition(conn, actor=caller, call_id=call_id, action=action))


@routes.post("/v1/calls/{id}/publish", response=Call, roles=DISPATCHERS, errors=(403, 404, 409))
async def publish_call(request: web.Request) -> web.Response:
    """Publish a draft call (call.published): organizations can see it and pledge."""
    return await _transition(request, "publish")


@routes.post("/v1/calls/{id}/close", response=Call, roles=DISPATCHERS, errors=(403, 404, 409))
async def close_call(request: web.Request) -> web.Response:
    """Close a call: no new pledges; pledges already made stay trackable to delivery."""
    return await _transition(request, "close")


@routes.post("/v1/calls/{id}/cancel", response=Call, roles=DISPATCHERS, errors=(403, 404, 409))
async def cancel_call(request: web.Request) -> web.Response:
    """Cancel a call that is no longer needed."""
    return await _transition(request, "cancel")


@routes.get("/v1/calls/{id}/matches", query=MatchQuery, response=Matches, roles="admin, dispatcher, viewer",
            errors=(403, 404, 422))
async def call_matches(request: web.Request) -> web.Response:
    """Rank organizations and open offers that could fill the call, each with its reasons."""
    caller, call_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, MatchQuery)
    async with pool(request).acquire() as conn:
        found = await matching.matches(conn, call_id=call_id, limit=params.limit)
    return respond(found)
