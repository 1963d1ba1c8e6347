"""API keys: who may issue, list and revoke which keys; authentication; last_used_at; no secret in logs."""

from __future__ import annotations

import hashlib
import logging
import uuid

import pytest

from tests.conftest import Api, make_organization

STAFF_ROLES = ["admin", "dispatcher", "viewer"]


def key_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def key_id(conn, secret: str) -> str:
    return str(await conn.fetchval("select id from api_keys where hash = $1", key_hash(secret)))


async def count_keys(conn) -> int:
    return await conn.fetchval("select count(*) from api_keys")


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def issue(api: Api, **body) -> dict:
    r = await api.post("/v1/keys", json={"name": "issued in a test", **body})
    assert r.status == 201, await r.text()
    assert r.headers["Cache-Control"] == "no-store"
    return await r.json()


# --- POST /v1/keys -------------------------------------------------------------------------------


async def test_admin_issues_every_role(admin, organization, conn):
    for role in STAFF_ROLES:
        created = await issue(admin, role=role)
        assert (created["role"], created["organization_id"]) == (role, None)
        assert created["key"].startswith("rk_") and created["last_used_at"] is None
        assert await conn.fetchval("select role from api_keys where hash = $1", key_hash(created["key"])) == role
    created = await issue(admin, role="organization", organization_id=organization.id)
    assert (created["role"], created["organization_id"]) == ("organization", organization.id)
    r = await Api(admin.client, created["key"]).get("/v1/organizations")
    assert [o["id"] for o in (await r.json())["items"]] == [organization.id]


@pytest.mark.parametrize("role", [*STAFF_ROLES, "organization"])
async def test_dispatcher_may_not_issue_keys(dispatcher, organization, conn, role):
    """A key acts in its holder's name: a dispatcher who could mint one could pledge as any organization."""
    before = await count_keys(conn)
    body = {"name": "x", "role": role} | ({"organization_id": organization.id} if role == "organization" else {})
    await problem(await dispatcher.post("/v1/keys", json=body), 403)
    assert await count_keys(conn) == before


async def test_viewer_may_not_issue(viewer, organization, conn):
    before = await count_keys(conn)
    for body in ({"role": "viewer"}, {"role": "organization", "organization_id": organization.id}):
        await problem(await viewer.post("/v1/keys", json={"name": "x", **body}), 403)
    assert await count_keys(conn) == before


async def test_organization_issues_keys_for_itself_only(organization, dispatcher, conn):
    """organization_id defaults to the caller's own; another organization or a staff role is refused."""
    other = await make_organization(dispatcher, conn, 1)
    created = await issue(organization.api)
    assert (created["role"], created["organization_id"]) == ("organization", organization.id)
    assert (await issue(organization.api, organization_id=organization.id))["organization_id"] == organization.id
    before = await count_keys(conn)
    for body in ({"organization_id": other.id}, {"role": "admin"}, {"role": "viewer"},
                 {"role": "admin", "organization_id": organization.id}):
        await problem(await organization.api.post("/v1/keys", json={"name": "x", **body}), 403)
    assert await count_keys(conn) == before


async def test_organization_id_is_required_exactly_for_organization_keys(admin, organization, conn):
    before = await count_keys(conn)
    body = await problem(await admin.post("/v1/keys", json={"name": "x", "role": "organization"}), 422)
    assert body["errors"][0]["pointer"] == "/organization_id"
    body = await problem(await admin.post("/v1/keys", json={"name": "x", "role": "viewer",
                                                            "organization_id": organization.id}), 422)
    assert body["errors"][0]["pointer"] == "/organization_id"
    await problem(await admin.post("/v1/keys", json={"name": "x", "organization_id": str(uuid.uuid4())}), 404)
    assert await count_keys(conn) == before


# --- GET /v1/keys --------------------------------------------------------------------------------


async def listed(api: Api, query: str = "", secrets: tuple[str, ...] = ()) -> list[dict]:
    """A key list's items, checked to hold neither a secret nor a `key` or `hash` member."""
    r = await api.get(f"/v1/keys{query}")
    assert r.status == 200, await r.text()
    text = await r.text()
    assert not [s for s in secrets if s in text]
    items = (await r.json())["items"]
    assert not [i for i in items if "key" in i or "hash" in i]
    return items


@pytest.fixture
async def two_organizations(dispatcher, organization, conn):
    return organization, await make_organization(dispatcher, conn, 1)


@pytest.fixture
def secrets(admin, dispatcher, viewer, two_organizations) -> tuple[str, ...]:
    mine, other = two_organizations
    return admin.key, dispatcher.key, viewer.key, mine.api.key, other.api.key


async def test_admin_lists_every_key(admin, secrets, conn):
    items = await listed(admin, secrets=secrets)
    assert {i["id"] for i in items} == {str(r["id"]) for r in await conn.fetch("select id from api_keys")}
    assert {i["role"] for i in items} == {"admin", "dispatcher", "viewer", "organization"}


async def test_dispatcher_may_not_list_keys(dispatcher, two_organizations):
    await problem(await dispatcher.get("/v1/keys"), 403)
    await problem(await dispatcher.get("/v1/keys?role=organization"), 403)


