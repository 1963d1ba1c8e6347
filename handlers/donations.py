"""/v1/incidents/{id}/donations and /v1/donations: the ledger of what was received."""

from __future__ import annotations

from aiohttp import web
from pydantic import TypeAdapter

from handlers.common import body, created, idempotent, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.donations import Donation, DonationCreate, DonationQuery, DonationReverse
from models.keys import Role
from relief import donations, incidents

routes = Routes("donations")

DONATION_CREATE: TypeAdapter[DonationCreate] = TypeAdapter(DonationCreate)


@routes.post("/v1/incidents/{id}/donations", body=DonationCreate, response=Donation, status=201, idempotent=True,
             roles="admin, dispatcher", errors=(403, 404, 409, 422))
async def record_donation(request: web.Request) -> web.Response:
    """Record money or goods received; with a pledge_id it also delivers that pledge."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, DONATION_CREATE)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        donation = await donations.record(conn, actor=caller, incident_id=incident_id, data=data)
        return created(donation, f"/v1/donations/{donation.id}")

    return await idempotent(request, data, work)


@routes.get("/v1/incidents/{id}/donations", query=DonationQuery, response=Page[Donation],
            roles="admin, dispatcher, viewer; an organization: what it gave", errors=(404, 422))
async def list_donations(request: web.Request) -> web.Response:
    """The incident's ledger, newest first (reversals included, as negative entries)."""
    caller, incident_id = principal(request), path_id(request)
    params = query(request, DonationQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await donations.list_donations(
            conn,
            incident_id=incident_id,
            limit=params.limit,
            cursor=params.cursor,
            kind=params.kind,
            entry=params.entry,
            organization_id=params.organization_id if caller.is_staff else caller.organization_id,
            pledge_id=params.pledge_id,
            call_id=params.call_id,
        )
    return respond(page)


@routes.get("/v1/donations/{id}", response=Donation, roles="admin, dispatcher, viewer; an organization: its own",
            errors=(404,))
async def get_donation(request: web.Request) -> web.Response:
    """Read one ledger entry."""
    caller, donation_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        donation = await donations.get(conn, donation_id=donation_id)
    if donation is None or not (caller.is_staff or caller.owns(donation.donor.organization_id)):
        raise HttpProblem("not-found", f"donation {donation_id} does not exist")
    return respond(donation)


@routes.post("/v1/donations/{id}/reverse", body=DonationReverse, response=Donation, status=201,
             roles="admin, dispatcher", errors=(403, 404, 409, 422))
async def reverse_donation(request: web.Request) -> web.Response:
    """Correct a mistaken entry with a reversal that names it and a reason; nothing is deleted."""
    caller, donation_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, DonationReverse)
    async with pool(request).acquire() as conn:
        reversal = await donations.reverse(conn, actor=caller, donation_id=donation_id, reason=data.reason)
    return respond(reversal, status=201, headers={"Location": f"/v1/donations/{reversal.id}"})
