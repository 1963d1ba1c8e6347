"""/v1/incidents/{id}/sites and /v1/sites: the warehouses and points where goods are held."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.sites import Site, SiteCreate, SiteQuery, SiteUpdate
from relief import incidents, masking, sites
from relief.auth import Principal

routes = Routes("sites")

DISPATCHERS = "admin, dispatcher"
STAFF = "admin, dispatcher, viewer (the manager's phone masked)"


def _shown(caller: Principal, site: Site) -> Site:
    """The manager's phone by the one masking rule (relief/masking.py)."""
    return masking.shown_model("site", site, masking.Audience.of(caller))


@routes.post("/v1/incidents/{id}/sites", body=SiteCreate, response=Site, status=201, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def create_site(request: web.Request) -> web.Response:
    """Open a site where goods are held, under an open incident (site.opened); names unique per incident."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, SiteCreate)
    async with pool(request).acquire() as conn:
        site = await sites.create(conn, actor=caller, incident_id=incident_id, data=data)
    return respond(site, status=201, headers={"Location": f"/v1/sites/{site.id}"})


@routes.get("/v1/incidents/{id}/sites", query=SiteQuery, response=Page[Site], roles=STAFF, errors=(403, 404, 422))
async def list_sites(request: web.Request) -> web.Response:
    """An incident's sites, newest first, filtered by kind (the intake site among them once used)."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, SiteQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await sites.list_sites(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, kind=params.kind
        )
    page.items = [_shown(caller, s) for s in page.items]
    return respond(page)


@routes.get("/v1/sites/{id}", response=Site, roles=STAFF, errors=(403, 404))
async def get_site(request: web.Request) -> web.Response:
    """Read a site."""
    caller, site_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        site = await sites.get(conn, site_id=site_id)
    if site is None:
        raise HttpProblem("not-found", f"site {site_id} does not exist")
    return respond(_shown(caller, site))


@routes.patch("/v1/sites/{id}", body=SiteUpdate, response=Site, if_match=True, roles=DISPATCHERS,
              errors=(403, 404, 409, 412, 422, 428))
async def update_site(request: web.Request) -> web.Response:
    """Edit a site (If-Match; site.updated); a name another site of the incident has is a 409."""
    caller, site_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    version = if_match(request)
    data = await body(request, SiteUpdate)
    async with pool(request).acquire() as conn:
        site = await sites.update(conn, actor=caller, site_id=site_id, version=version, data=data)
    return respond(site)