async def test_organization_lists_its_own_keys_only(two_organizations, secrets, conn):
    mine, other = two_organizations
    spare = await issue(mine.api)
    expected = {await key_id(conn, mine.api.key), spare["id"]}
    assert {i["id"] for i in await listed(mine.api, secrets=secrets)} == expected
    assert {i["id"] for i in await listed(mine.api, f"?organization_id={other.id}")} == expected
    assert await listed(mine.api, "?role=admin") == []


async def test_viewer_may_not_list(viewer):
    await problem(await viewer.get("/v1/keys"), 403)


# --- DELETE /v1/keys/{id} ------------------------------------------------------------------------


async def test_revoked_key_stops_working(admin, conn):
    created = await issue(admin, role="viewer")
    victim = Api(admin.client, created["key"])
    assert (await victim.get("/v1/organizations")).status == 200
    assert (await admin.delete(f"/v1/keys/{created['id']}")).status == 204
    body = await problem(await victim.get("/v1/organizations"), 401)
    assert body["status"] == 401
    assert await conn.fetchval("select revoked_at from api_keys where id = $1", uuid.UUID(created["id"]))
    assert created["id"] not in {i["id"] for i in await listed(admin)}
    assert created["id"] in {i["id"] for i in await listed(admin, "?include_revoked=true")}


async def test_revoking_twice_is_harmless(admin, conn):
    created = await issue(admin, role="dispatcher")
    for _ in range(2):
        r = await admin.delete(f"/v1/keys/{created['id']}")
        assert r.status == 204, await r.text()
    events = await conn.fetch("select * from events where type = 'key.revoked' and entity_id = $1",
                              uuid.UUID(created["id"]))
    assert len(events) == 1
    assert events[0]["actor_role"] == "admin"
    assert str(events[0]["actor_key_id"]) == await key_id(conn, admin.key)


async def test_organization_revokes_only_its_own_keys(organization, dispatcher, viewer, conn):
    other = await make_organization(dispatcher, conn, 1)
    for secret in (other.api.key, viewer.key, dispatcher.key):
        await problem(await organization.api.delete(f"/v1/keys/{await key_id(conn, secret)}"), 404)
    assert await conn.fetchval("select count(*) from api_keys where revoked_at is not null") == 0
    assert (await other.api.get(f"/v1/organizations/{other.id}")).status == 200
    spare = await issue(organization.api)
    assert (await organization.api.delete(f"/v1/keys/{spare['id']}")).status == 204
    await problem(await Api(organization.api.client, spare["key"]).get("/v1/organizations"), 401)


async def test_only_admins_and_owners_revoke(admin, dispatcher, organization, conn):
    await problem(await dispatcher.delete(f"/v1/keys/{await key_id(conn, admin.key)}"), 403)
    await problem(await dispatcher.delete(f"/v1/keys/{await key_id(conn, organization.api.key)}"), 403)
    assert (await admin.get("/v1/keys")).status == 200
    assert (await organization.api.get(f"/v1/organizations/{organization.id}")).status == 200
    assert (await admin.delete(f"/v1/keys/{await key_id(conn, organization.api.key)}")).status == 204
    await problem(await organization.api.get(f"/v1/organizations/{organization.id}"), 401)


async def test_revoking_an_unknown_key_is_404(admin):
    await problem(await admin.delete(f"/v1/keys/{uuid.uuid4()}"), 404)
    await problem(await admin.delete("/v1/keys/not-a-uuid"), 404)


# --- authentication ------------------------------------------------------------------------------


async def test_missing_authorization_is_401(anonymous):
    r = await anonymous.get("/v1/organizations")
    body = await problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["status"] == 401 and body["type"] and body["title"] and body["detail"]


@pytest.mark.parametrize("header", [
    "Basic xyz", "Bearer ", "Bearer", "Bearer not_a_relief_key", "Bearer rk_unknown", "Token {key}", "{key}",
    "Bearer {key}x",
])
async def test_malformed_authorization_is_401(admin, anonymous, header):
    """Only `Bearer <a live rk_ key>` authenticates; a real key under another scheme does not."""
    r = await anonymous.get("/v1/organizations", headers={"Authorization": header.format(key=admin.key)})
    await problem(r, 401)
    assert "WWW-Authenticate" in r.headers


async def test_last_used_at_is_kept_without_a_write_per_request(admin, conn):
    created = await issue(admin, role="viewer")
    assert created["last_used_at"] is None
    query = "select last_used_at from api_keys where id = $1"
    assert await conn.fetchval(query, uuid.UUID(created["id"])) is None
    user = Api(admin.client, created["key"])
    assert (await user.get("/v1/organizations")).status == 200
    first = await conn.fetchval(query, uuid.UUID(created["id"]))
    assert first is not None
    assert (await user.get("/v1/organizations")).status == 200
    assert await conn.fetchval(query, uuid.UUID(created["id"])) == first
    [item] = [i for i in await listed(admin) if i["id"] == created["id"]]
    assert item["last_used_at"] is not None


async def test_secrets_never_reach_the_logs(admin, caplog):
    caplog.set_level(logging.INFO)
    created = await issue(admin, role="dispatcher")
    user = Api(admin.client, created["key"])
    assert (await user.get("/v1/organizations")).status == 200
    assert (await admin.delete(f"/v1/keys/{created['id']}")).status == 204
    assert (await user.get("/v1/organizations")).status == 401
    assert created["id"] in caplog.text  # the request lines were captured, naming the key by id
    assert created["key"] not in caplog.text
    assert admin.key not in caplog.text
