"""/v1/keys: issue, list and revoke API keys."""

from __future__ import annotations

from aiohttp import web

from handlers.common import body, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Key, KeyCreate, KeyCreated, KeyQuery, Role
from relief import keys
from relief.auth import Principal
from relief.errors import Forbidden

routes = Routes("keys")

WHO = "admin: any key; dispatcher: organizations' keys; an organization: its own keys"


def _may_manage(caller: Principal, key: Key) -> bool:
    if caller.role == Role.admin:
        return True
    if caller.role == Role.dispatcher:
        return key.role == Role.organization
    return caller.owns(key.organization_id)


@routes.post("/v1/keys", body=KeyCreate, response=KeyCreated, status=201, roles=WHO,
             errors=(403, 404, 422))
async def create_key(request: web.Request) -> web.Response:
    """Issue an API key; the key is in the response once and never again."""
    caller = principal(request)
    data = await body(request, KeyCreate)
    organization_id = data.organization_id
    if caller.role == Role.organization:
        organization_id = organization_id or caller.organization_id
        if data.role != Role.organization or organization_id != caller.organization_id:
            raise Forbidden("an organization's key may only issue keys for its own organization")
    elif caller.role == Role.dispatcher and data.role != Role.organization:
        raise Forbidden("dispatchers issue organizations' keys; staff keys come from an admin")
    elif caller.role == Role.viewer:
        raise Forbidden("viewers may not issue keys")
    async with pool(request).acquire() as conn:
        created = await keys.create(
            conn, actor=caller, name=data.name, role=data.role, organization_id=organization_id
        )
    return respond(created, status=201, headers={"Cache-Control": "no-store"})


@routes.get("/v1/keys", query=KeyQuery, response=Page[Key], roles=WHO, errors=(403, 422))
async def list_keys(request: web.Request) -> web.Response:
    """List API keys (never the keys themselves: only their prefixes)."""
    caller = principal(request)
    params = query(request, KeyQuery)
    role, organization_id = params.role, params.organization_id
    if caller.role == Role.viewer:
        raise Forbidden("viewers may not list keys")
    if caller.role == Role.dispatcher:
        if role not in (None, Role.organization):
            raise Forbidden("dispatchers see organizations' keys only")
        role = Role.organization
    if caller.role == Role.organization:
        organization_id = caller.organization_id
    async with pool(request).acquire() as conn:
        page = await keys.list_keys(
            conn,
            limit=params.limit,
            cursor=params.cursor,
            organization_id=organization_id,
            role=role,
            include_revoked=params.include_revoked,
        )
    return respond(page)


@routes.delete("/v1/keys/{id}", response=None, status=204, roles=WHO, errors=(403, 404))
async def revoke_key(request: web.Request) -> web.Response:
    """Revoke an API key; it stops working at once. Revoking twice is harmless."""
    caller, key_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        found = await keys.get(conn, key_id=key_id)
        if found is None or not (_may_manage(caller, found) or caller.is_staff):
            raise HttpProblem("not-found", f"key {key_id} does not exist")
        if not _may_manage(caller, found):
            raise Forbidden(f"a {caller.role} key may not revoke a {found.role} key")
        await keys.revoke(conn, actor=caller, key_id=key_id)
    return web.Response(status=204)
