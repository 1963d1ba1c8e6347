"""/v1/organizations: register, read, update, approve and suspend organizations; issue their keys."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.keys import require_key_manager
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import KeyCreated, OrganizationKeyCreate, Role
from models.organizations import (
    Organization,
    OrganizationCreate,
    OrganizationQuery,
    OrganizationUpdate,
)
from relief import keys, masking, organizations
from relief.auth import Principal
from relief.errors import Forbidden

routes = Routes("organizations")

STAFF_OR_OWN = "admin, dispatcher, viewer; an organization: its own"


def _may_read(caller: Principal, organization_id: UUID) -> bool:
    return caller.is_staff or caller.owns(organization_id)


def _shown(caller: Principal, organization: Organization) -> Organization:
    """Contact phones and emails by the one masking rule (relief/masking.py)."""
    return masking.shown_model("organization", organization, masking.Audience.of(caller))


def _not_found(organization_id: UUID) -> HttpProblem:
    return HttpProblem("not-found", f"organization {organization_id} does not exist")


@routes.post("/v1/organizations", body=OrganizationCreate, response=Organization, status=201,
             roles="admin, dispatcher", errors=(403, 409, 422))
async def create_organization(request: web.Request) -> web.Response:
    """Register an organization (status pending until a dispatcher approves it)."""
    caller = principal(request)
    caller.require(Role.dispatcher)
    data = await body(request, OrganizationCreate)
    async with pool(request).acquire() as conn:
        created = await organizations.create(conn, actor=caller, data=data)
    return respond(created, status=201, headers={"Location": f"/v1/organizations/{created.id}"})


@routes.get("/v1/organizations", query=OrganizationQuery, response=Page[Organization], roles=STAFF_OR_OWN,
            errors=(422,))
async def list_organizations(request: web.Request) -> web.Response:
    """List organizations, newest first (an organization's key sees only its own)."""
    caller = principal(request)
    params = query(request, OrganizationQuery)
    only_id = None if caller.is_staff else caller.organization_id
    async with pool(request).acquire() as conn:
        page = await organizations.list_organizations(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            status=params.status,
            kind=params.kind,
            region=params.region,
            only_id=only_id,
        )
    page.items = [_shown(caller, o) for o in page.items]
    return respond(page)


@routes.get("/v1/organizations/{id}", response=Organization, roles=STAFF_OR_OWN, errors=(404,))
async def get_organization(request: web.Request) -> web.Response:
    """Read one organization."""
    caller, organization_id = principal(request), path_id(request)
    if not _may_read(caller, organization_id):
        raise _not_found(organization_id)
    async with pool(request).acquire() as conn:
        found = await organizations.get(conn, organization_id=organization_id)
    if found is None:
        raise _not_found(organization_id)
    return respond(_shown(caller, found))


@routes.patch("/v1/organizations/{id}", body=OrganizationUpdate, response=Organization, if_match=True,
              roles="admin, dispatcher; an organization: its own, except its credit code",
              errors=(403, 404, 409, 412, 422, 428))
async def update_organization(request: web.Request) -> web.Response:
    """Update an organization's details (If-Match with its ETag)."""
    caller, organization_id = principal(request), path_id(request)
    if not (caller.at_least(Role.dispatcher) or caller.owns(organization_id)):
        if caller.is_staff:
            raise Forbidden("this action needs the dispatcher role")
        raise _not_found(organization_id)
    version = if_match(request)
    data = await body(request, OrganizationUpdate)
    if "credit_code" in data.model_fields_set and not caller.at_least(Role.dispatcher):
        raise Forbidden("only the bureau changes an organization's credit code")
    async with pool(request).acquire() as conn:
        updated = await organizations.update(
            conn, actor=caller, organization_id=organization_id, version=version, data=data
        )
    return respond(updated)


async def _transition(request: web.Request, action: str) -> web.Response:
    caller, organization_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    async with pool(request).acquire() as conn:
        changed = await organizations.transition(
            conn, actor=caller, organization_id=organization_id, action=action
        )
    return respond(changed)


@routes.post("/v1/organizations/{id}/approve", response=Organization, roles="admin, dispatcher",
             errors=(403, 404, 409))
async def approve_organization(request: web.Request) -> web.Response:
    """Approve an organization so it may pledge (from pending or suspended)."""
    return await _transition(request, "approve")


@routes.post("/v1/organizations/{id}/suspend", response=Organization, roles="admin, dispatcher",
             errors=(403, 404, 409))
async def suspend_organization(request: web.Request) -> web.Response:
    """Suspend an organization: its keys still read, but it may not pledge."""
    return await _transition(request, "suspend")


@routes.post("/v1/organizations/{id}/keys", body=OrganizationKeyCreate, response=KeyCreated, status=201,
             roles="admin; an organization: its own", errors=(403, 404, 422))
async def create_organization_key(request: web.Request) -> web.Response:
    """Issue an API key for an organization; the key is in the response once and never again."""
    caller, organization_id = principal(request), path_id(request)
    if caller.role == Role.organization and not caller.owns(organization_id):
        raise _not_found(organization_id)
    require_key_manager(caller)
    data = await body(request, OrganizationKeyCreate)
    async with pool(request).acquire() as conn:
        created = await keys.create(
            conn, actor=caller, name=data.name, role=Role.organization, organization_id=organization_id
        )
    return respond(created, status=201, headers={"Cache-Control": "no-store", "Location": f"/v1/keys/{created.id}"})


__all__ = ["routes"]
