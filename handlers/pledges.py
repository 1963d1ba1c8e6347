"""/v1/calls/{id}/pledges and /v1/pledges: pledge once per key, then track each pledge to delivery."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from handlers.common import (
    body,
    idempotency_key,
    idempotency_scope,
    idempotent,
    idempotent_response,
    optional_body,
    path_id,
    pool,
    principal,
    query,
    request_fingerprint,
    respond,
)
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.pledges import (
    CallPledgeQuery,
    Pledge,
    PledgeCreate,
    PledgeDeliver,
    PledgeQuery,
    PledgeReject,
)
from relief import calls, ledger, masking, pledge_batches, pledges
from relief.app_keys import PLEDGE_BATCHES
from relief.errors import Forbidden

routes = Routes("pledges")

OWN_OR_STAFF = "admin, dispatcher, viewer; an organization: its own pledges"


def _shown(request: web.Request, pledge: Pledge) -> Pledge:
    """Team leads' phones by the one masking rule (relief/masking.py)."""
    return masking.shown_model("pledge", pledge, masking.Audience.of(principal(request)))


@routes.post("/v1/calls/{id}/pledges", body=PledgeCreate, response=Pledge, status=201, idempotent=True,
             roles="an approved organization", errors=(403, 404, 409, 422))
async def create_pledge(request: web.Request) -> web.Response:
    """Pledge against an open call; 409 with `remaining` when it is more than the call still needs."""
    caller, call_id = principal(request), path_id(request)
    if caller.role != Role.organization:
        raise Forbidden("pledges are made with an organization's key")
    data = await body(request, PledgeCreate)
    coalescer = request.app.get(PLEDGE_BATCHES)
    if coalescer is not None:  # pledges that arrive together on this call commit together
        key = cast(str, idempotency_key(request))  # required: a missing key is a 400 already
        outcome = await coalescer.pledge(actor=caller, call_id=call_id, data=data, scope=idempotency_scope(caller),
                                         key=key, fingerprint=request_fingerprint(request, data))
        return idempotent_response(outcome, key)
    return await idempotent(request, data, pledge_batches.alone(caller, call_id, data))


@routes.get("/v1/calls/{id}/pledges", query=CallPledgeQuery, response=Page[Pledge], roles=OWN_OR_STAFF,
            errors=(404, 422))
async def list_call_pledges(request: web.Request) -> web.Response:
    """A call's pledges, newest first (an organization sees its own)."""
    caller, call_id = principal(request), path_id(request)
    params = query(request, CallPledgeQuery)
    async with pool(request).acquire() as conn:
        call = await calls.get(conn, call_id=call_id)
        if call is None or (call.status == "draft" and not caller.is_staff):
            raise HttpProblem("not-found", f"call {call_id} does not exist")
        page = await pledges.list_pledges(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            call_id=call_id,
            status=params.status,
            organization_id=None if caller.is_staff else caller.organization_id,
        )
    page.items = [_shown(request, p) for p in page.items]
    return respond(page)


@routes.get("/v1/pledges", query=PledgeQuery, response=Page[Pledge], roles=OWN_OR_STAFF, errors=(422,))
async def list_all_pledges(request: web.Request) -> web.Response:
    """Pledges, newest first, filtered by incident, call, organization and status."""
    caller = principal(request)
    params = query(request, PledgeQuery)
    organization_id = params.organization_id if caller.is_staff else caller.organization_id
    async with pool(request).acquire() as conn:
        page = await pledges.list_pledges(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            call_id=params.call_id,
            incident_id=params.incident_id,
            organization_id=organization_id,
            status=params.status,
        )
    page.items = [_shown(request, p) for p in page.items]
    return respond(page)


@routes.get("/v1/pledges/{id}", response=Pledge, roles=OWN_OR_STAFF, errors=(404,))
async def get_pledge(request: web.Request) -> web.Response:
    """Read one pledge."""
    caller, pledge_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        pledge = await pledges.get(conn, pledge_id=pledge_id)
    if pledge is None or not (caller.is_staff or caller.owns(pledge.organization_id)):
        raise HttpProblem("not-found", f"pledge {pledge_id} does not exist")
    return respond(_shown(request, pledge))


async def _transition(request: web.Request, action: str, **extra: object) -> web.Response:
    caller, pledge_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        pledge = await pledges.transition(conn, actor=caller, pledge_id=pledge_id, action=action, **extra)
    return respond(pledge)


@routes.post("/v1/pledges/{id}/accept", response=Pledge, roles="admin, dispatcher", errors=(403, 404, 409))
async def accept_pledge(request: web.Request) -> web.Response:
    """Accept a pledge (from pledged)."""
    return await _transition(request, "accept")


@routes.post("/v1/pledges/{id}/reject", body=PledgeReject, response=Pledge, roles="admin, dispatcher",
             errors=(403, 404, 409, 422))
async def reject_pledge(request: web.Request) -> web.Response:
    """Reject a pledge with a reason (from pledged); its quantity returns to the call."""
    data = await optional_body(request, PledgeReject)  # no body: 422 naming /reason, not a 415
    return await _transition(request, "reject", reason=data.reason)


@routes.post("/v1/pledges/{id}/withdraw", response=Pledge, roles="the pledging organization",
             errors=(403, 404, 409))
async def withdraw_pledge(request: web.Request) -> web.Response:
    """Withdraw your pledge (from pledged or accepted); its quantity returns to the call."""
    return await _transition(request, "withdraw")


@routes.post("/v1/pledges/{id}/dispatch", response=Pledge, roles="the pledging organization",
             errors=(403, 404, 409))
async def dispatch_pledge(request: web.Request) -> web.Response:
    """Mark your accepted pledge dispatched: it counts as in transit."""
    return await _transition(request, "dispatch")


@routes.post("/v1/pledges/{id}/deliver", body=PledgeDeliver, body_required=False, response=Pledge,
             roles="admin, dispatcher", errors=(403, 404, 409, 422))
async def deliver_pledge(request: web.Request) -> web.Response:
    """Confirm delivery (from accepted or dispatched), of all or part: the rest returns to the call.

    Goods go into stock at `site_id` or `shelter_id` (a location of the incident, else 422), or at the
    incident's intake site when neither is named.
    """
    data = await optional_body(request, PledgeDeliver)
    located = data.site_id is not None or data.shelter_id is not None or data.received_at is not None
    receipt = ledger.Receipt(site_id=data.site_id, shelter_id=data.shelter_id,
                             received_at=data.received_at) if located else None
    # The note is stored where a rejection's reason is (one column of the dispatcher's words) and reads
    # back as delivery_note.
    return await _transition(request, "deliver", delivered=data.quantity, reason=data.note, receipt=receipt)
