"""/v1/incidents/{id}/offers: capacity organizations put forward unasked."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, path_id, pool, principal, query, respond
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.offers import Offer, OfferCreate, OfferQuery
from relief import incidents, offers
from relief.errors import Forbidden

routes = Routes("offers")


@routes.post("/v1/incidents/{id}/offers", body=OfferCreate, response=Offer, status=201, location=False,
             roles="an approved organization", errors=(403, 404, 409, 422))
async def create_offer(request: web.Request) -> web.Response:
    """Offer capacity (money, goods or people) to an incident without a call (offer.created)."""
    caller, incident_id = principal(request), path_id(request)
    if caller.role != Role.organization:
        raise Forbidden("offers are made with an organization's key")
    data = await body(request, OfferCreate)
    async with pool(request).acquire() as conn:
        offer = await offers.create(conn, actor=caller, incident_id=incident_id, data=data)
    return respond(offer, status=201)


@routes.get("/v1/incidents/{id}/offers", query=OfferQuery, response=Page[Offer],
            roles="admin, dispatcher, viewer; an organization: its own offers", errors=(404, 422))
async def list_offers(request: web.Request) -> web.Response:
    """An incident's offers, newest first."""
    caller, incident_id = principal(request), path_id(request)
    params = query(request, OfferQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await offers.list_offers(
            conn,
            incident_id=incident_id,
            limit=params.limit,
            cursor=params.cursor,
            kind=params.kind,
            organization_id=params.organization_id if caller.is_staff else caller.organization_id,
        )
    return respond(page)
