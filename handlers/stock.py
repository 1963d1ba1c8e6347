"""/v1/incidents/{id}/stock-movements, /v1/stock-movements, stock levels and minimums.

The bureau's staff read stock; dispatchers record what moves. Organizations see none of it here: what
was done with their goods is in the public use report.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aiohttp import web
from pydantic import Field, TypeAdapter

from handlers.common import body, created, idempotent, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.stock import (
    Minimum,
    Minimums,
    Stock,
    StockMovement,
    StockMovementCreate,
    StockMovementQuery,
    StockQuery,
    StockReceive,
    StockReverse,
)
from relief import counters, incidents, stock, stock_levels

routes = Routes("stock")

DISPATCHERS = "admin, dispatcher"
STAFF = "admin, dispatcher, viewer"
# 409s: `insufficient` (with `available`: what the location holds on hand) or `invalid-state`.
REFUSALS = (403, 404, 409, 422)

MOVEMENT_CREATE: TypeAdapter[StockMovementCreate] = TypeAdapter(StockMovementCreate)
MinimumList = Annotated[list[Minimum], Field(max_length=1000, description="Every minimum the location keeps")]
MINIMUMS: TypeAdapter[list[Minimum]] = TypeAdapter(MinimumList)


@routes.post("/v1/incidents/{id}/stock-movements", body=StockMovementCreate, response=StockMovement, status=201,
             idempotent=True, roles=DISPATCHERS, errors=REFUSALS)
async def record_movement(request: web.Request) -> web.Response:
    """Record a transfer, distribution or write-off; 409 `insufficient` with `available` beyond what is on hand."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, MOVEMENT_CREATE)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        movement = await stock.create(conn, actor=caller, incident_id=incident_id, data=data)
        return created(movement, f"/v1/stock-movements/{movement.id}")

    return await idempotent(request, data, work)


@routes.get("/v1/incidents/{id}/stock-movements", query=StockMovementQuery, response=Page[StockMovement],
            roles=STAFF, errors=(403, 404, 422))
async def list_movements(request: web.Request) -> web.Response:
    """The incident's stock movements, newest first (arrivals and reversals are entries of their own)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, StockMovementQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await stock.list_movements(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, kind=params.kind,
            item=params.item, site_id=params.site_id, shelter_id=params.shelter_id, status=params.status,
        )
    return respond(page)


@routes.get("/v1/stock-movements/{id}", response=StockMovement, roles=STAFF, errors=(403, 404))
async def get_movement(request: web.Request) -> web.Response:
    """Read one stock movement (a transfer says whether it arrived, and how much was lost)."""
    caller, movement_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        movement = await stock.get(conn, movement_id=movement_id)
    if movement is None:
        raise HttpProblem("not-found", f"stock movement {movement_id} does not exist")
    return respond(movement)


@routes.post("/v1/stock-movements/{id}/receive", body=StockReceive, response=StockMovement, status=201,
             roles=DISPATCHERS, errors=REFUSALS)
async def receive_transfer(request: web.Request) -> web.Response:
    """Record a transfer's arrival (an entry of its own), when it arrived (default: now); what did not arrive is
    lost, with a reason."""
    caller, transfer_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, StockReceive)
    async with pool(request).acquire() as conn:
        arrival = await stock.receive(conn, actor=caller, transfer_id=transfer_id, quantity=data.quantity,
                                      reason=data.reason, moved_at=data.moved_at)
    return respond(arrival, status=201, headers={"Location": f"/v1/stock-movements/{arrival.id}"})


@routes.post("/v1/stock-movements/{id}/reverse", body=StockReverse, response=StockMovement, status=201,
             roles=DISPATCHERS, errors=REFUSALS)
async def reverse_movement(request: web.Request) -> web.Response:
    """Take a movement back with a reversal that names it; 409 `insufficient` when its goods have moved on."""
    caller, movement_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, StockReverse)
    async with pool(request).acquire() as conn:
        reversal = await stock.reverse(conn, actor=caller, movement_id=movement_id, reason=data.reason)
    return respond(reversal, status=201, headers={"Location": f"/v1/stock-movements/{reversal.id}"})


@routes.get("/v1/incidents/{id}/stock", query=StockQuery, response=Stock, roles=STAFF, errors=(403, 404, 422))
async def incident_stock(request: web.Request) -> web.Response:
    """Stock levels per location, item and unit, and per item for the incident (from its counters)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, StockQuery)
    async with pool(request).acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):  # one consistent picture
            await incidents.require(conn, incident_id)
            levels = await stock_levels.levels(conn, incident_id=incident_id, site_id=params.site_id,
                                               shelter_id=params.shelter_id, item=params.item)
            tally = await counters.read(conn, incident_id)
    return respond(Stock(levels=levels, totals=stock_levels.totals(tally, params.item),
                         people_reached=tally.get(("people_reached", ""), 0)))


async def _minimums(request: web.Request, *, site_id: UUID | None = None, shelter_id: UUID | None = None):
    caller = principal(request)
    caller.require(Role.dispatcher)
    minimums = await body(request, MINIMUMS)
    async with pool(request).acquire() as conn:
        levels = await stock_levels.set_minimums(conn, actor=caller, site_id=site_id, shelter_id=shelter_id,
                                                 minimums=minimums)
    return respond(Minimums(levels=levels))


@routes.put("/v1/sites/{id}/minimums", body=MinimumList, response=Minimums, roles=DISPATCHERS,
            errors=(403, 404, 422))
async def set_site_minimums(request: web.Request) -> web.Response:
    """Set the site's minimums (those left out are cleared); a level below its minimum emits stock.low."""
    return await _minimums(request, site_id=path_id(request))


@routes.put("/v1/shelters/{id}/minimums", body=MinimumList, response=Minimums, roles=DISPATCHERS,
            errors=(403, 404, 422))
async def set_shelter_minimums(request: web.Request) -> web.Response:
    """Set the shelter's minimums (those left out are cleared); a level below its minimum emits stock.low."""
    return await _minimums(request, shelter_id=path_id(request))
