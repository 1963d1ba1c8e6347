"""/v1/pledges/{id}/roster: who exactly a personnel pledge sends, set by its organization."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, respond
from handlers.routing import Routes
from models.keys import Role
from models.rosters import Roster, RosterSet
from relief import masking, rosters
from relief.errors import Forbidden

routes = Routes("rosters")


def _shown(request: web.Request, roster: Roster) -> Roster:
    """Members' phones, emails, emergency contacts and certificate numbers by the one masking rule."""
    return masking.shown_model("roster", roster, masking.Audience.of(principal(request)))


@routes.get("/v1/pledges/{id}/roster", response=Roster,
            roles="admin, dispatcher, viewer (contacts masked); an organization: its own", errors=(404,))
async def get_roster(request: web.Request) -> web.Response:
    """A personnel pledge's roster; its ETag is what PUT takes in If-Match ("0" before the first)."""
    caller, pledge_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        roster = await rosters.get(conn, actor=caller, pledge_id=pledge_id)
    return respond(_shown(request, roster))


@routes.put("/v1/pledges/{id}/roster", body=RosterSet, response=Roster, if_match=True,
            roles="the pledging organization", errors=(403, 404, 409, 412, 422, 428))
async def put_roster(request: web.Request) -> web.Response:
    """Set the whole roster (If-Match): listed ids stay, new members join, unlisted members leave.

    409 beyond the pledge's headcount, for a phone already on a roster of the incident, for removing a
    member on site, and on a rejected or withdrawn pledge; 422 on a pledge that is not for personnel.
    """
    caller, pledge_id = principal(request), path_id(request)
    if caller.role != Role.organization:  # the role alone decides: before asking for If-Match
        raise Forbidden("the pledging organization sets its roster; the bureau's dispatchers read it")
    version = if_match(request)
    data = await body(request, RosterSet)
    async with pool(request).acquire() as conn:
        roster = await rosters.put(conn, actor=caller, pledge_id=pledge_id, version=version, data=data)
    return respond(_shown(request, roster))
