"""Console sign-in: an API key becomes an HttpOnly cookie; other sites cannot act with it."""

from __future__ import annotations

import pytest

from models.keys import Role
from relief import keys
from relief.auth import SYSTEM
from tests.conftest import incident_body


async def _sign_in(client, key: str) -> dict:
    response = await client.post("/console/session", json={"key": key})
    assert response.status == 200, await response.text()
    return {"body": await response.json(), "cookie": response.headers["Set-Cookie"]}


@pytest.fixture
async def dispatcher_key(conn) -> str:
    return (await keys.create(conn, actor=SYSTEM, name="duty dispatcher", role=Role.dispatcher)).key


async def test_a_key_becomes_an_httponly_strict_cookie(client, dispatcher_key):
    signed = await _sign_in(client, dispatcher_key)
    cookie = signed["cookie"]
    assert cookie.startswith("relief_session=")
    assert dispatcher_key not in cookie  # the cookie is a session token, not the key
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "max-age", "path"} <= attributes
    assert "SameSite=Strict" in cookie
    assert "secure" not in attributes  # served over plain http (tests/test_proxy.py: Secure over https)
    body = signed["body"]
    assert body["role"] == "dispatcher" and body["name"] == "duty dispatcher" and len(body["csrf_token"]) >= 32

    # The cookie now stands for the key: reads need nothing more, and the session can be read back.
    assert (await client.get("/v1/incidents")).status == 200
    again = await client.get("/console/session")
    assert again.status == 200 and (await again.json())["csrf_token"] == body["csrf_token"]
    assert (await again.json())["signed_in"] is True and body["signed_in"] is True


async def test_changes_with_the_cookie_need_our_origin_and_the_csrf_token(client, dispatcher_key):
    csrf = (await _sign_in(client, dispatcher_key))["body"]["csrf_token"]
    origin = f"http://{client.server.host}:{client.server.port}"

    # A cross-site form post: the browser sends the cookie (were SameSite lax) but the Origin is theirs.
    forged = await client.post("/v1/incidents", data={"code": "X"}, headers={"Origin": "https://evil.example"})
    assert forged.status == 403
    assert (await forged.json())["type"].endswith("#problem-forbidden")
    # Our origin but no token (a page that cannot read it), or a wrong one: refused too.
    assert (await client.post("/v1/incidents", json=incident_body(), headers={"Origin": origin})).status == 403
    wrong = {"Origin": origin, "X-CSRF-Token": "not-it"}
    assert (await client.post("/v1/incidents", json=incident_body(), headers=wrong)).status == 403
    assert (await client.post("/v1/incidents", json=incident_body(), headers={"X-CSRF-Token": csrf})).status == 403

    good = {"Origin": origin, "X-CSRF-Token": csrf}
    response = await client.post("/v1/incidents", json=incident_body(), headers=good)
    assert response.status == 201, await response.text()


async def test_sign_out_ends_the_session(client, dispatcher_key):
    csrf = (await _sign_in(client, dispatcher_key))["body"]["csrf_token"]
    origin = f"http://{client.server.host}:{client.server.port}"
    assert (await client.delete("/console/session", headers={"Origin": origin})).status == 403
    response = await client.delete("/console/session", headers={"Origin": origin, "X-CSRF-Token": csrf})
    assert response.status == 204
    assert "relief_session=" in response.headers["Set-Cookie"]  # cleared
    gone = await client.get("/console/session")  # not an error: the sign-in page asks on every load
    assert gone.status == 200 and await gone.json() == {"signed_in": False, "role": None, "name": None,
                                                          "organization_id": None, "csrf_token": None,
                                                          "expires_at": None}
    assert (await client.get("/v1/incidents")).status == 401


async def test_revoking_the_key_ends_its_sessions(client, conn, dispatcher_key):
    await _sign_in(client, dispatcher_key)
    key_id = await conn.fetchval("select key_id from console_sessions")
    await keys.revoke(conn, actor=SYSTEM, key_id=key_id)
    assert (await client.get("/v1/incidents")).status == 401


async def test_bad_keys_and_organization_keys_are_refused(client, dispatcher, conn):
    assert (await client.post("/console/session", json={"key": "rk_nope"})).status == 401
    assert (await client.post("/console/session", json={})).status == 422
    from tests.conftest import make_organization

    org = await make_organization(dispatcher, conn)
    response = await client.post("/console/session", json={"key": org.api.key})
    assert response.status == 403
    assert "Set-Cookie" not in response.headers


async def test_pages_carry_a_strict_policy_and_refuse_framing(client):
    for path in ("/", "/public/incidents/00000000-0000-0000-0000-000000000000", "/v1/incidents"):
        response = await client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
    page = await client.get("/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    config = await (await client.get("/console/config")).json()
    assert config == {"timezone": "Asia/Shanghai", "env": "development", "map_tiles": None}  # no tile server: offline
