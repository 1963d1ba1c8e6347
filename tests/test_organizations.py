"""Organizations: registration, validation, roles, lifecycle, updates, visibility, events and their keys."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.conftest import CREDIT_CODES, Api, make_organization, organization_body

# GB 32100-2015, written out here so the tests do not lean on the code under test.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return first17 + ALPHABET[-total % 31]


def extra_code(i: int) -> str:
    return credit_code(f"913205000000{i:05d}")


async def key_id(conn, secret: str) -> uuid.UUID:
    return await conn.fetchval("select id from api_keys where hash = $1", hashlib.sha256(secret.encode()).digest())


async def events_of(conn, entity_id: str) -> list:
    return await conn.fetch("select * from events where entity_id = $1 order by id", uuid.UUID(entity_id))


async def count_organizations(conn) -> int:
    return await conn.fetchval("select count(*) from organizations")


async def create(api: Api, index: int = 0, **overrides):
    return await api.post("/v1/organizations", json=organization_body(index, **overrides))


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


def test_reference_codes_agree_with_helper():
    assert [credit_code(c[:17]) for c in CREDIT_CODES] == CREDIT_CODES


# --- registration and validation ---------------------------------------------------------------


async def test_valid_code_is_accepted(dispatcher, conn):
    r = await create(dispatcher)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["status"] == "pending" and body["version"] == 1
    assert body["credit_code"] == CREDIT_CODES[0]
    assert r.headers["Location"] == f"/v1/organizations/{body['id']}"
    assert r.headers["ETag"] == '"1"'
    fetched = await dispatcher.get(r.headers["Location"])
    assert fetched.status == 200 and await fetched.json() == body
    assert await conn.fetchval("select credit_code from organizations") == CREDIT_CODES[0]


WRONG_CHECK = [c[:17] + next(x for x in ALPHABET if x != c[17]) for c in CREDIT_CODES]
# I, O, S, V, Z are not in the alphabet (they look like 1, 0, 5, U, 2).
EXCLUDED_LETTER = [CREDIT_CODES[0][:8] + x + CREDIT_CODES[0][9:] for x in "IOSVZ"]
WRONG_LENGTH = [CREDIT_CODES[0][:17], CREDIT_CODES[0] + "0"]


@pytest.mark.parametrize("code", WRONG_CHECK + EXCLUDED_LETTER + WRONG_LENGTH)
async def test_invalid_code_is_422(dispatcher, conn, code):
    body = await problem(await create(dispatcher, credit_code=code), 422)
    assert body["errors"][0]["pointer"] == "/credit_code"
    assert await count_organizations(conn) == 0


async def test_lowercase_code_is_normalised(dispatcher, conn):
    r = await create(dispatcher, credit_code=f" {CREDIT_CODES[0].lower()} ")
    assert r.status == 201, await r.text()
    assert (await r.json())["credit_code"] == CREDIT_CODES[0]
    assert await conn.fetchval("select credit_code from organizations") == CREDIT_CODES[0]


async def test_duplicate_code_is_409(dispatcher, conn):
    assert (await create(dispatcher)).status == 201
    for code in (CREDIT_CODES[0], CREDIT_CODES[0].lower()):
        body = await problem(await create(dispatcher, name="另一个救援队", credit_code=code), 409)
        assert body["status"] == 409
        assert body["type"] and body["title"] and CREDIT_CODES[0] in body["detail"]
    assert await count_organizations(conn) == 1


@pytest.mark.parametrize("region", ["990000", "12345", "1234567", "100000", "32050a"])
async def test_invalid_region_is_422(dispatcher, conn, region):
    body = await problem(await create(dispatcher, region=region), 422)
    assert body["errors"][0]["pointer"] == "/region"
    assert await count_organizations(conn) == 0


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [({"website": "https://example.org"}, "/website"), ({"kind": "church"}, "/kind")],
)
async def test_unknown_field_and_bad_kind_are_422(dispatcher, conn, overrides, pointer):
    body = await problem(await create(dispatcher, **overrides), 422)
    assert [e["pointer"] for e in body["errors"]] == [pointer]
    assert await count_organizations(conn) == 0


# --- who may register ----------------------------------------------------------------------------


async def test_organization_and_viewer_cannot_create(organization, viewer, anonymous, conn):
    assert (await problem(await create(organization.api, 1), 403))["status"] == 403
    await problem(await create(viewer, 1), 403)
    await problem(await create(anonymous, 1), 401)
    assert await count_organizations(conn) == 1  # only the fixture's


async def test_dispatcher_and_admin_can_create(dispatcher, admin, conn):
    for index, api in enumerate((dispatcher, admin)):
        r = await create(api, index)
        assert r.status == 201, await r.text()
    assert await count_organizations(conn) == 2


# --- approve and suspend -------------------------------------------------------------------------


async def test_lifecycle(dispatcher, conn):
    org_id = (await (await create(dispatcher)).json())["id"]
    steps = [("approve", "approved", 2), ("suspend", "suspended", 3), ("approve", "approved", 4)]
    for action, status, version in steps:
        r = await dispatcher.post(f"/v1/organizations/{org_id}/{action}")
        assert r.status == 200, await r.text()
        body = await r.json()
        assert (body["status"], body["version"]) == (status, version)
        assert r.headers["ETag"] == f'"{version}"'
    assert await conn.fetchval("select status from organizations where id = $1", uuid.UUID(org_id)) == "approved"


async def test_approving_approved_is_409(organization, dispatcher):
    body = await problem(await dispatcher.post(f"/v1/organizations/{organization.id}/approve"), 409)
    assert body["state"] == "approved"
    assert (await dispatcher.post(f"/v1/organizations/{organization.id}/suspend")).status == 200
    body = await problem(await dispatcher.post(f"/v1/organizations/{organization.id}/suspend"), 409)
    assert body["state"] == "suspended"


async def test_only_dispatchers_approve(organization, dispatcher, viewer, conn):
    pending = await make_organization(dispatcher, conn, 1, approve=False)
    for api in (organization.api, pending.api, viewer):
        await problem(await api.post(f"/v1/organizations/{pending.id}/approve"), 403)
    await problem(await organization.api.post(f"/v1/organizations/{organization.id}/suspend"), 403)
    statuses = dict(await conn.fetch("select id::text, status from organizations"))
    assert statuses == {organization.id: "approved", pending.id: "pending"}
    await problem(await dispatcher.post(f"/v1/organizations/{uuid.uuid4()}/approve"), 404)


# --- updates -------------------------------------------------------------------------------------


async def test_dispatcher_updates_name(organization, dispatcher):
    path = f"/v1/organizations/{organization.id}"
    etag = (await dispatcher.get(path)).headers["ETag"]
    r = await dispatcher.patch(path, json={"name": "吴江蓝天救援队"}, headers={"If-Match": etag})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["name"] == "吴江蓝天救援队" and body["version"] == organization.body["version"] + 1
    assert r.headers["ETag"] != etag and r.headers["ETag"] == f'"{body["version"]}"'
    assert (await (await dispatcher.get(path)).json())["name"] == "吴江蓝天救援队"


async def test_patch_preconditions(organization, dispatcher, conn):
    path = f"/v1/organizations/{organization.id}"
    stale = f'"{organization.body["version"] - 1}"'
    await problem(await dispatcher.patch(path, json={"name": "x"}, headers={"If-Match": stale}), 412)
    await problem(await dispatcher.patch(path, json={"name": "x"}), 428)
    current = f'"{organization.body["version"]}"'
    body = await problem(await dispatcher.patch(path, json={"name": None}, headers={"If-Match": current}), 422)
    assert body["errors"][0]["pointer"] == "/name"
    row = await conn.fetchrow("select name, version from organizations where id = $1", uuid.UUID(organization.id))
    assert (row["name"], row["version"]) == (organization.body["name"], organization.body["version"])


async def test_organization_updates_own_contact_only(organization, dispatcher, conn):
    other = await make_organization(dispatcher, conn, 1)
    mine = f"/v1/organizations/{organization.id}"
    etag = {"If-Match": f'"{organization.body["version"]}"'}
    contact = {"name": "李队长", "phone": "13800000000"}
    r = await organization.api.patch(mine, json={"contact": contact}, headers=etag)
    assert r.status == 200, await r.text()
    assert (await r.json())["contact"]["name"] == "李队长"
    etag = {"If-Match": r.headers["ETag"]}
    await problem(await organization.api.patch(mine, json={"credit_code": CREDIT_CODES[0]}, headers=etag), 403)
    await problem(await organization.api.patch(mine, json={"credit_code": CREDIT_CODES[2]}, headers=etag), 403)
    theirs = f"/v1/organizations/{other.id}"
    await problem(await organization.api.patch(theirs, json={"contact": contact}, headers={"If-Match": '"2"'}), 404)
    rows = dict(await conn.fetch("select id::text, credit_code from organizations"))
    assert rows == {organization.id: CREDIT_CODES[0], other.id: CREDIT_CODES[1]}
    assert (await (await dispatcher.get(theirs)).json())["contact"] == other.body["contact"]


@pytest.mark.parametrize("change", [
    {"name": organization_body(0)["name"]},
    {"region": "320500", "kind": "volunteer_team"},
    {"contact": {"name": "王队长", "phone": "13912345678", "email": None}},
    {"capabilities": organization_body(0)["capabilities"]},
    {"contact": organization_body(0)["contact"]},  # as registered: email left out, as it was then
], ids=["name", "region-kind", "contact-as-read", "capabilities", "contact-as-registered"])
async def test_noop_patch_keeps_version(organization, dispatcher, conn, change):
    """Sending a field's current value changes nothing: same version, same ETag, no event."""
    path = f"/v1/organizations/{organization.id}"
    current = await (await dispatcher.get(path)).json()
    etag = f'"{current["version"]}"'
    r = await dispatcher.patch(path, json=change, headers={"If-Match": etag})
    assert r.status == 200, await r.text()
    assert (await r.json())["version"] == current["version"]
    assert r.headers["ETag"] == etag
    assert [e["type"] for e in await events_of(conn, organization.id)] == [
        "organization.created", "organization.approved"]


