"""/v1/keys: issue, list, change and revoke API keys.

Only an admin and the organization itself handle an organization's keys: a key lets its holder act
as the organization (pledge in its name), so not even a dispatcher may mint one (DESIGN.md inv. 9).
Only an admin changes a key (its language, and a staff key's notify_email).

A key as read here is shown whole: only admins read staff keys, and an organization reads its own
keys only, which never hold a notify_email (relief/keys.py refuses one), so no masking applies.
"""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Key, KeyCreate, KeyCreated, KeyQuery, KeyUpdate, Role
from relief import keys
from relief.auth import Principal
from relief.errors import Forbidden

routes = Routes("keys")

WHO = "admin: any key; an organization: its own keys"


def require_key_manager(caller: Principal) -> None:
    """Admins and organizations manage keys; the bureau's other roles do not."""
    if caller.role not in (Role.admin, Role.organization):
        raise Forbidden(f"keys are managed by an admin or by the organization itself, not a {caller.role}")


def require_admin(caller: Principal) -> None:
    """Changing a key is an admin's alone (an organization issues and revokes its own, no more)."""
    require_key_manager(caller)
    if caller.role != Role.admin:
        raise Forbidden("only an admin changes a key; an organization may revoke it and issue another")


@routes.post("/v1/keys", body=KeyCreate, response=KeyCreated, status=201, roles=WHO, errors=(403, 404, 422))
async def create_key(request: web.Request) -> web.Response:
    """Issue an API key; the key is in the response once and never again."""
    caller = principal(request)
    require_key_manager(caller)
    data = await body(request, KeyCreate)
    organization_id = data.organization_id
    if caller.role == Role.organization:
        organization_id = organization_id or caller.organization_id
        if data.role != Role.organization or organization_id != caller.organization_id:
            raise Forbidden("an organization's key may only issue keys for its own organization")
    async with pool(request).acquire() as conn:
        created = await keys.create(
            conn, actor=caller, name=data.name, role=data.role, organization_id=organization_id,
            language=data.language, notify_email=data.notify_email,
        )
    return respond(created, status=201, headers={"Cache-Control": "no-store", "Location": f"/v1/keys/{created.id}"})


@routes.get("/v1/keys", query=KeyQuery, response=Page[Key], roles=WHO, errors=(403, 422))
async def list_keys(request: web.Request) -> web.Response:
    """List API keys (never the keys themselves: only their prefixes)."""
    caller = principal(request)
    require_key_manager(caller)
    params = query(request, KeyQuery)
    organization_id = caller.organization_id if caller.role == Role.organization else params.organization_id
    async with pool(request).acquire() as conn:
        page = await keys.list_keys(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            organization_id=organization_id,
            role=params.role,
            include_revoked=params.include_revoked,
        )
    return respond(page)


@routes.patch("/v1/keys/{id}", body=KeyUpdate, response=Key, roles="admin", errors=(403, 404, 409, 422))
async def update_key(request: web.Request) -> web.Response:
    """Change a key's language or notify_email (null removes it); 409 on a revoked key."""
    caller, key_id = principal(request), path_id(request)
    require_admin(caller)
    data = await body(request, KeyUpdate)
    async with pool(request).acquire() as conn:
        updated = await keys.update(conn, actor=caller, key_id=key_id, data=data)
    return respond(updated)


@routes.delete("/v1/keys/{id}", response=None, status=204, roles=WHO, errors=(403, 404))
async def revoke_key(request: web.Request) -> web.Response:
    """Revoke an API key; it stops working at once. Revoking twice is harmless."""
    caller, key_id = principal(request), path_id(request)
    require_key_manager(caller)
    async with pool(request).acquire() as conn:
        found = await keys.get(conn, key_id=key_id)
        if found is None or not (caller.role == Role.admin or caller.owns(found.organization_id)):
            raise HttpProblem("not-found", f"key {key_id} does not exist")
        await keys.revoke(conn, actor=caller, key_id=key_id)
    return web.Response(status=204)
