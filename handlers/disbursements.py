"""/v1/incidents/{id}/disbursements, /v1/disbursements and /v1/incidents/{id}/funds: money paid out.

The bureau's own business: dispatchers write, viewers read, organizations get 403 (they see the
public use report). Four eyes rest on one key per person: the key that proposed a disbursement
cannot decide it.
"""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, created, idempotent, optional_body, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.disbursements import Disbursement, DisbursementCreate, DisbursementDecision, DisbursementQuery, Fund
from models.keys import Role
from relief import disbursements, funds, incidents
from relief.auth import Principal

routes = Routes("disbursements")

WRITERS = "admin, dispatcher"
READERS = "admin, dispatcher, viewer"


def _staff(request: web.Request) -> Principal:
    caller = principal(request)
    caller.require(Role.viewer)  # organizations: 403
    return caller


@routes.post("/v1/incidents/{id}/disbursements", body=DisbursementCreate, response=Disbursement, status=201,
             idempotent=True, roles=WRITERS, errors=(403, 404, 409, 422))
async def propose_disbursement(request: web.Request) -> web.Response:
    """Propose a payment from a fund (unearmarked, or an earmark of its purpose holding its region); 409 on a
    voucher number already used in the incident. Nothing is paid until another dispatcher approves it."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, DisbursementCreate)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        proposed = await disbursements.propose(conn, actor=caller, incident_id=incident_id, data=data)
        return created(proposed, f"/v1/disbursements/{proposed.id}")

    return await idempotent(request, data, work)


@routes.get("/v1/incidents/{id}/disbursements", query=DisbursementQuery, response=Page[Disbursement], roles=READERS,
            errors=(403, 404, 422))
async def list_disbursements(request: web.Request) -> web.Response:
    """The incident's disbursements, newest first (reversals included, as negative entries)."""
    _staff(request)
    incident_id = path_id(request)
    params = query(request, DisbursementQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await disbursements.list_disbursements(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, status=params.status,
            purpose=params.purpose, entry=params.entry,
        )
    return respond(page)


@routes.get("/v1/incidents/{id}/funds", response=Page[Fund], roles=READERS, errors=(403, 404))
async def list_funds(request: web.Request) -> web.Response:
    """Each fund (a currency, and an earmark or none): received, paid, balance and proposed; one page."""
    _staff(request)
    incident_id = path_id(request)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        items = await funds.list_funds(conn, incident_id=incident_id)
    return respond(Page[Fund](items=items))


@routes.get("/v1/disbursements/{id}", response=Disbursement, roles=READERS, errors=(403, 404))
async def get_disbursement(request: web.Request) -> web.Response:
    """Read one disbursement."""
    _staff(request)
    disbursement_id = path_id(request)
    async with pool(request).acquire() as conn:
        found = await disbursements.get(conn, disbursement_id=disbursement_id)
    if found is None:
        raise HttpProblem("not-found", f"disbursement {disbursement_id} does not exist")
    return respond(found)


@routes.post("/v1/disbursements/{id}/approve", response=Disbursement, roles=f"{WRITERS}; not the proposing key",
             errors=(403, 404, 409))
async def approve_disbursement(request: web.Request) -> web.Response:
    """Approve a proposed disbursement with another key than the proposer's (403 otherwise): it is paid from its
    fund, or refused with 409 and `available` (the fund's balance) when the fund holds less."""
    caller, disbursement_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        approved = await disbursements.decide(conn, actor=caller, disbursement_id=disbursement_id, approve=True)
    return respond(approved)


@routes.post("/v1/disbursements/{id}/reject", body=DisbursementDecision, response=Disbursement,
             roles=f"{WRITERS}; not the proposing key", errors=(403, 404, 409, 422))
async def reject_disbursement(request: web.Request) -> web.Response:
    """Reject a proposed disbursement with a reason, with another key than the proposer's (403 otherwise)."""
    caller, disbursement_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await optional_body(request, DisbursementDecision)  # no body: 422 naming /reason, not a 415
    async with pool(request).acquire() as conn:
        rejected = await disbursements.decide(conn, actor=caller, disbursement_id=disbursement_id, approve=False,
                                              reason=data.reason)
    return respond(rejected)


@routes.post("/v1/disbursements/{id}/reverse", body=DisbursementDecision, response=Disbursement, status=201,
             roles=WRITERS, errors=(403, 404, 409, 422))
async def reverse_disbursement(request: web.Request) -> web.Response:
    """Correct an approved payment with a reversal that names it and a reason: the money returns to its fund. The
    reversal pays nobody, so one dispatcher records it and it counts at once; nothing is deleted."""
    caller, disbursement_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await optional_body(request, DisbursementDecision)
    async with pool(request).acquire() as conn:
        reversal = await disbursements.reverse(conn, actor=caller, disbursement_id=disbursement_id,
                                               reason=data.reason)
    return respond(reversal, status=201, headers={"Location": f"/v1/disbursements/{reversal.id}"})
