"""/v1/tasks/{id}/checkins|checkouts|extensions, /v1/incidents/{id}/field and /v1/incidents/{id}/hours:
members on site, the overdue alarm cleared by the one who brings them back or gives them more time,
the muster and the hours worked.

Who acts: a dispatcher, or the team's organization (its lead, through the organization's key) for its
own members on a task its team was asked to do. Who reads: staff all (viewers with masked phones), an
organization its own members only.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from handlers.common import body, idempotent, path_id, pool, principal, query, respond
from handlers.routing import Routes
from models.deployments import CheckinCreate, CheckoutCreate, Deployments, ExtensionCreate, Hours, Muster, MusterQuery
from relief import deployments, idempotency, masking, muster
from relief.app_keys import SETTINGS
from relief.auth import Principal

routes = Routes("deployments")

ACTORS = "admin, dispatcher; the team's organization (its own members)"
READERS = "admin, dispatcher, viewer (phones masked); an organization: its own members"
OPTIONAL_KEY = "; an optional Idempotency-Key makes retries safe"


async def _act(request: web.Request, model, action, status: int) -> web.Response:  # type: ignore[no-untyped-def]
    caller, task_id = principal(request), path_id(request)
    data = await body(request, model)

    async def work(conn, store):  # type: ignore[no-untyped-def]
        done: Deployments = await action(conn, actor=caller, task_id=task_id, data=data)
        # The stints a check-in made are read back in the muster of their task.
        location = f"/v1/incidents/{done.incident_id}/field?task_id={task_id}" if status == 201 else None
        return idempotency.Response(status, done.model_dump_json().encode(), location)

    return await idempotent(request, data, work, required=False)


@routes.post("/v1/tasks/{id}/checkins", body=CheckinCreate, response=Deployments, status=201,
             idempotency_optional=True, roles=ACTORS, errors=(403, 404, 409, 422),
             summary="Check members of an assigned team in on site (deployment.checked_in): all or none; 409 for "
                     "one already on site anywhere, 422 for one not on a team that accepted the task" + OPTIONAL_KEY)
async def check_in(request: web.Request) -> web.Response:
    return await _act(request, CheckinCreate, deployments.check_in, 201)


@routes.post("/v1/tasks/{id}/checkouts", body=CheckoutCreate, response=Deployments, idempotency_optional=True,
             roles=ACTORS, errors=(403, 404, 409, 422),
             summary="Check members out, back safe (deployment.checked_out): their stints end, and any overdue alarm; "
                     "409 names members not on site at this task" + OPTIONAL_KEY)
async def check_out(request: web.Request) -> web.Response:
    return await _act(request, CheckoutCreate, deployments.check_out, 200)


@routes.post("/v1/tasks/{id}/extensions", body=ExtensionCreate, response=Deployments, idempotency_optional=True,
             roles=ACTORS, errors=(403, 404, 409, 422),
             summary="Give members on site a new expected_back_at (deployment.extended): a raised alarm is cleared "
                     "and armed again for the new time" + OPTIONAL_KEY)
async def extend(request: web.Request) -> web.Response:
    return await _act(request, ExtensionCreate, deployments.extend, 200)


def _own(caller: Principal) -> UUID | None:
    """Whose members the caller reads: staff everyone's (None), an organization its own."""
    return None if caller.is_staff else caller.organization_id


@routes.get("/v1/incidents/{id}/field", query=MusterQuery, response=Muster, roles=READERS, errors=(404, 422))
async def field(request: web.Request) -> web.Response:
    """The muster: who is on site now, by task and team, overdue members first (and listed as alarms)."""
    caller, incident_id = principal(request), path_id(request)
    params = query(request, MusterQuery)
    async with pool(request).acquire() as conn:
        found = await muster.muster(
            conn, incident_id=incident_id, grace=request.app[SETTINGS].deployment_overdue_grace,
            audience=masking.Audience.of(caller), organization_id=_own(caller), task_id=params.task_id,
        )
    return respond(found)


@routes.get("/v1/incidents/{id}/hours", response=Hours, roles=READERS, errors=(404,))
async def hours(request: web.Request) -> web.Response:
    """Hours worked on site per member and per organization, exact from the check-in and check-out rows."""
    caller, incident_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        found = await muster.hours_worked(conn, incident_id=incident_id, organization_id=_own(caller))
    return respond(found)
