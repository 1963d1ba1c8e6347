"""/v1/regions: the GB/T 2260 table, one level at a time, for the console's region picker."""

from __future__ import annotations

from aiohttp import web

from handlers.common import principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models import regions
from models.regions import RegionList, RegionQuery

routes = Routes("regions")


@routes.get("/v1/regions", query=RegionQuery, response=RegionList, roles="any key", errors=(404, 422))
async def list_regions(request: web.Request) -> web.Response:
    """List the divisions under a province or city (the provinces without `parent`), with their names."""
    principal(request)  # any key: the table is public data, but the API is for its callers
    params = query(request, RegionQuery)
    parent = None if params.parent is None else params.parent.ljust(6, "0")
    if parent is not None and not regions.known(parent):
        raise HttpProblem("not-found", f"the region table ({regions.source()['as_of']}) has no division {parent}; "
                          "a code it lacks is still accepted as a region, only its name is null")
    return respond(RegionList(items=[regions.entry(code) for code in regions.children(parent)]))