# --- visibility and lists ------------------------------------------------------------------------


async def test_organization_sees_only_itself_and_staff_see_all(organization, dispatcher, viewer, conn):
    other = await make_organization(dispatcher, conn, 1)
    r = await organization.api.get("/v1/organizations")
    assert r.status == 200
    assert [o["id"] for o in (await r.json())["items"]] == [organization.id]
    assert (await organization.api.get(f"/v1/organizations/{organization.id}")).status == 200
    await problem(await organization.api.get(f"/v1/organizations/{other.id}"), 404)
    items = (await (await viewer.get("/v1/organizations")).json())["items"]
    assert {o["id"] for o in items} == {organization.id, other.id}
    assert (await viewer.get(f"/v1/organizations/{other.id}")).status == 200


async def test_list_filters(organization, dispatcher, viewer):
    b = await (await create(dispatcher, 1, kind="foundation", region="110105")).json()
    c = await (await create(dispatcher, 2, kind="charity", region="320583")).json()
    a = organization.id
    cases = {
        "status=approved": {a},
        "status=pending": {b["id"], c["id"]},
        "kind=foundation": {b["id"]},
        "region=320000": {a, c["id"]},
        "region=320500": {a, c["id"]},
        "region=320583": {c["id"]},
        "region=110000": {b["id"]},
        "status=pending&region=320000": {c["id"]},
        "kind=enterprise": set(),
    }
    for params, expected in cases.items():
        r = await viewer.get(f"/v1/organizations?{params}")
        assert r.status == 200, (params, await r.text())
        assert {o["id"] for o in (await r.json())["items"]} == expected, params


