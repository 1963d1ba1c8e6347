"""Who may pledge on which calls, and who sees which pledges."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import make_organization
from tests.pledge_world import (
    World,
    act,
    counters,
    goods_call,
    money_call,
    new_call,
    ok,
    open_incident,
    pledge,
    pledge_count,
    problem,
    read_call,
)

# --- who may pledge, on which calls ---------------------------------------------------------------

# GB 32100-2015 check characters, computed here so a fourth organization can register.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(first17: str) -> str:
    total = sum(_ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + _ALPHABET[-total % 31]


@pytest.mark.parametrize("standing", ["pending", "suspended"])
async def test_only_approved_organizations_pledge(dispatcher, conn, standing: str):
    organization = await make_organization(dispatcher, conn, 2, approve=standing == "suspended")
    if standing == "suspended":
        await ok(await dispatcher.post(f"/v1/organizations/{organization.id}/suspend"))
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id))["id"]
    key = str(uuid.uuid4())

    error = await problem(await pledge(organization.api, call_id, key=key), 403)

    assert standing in error["detail"]
    assert await pledge_count(conn) == 0
    assert counters(await read_call(dispatcher, call_id))["committed"] == 0
    # Once approved, the same request (same key) goes through: the refusal did not burn the key.
    await ok(await dispatcher.post(f"/v1/organizations/{organization.id}/approve"))
    created = await ok(await pledge(organization.api, call_id, key=key), 201)
    assert created["organization_id"] == organization.id


async def test_staff_keys_cannot_pledge(dispatcher, admin, viewer, conn):
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id))["id"]
    answers = {}
    for role, api in {"dispatcher": dispatcher, "admin": admin, "viewer": viewer}.items():
        response = await pledge(api, call_id)
        answers[role] = (response.status, response.content_type)
    assert answers == dict.fromkeys(("dispatcher", "admin", "viewer"), (403, "application/problem+json"))
    assert await pledge_count(conn) == 0
    assert counters(await read_call(dispatcher, call_id))["committed"] == 0


async def test_a_draft_call_does_not_exist_for_organizations(dispatcher, organization, conn):
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id, goods_call(status="draft")))["id"]
    await problem(await pledge(organization.api, call_id), 404)
    await problem(await organization.api.get(f"/v1/calls/{call_id}/pledges"), 404)
    assert await pledge_count(conn) == 0
    await ok(await dispatcher.post(f"/v1/calls/{call_id}/publish"))
    await ok(await pledge(organization.api, call_id), 201)


@pytest.mark.parametrize("action", ["close", "cancel"])
async def test_pledges_on_a_closed_or_cancelled_call_conflict(dispatcher, organization, conn, action: str):
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id))["id"]
    await ok(await dispatcher.post(f"/v1/calls/{call_id}/{action}"))
    error = await problem(await pledge(organization.api, call_id), 409)
    assert error["state"] == {"close": "closed", "cancel": "cancelled"}[action]
    assert await pledge_count(conn) == 0


async def test_pledge_on_an_unknown_call_is_404(organization):
    await problem(await pledge(organization.api, str(uuid.uuid4())), 404)


# --- who sees which pledges -----------------------------------------------------------------------


def ids(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


async def test_an_organization_sees_only_its_own_pledges(world: World):
    mine = {(await ok(await pledge(world.owner.api, world.call_id), 201))["id"] for _ in range(2)}
    theirs = (await ok(await pledge(world.other.api, world.call_id), 201))["id"]

    assert ids(await ok(await world.owner.api.get("/v1/pledges"))) == mine
    assert ids(await ok(await world.owner.api.get(f"/v1/calls/{world.call_id}/pledges"))) == mine
    assert ids(await ok(await world.other.api.get("/v1/pledges"))) == {theirs}
    assert ids(await ok(await world.other.api.get(f"/v1/calls/{world.call_id}/pledges"))) == {theirs}
    # Asking for another organization's pledges by filter does not reveal them.
    filtered = await ok(await world.owner.api.get(f"/v1/pledges?organization_id={world.other.id}"))
    assert theirs not in ids(filtered)
    # Another organization's pledge does not exist for it; its own does.
    await problem(await world.owner.api.get(f"/v1/pledges/{theirs}"), 404)
    own = next(iter(mine))
    assert (await ok(await world.owner.api.get(f"/v1/pledges/{own}")))["id"] == own
    # Staff see them all.
    everything = mine | {theirs}
    for api in (world.dispatcher, world.admin, world.viewer):
        assert ids(await ok(await api.get("/v1/pledges"))) == everything
        assert ids(await ok(await api.get(f"/v1/calls/{world.call_id}/pledges"))) == everything


async def test_dispatcher_filters_pledges(world: World):
    second_incident = await open_incident(world.dispatcher, code="2023-DOKSURI-ZZ")
    money = (await new_call(world.dispatcher, second_incident, money_call()))["id"]
    goods = world.call_id

    a = (await ok(await pledge(world.owner.api, goods), 201))["id"]
    b = (await ok(await pledge(world.other.api, goods), 201))["id"]
    c = (await ok(await pledge(world.owner.api, money, {"amount": "500.00", "currency": "CNY"}), 201))["id"]
    d = (await ok(await pledge(world.other.api, money, {"amount": "800.00"}), 201))["id"]
    await ok(await act(world.dispatcher, b, "accept"))
    await ok(await act(world.dispatcher, d, "accept"))
    await ok(await act(world.owner.api, c, "withdraw"))

    async def listed(query: str) -> set[str]:
        return ids(await ok(await world.dispatcher.get(f"/v1/pledges?{query}")))

    assert await listed("") == {a, b, c, d}
    assert await listed(f"call_id={goods}") == {a, b}
    assert await listed(f"call_id={money}") == {c, d}
    assert await listed(f"incident_id={world.incident_id}") == {a, b}
    assert await listed(f"incident_id={second_incident}") == {c, d}
    assert await listed(f"organization_id={world.owner.id}") == {a, c}
    assert await listed(f"organization_id={world.other.id}") == {b, d}
    assert await listed("status=accepted") == {b, d}
    assert await listed("status=withdrawn") == {c}
    assert await listed("status=pledged") == {a}
    assert await listed("status=delivered") == set()
    assert await listed(f"call_id={money}&organization_id={world.other.id}&status=accepted") == {d}
    assert await listed(f"incident_id={world.incident_id}&status=withdrawn") == set()
    assert await listed(f"call_id={goods}&status=pledged") == {a}
    await problem(await world.dispatcher.get("/v1/pledges?status=lost"), 422)
    # Newest first.
    page = await ok(await world.dispatcher.get("/v1/pledges"))
    assert [item["id"] for item in page["items"]] == [d, c, b, a]