async def test_cursor_pagination(dispatcher, viewer):
    for i in range(5):
        assert (await create(dispatcher, 0, credit_code=extra_code(i))).status == 201
    everything = [o["id"] for o in (await (await viewer.get("/v1/organizations")).json())["items"]]
    assert len(everything) == 5
    seen, params = [], {"limit": 1}
    while len(seen) < 10:
        r = await viewer.get("/v1/organizations", params=params)
        assert r.status == 200, await r.text()
        page = await r.json()
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == everything  # all of them, once each, newest first, and next_cursor null after the last


@pytest.mark.parametrize("params", [
    {"cursor": "garbage"}, {"cursor": "W10"}, {"cursor": "!!!"}, {"limit": "0"}, {"limit": "201"},
    {"status": "closed"}, {"region": "990000"}, {"sort": "name"},
])
async def test_bad_list_parameters_are_422(viewer, params):
    """Garbage cursors, out-of-range values and unknown parameters each name the parameter at fault."""
    body = await problem(await viewer.get("/v1/organizations", params=params), 422)
    assert body["errors"][0]["parameter"] == next(iter(params))


# --- events --------------------------------------------------------------------------------------


async def test_each_mutation_is_one_event(dispatcher, conn):
    org_id = (await (await create(dispatcher)).json())["id"]
    path = f"/v1/organizations/{org_id}"
    assert (await dispatcher.patch(path, json={"name": "新名字"}, headers={"If-Match": '"1"'})).status == 200
    assert (await dispatcher.post(f"{path}/approve")).status == 200
    assert (await dispatcher.post(f"{path}/suspend")).status == 200
    assert (await dispatcher.post(f"{path}/suspend")).status == 409  # refused: no event
    events = await events_of(conn, org_id)
    assert [e["type"] for e in events] == [
        "organization.created", "organization.updated", "organization.approved", "organization.suspended"]
    actor = await key_id(conn, dispatcher.key)
    for e in events:
        assert (e["actor_role"], e["actor_key_id"], e["entity_type"]) == ("dispatcher", actor, "organization")
        assert e["organization_id"] == uuid.UUID(org_id)
    created, updated, approved, suspended = events
    assert created["before"] is None
    assert (created["after"]["id"], created["after"]["status"], created["after"]["version"]) == (org_id, "pending", 1)
    assert (updated["before"]["name"], updated["after"]["name"]) == (organization_body(0)["name"], "新名字")
    assert (updated["before"]["version"], updated["after"]["version"]) == (1, 2)
    assert (approved["before"]["status"], approved["after"]["status"]) == ("pending", "approved")
    assert (suspended["before"]["status"], suspended["after"]["status"]) == ("approved", "suspended")


async def test_organization_update_event_names_its_key(organization, conn):
    r = await organization.api.patch(f"/v1/organizations/{organization.id}", json={"contact": {"name": "李队长"}},
                                     headers={"If-Match": f'"{organization.body["version"]}"'})
    assert r.status == 200, await r.text()
    event = (await events_of(conn, organization.id))[-1]
    assert event["type"] == "organization.updated"
    assert event["actor_role"] == "organization"
    assert event["actor_key_id"] == await key_id(conn, organization.api.key)
    assert event["actor_organization_id"] == uuid.UUID(organization.id)
    assert (event["before"]["contact"]["name"], event["after"]["contact"]["name"]) == ("王队长", "李队长")


# --- an organization's keys ----------------------------------------------------------------------


async def test_admin_issues_organization_key(organization, admin, dispatcher, conn):
    await problem(await dispatcher.post(f"/v1/organizations/{organization.id}/keys", json={"name": "x"}), 403)
    r = await admin.post(f"/v1/organizations/{organization.id}/keys", json={"name": "field team"})
    assert r.status == 201, await r.text()
    assert r.headers["Cache-Control"] == "no-store"
    body = await r.json()
    secret = body["key"]
    assert secret.startswith("rk_") and secret.startswith(body["prefix"]) and len(secret) > len(body["prefix"])
    assert (body["role"], body["organization_id"]) == ("organization", organization.id)
    assert (await Api(admin.client, secret).get(f"/v1/organizations/{organization.id}")).status == 200
    row = await conn.fetchrow("select * from api_keys where id = $1", uuid.UUID(body["id"]))
    assert bytes(row["hash"]) == hashlib.sha256(secret.encode()).digest()
    leaks = "select count(*) from {} t where row_to_json(t)::text like '%' || $1 || '%'"
    assert await conn.fetchval(leaks.format("api_keys"), secret) == 0
    assert await conn.fetchval(leaks.format("events"), secret) == 0


async def test_organization_issues_its_own_keys_only(organization, admin, dispatcher, viewer, conn):
    other = await make_organization(dispatcher, conn, 1)
    before = await conn.fetchval("select count(*) from api_keys")
    r = await organization.api.post(f"/v1/organizations/{organization.id}/keys", json={"name": "backup"})
    assert r.status == 201, await r.text()
    assert (await r.json())["organization_id"] == organization.id
    await problem(await organization.api.post(f"/v1/organizations/{other.id}/keys", json={"name": "x"}), 404)
    await problem(await viewer.post(f"/v1/organizations/{other.id}/keys", json={"name": "x"}), 403)
    await problem(await dispatcher.post(f"/v1/organizations/{other.id}/keys", json={"name": "x"}), 403)
    await problem(await admin.post(f"/v1/organizations/{uuid.uuid4()}/keys", json={"name": "x"}), 404)
    assert await conn.fetchval("select count(*) from api_keys") == before + 1


async def test_pending_organization_cannot_be_suspended(dispatcher, conn):
    """pending → approved ⇄ suspended: suspending needs an approved organization."""
    pending = await make_organization(dispatcher, conn, 1, approve=False)
    response = await dispatcher.post(f"/v1/organizations/{pending.id}/suspend")
    assert response.status == 409
    assert (await response.json())["state"] == "pending"
