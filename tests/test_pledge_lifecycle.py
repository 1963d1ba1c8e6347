"""The pledge lifecycle: who may move a pledge from which state, what it does to the call's counters.

The expectations below are written from the issue's rules, not read from the code under test:
an organization withdraws its own pledge (from pledged or accepted) and dispatches it (from accepted);
dispatchers and admins accept or reject (from pledged) and confirm delivery (from accepted or
dispatched). A wrong role gets 403, another organization 404 (it may not see the pledge), the right
role in the wrong state 409 naming the current state.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Api, Org, incident_body, make_organization

ACTIONS = ("accept", "reject", "withdraw", "dispatch", "deliver")
STATES = ("pledged", "accepted", "rejected", "withdrawn", "dispatched", "delivered")
ACTORS = ("dispatcher", "admin", "viewer", "owner", "other_organization")

PAST = {
    "accept": "accepted",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "dispatch": "dispatched",
    "deliver": "delivered",
}
# action → (who may do it, the states it starts from)
STAFF = frozenset({"dispatcher", "admin"})
ALLOWED = {
    "accept": (STAFF, {"pledged"}),
    "reject": (STAFF, {"pledged"}),
    "withdraw": (frozenset({"owner"}), {"pledged", "accepted"}),
    "dispatch": (frozenset({"owner"}), {"accepted"}),
    "deliver": (STAFF, {"accepted", "dispatched"}),
}
# How to reach each starting state from `pledged`: (action, who does it).
PATHS = {
    "pledged": [],
    "accepted": [("accept", "dispatcher")],
    "rejected": [("reject", "dispatcher")],
    "withdrawn": [("withdraw", "owner")],
    "dispatched": [("accept", "dispatcher"), ("dispatch", "owner")],
    "delivered": [("accept", "dispatcher"), ("dispatch", "owner"), ("deliver", "dispatcher")],
}

REQUESTED = Decimal(1000)
PLEDGED = Decimal(100)


def expected_status(action: str, state: str, actor: str) -> int:
    if actor == "other_organization":
        return 404
    roles, starts = ALLOWED[action]
    if actor not in roles:
        return 403
    if state not in starts:
        return 409
    return 200


def expected_counters(status: str, quantity: Decimal = PLEDGED, delivered: Decimal | None = None) -> dict[str, Decimal]:
    """The call's counters with one pledge of `quantity` in `status` (delivered in full by default)."""
    arrived = quantity if delivered is None else delivered
    committed = {
        "pledged": quantity,
        "accepted": quantity,
        "dispatched": quantity,
        "delivered": arrived,
        "rejected": Decimal(0),
        "withdrawn": Decimal(0),
    }[status]
    return {
        "requested": REQUESTED,
        "committed": committed,
        "in_transit": quantity if status == "dispatched" else Decimal(0),
        "delivered": arrived if status == "delivered" else Decimal(0),
        "remaining": REQUESTED - committed,
    }


def goods_call(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "goods",
        "title": "救生衣",
        "item": "life_jacket",
        "unit": "piece",
        "quantity": "500",
        "status": "open",
    }
    body.update(overrides)
    return body


def money_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    body.update(overrides)
    return body


def personnel_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue", "headcount": 30, "status": "open"}
    body.update(overrides)
    return body


def personnel_pledge(**overrides: Any) -> dict[str, Any]:
    body = {
        "headcount": 10,
        "available_from": "2023-07-29T00:00:00Z",
        "available_until": "2023-08-05T00:00:00Z",
        "lead": {"name": "李队长", "phone": "13900001111"},
    }
    body.update(overrides)
    return body


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def ok(response, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incident(dispatcher: Api, code: str = "2023-DOKSURI-SZ") -> str:
    return (await ok(await dispatcher.post("/v1/incidents", json=incident_body(code=code)), 201))["id"]


async def new_call(dispatcher: Api, incident_id: str, body: dict[str, Any] | None = None) -> dict:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=body or goods_call())
    return await ok(response, 201)


async def pledge(api: Api, call_id: str, body: dict[str, Any] | None = None, *, key: str | None = None):
    return await api.post(
        f"/v1/calls/{call_id}/pledges",
        json={"quantity": str(PLEDGED), "estimated_value": "3000.00"} if body is None else body,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def act(api: Api, pledge_id: str, action: str, body: dict[str, Any] | None = None):
    if body is None and action == "reject":
        body = {"reason": "重复认捐"}
    if body is None:
        return await api.post(f"/v1/pledges/{pledge_id}/{action}")
    return await api.post(f"/v1/pledges/{pledge_id}/{action}", json=body)


async def read_call(api: Api, call_id: str) -> dict:
    return await ok(await api.get(f"/v1/calls/{call_id}"))


async def read_pledge(api: Api, pledge_id: str) -> dict:
    return await ok(await api.get(f"/v1/pledges/{pledge_id}"))


def counters(call: dict) -> dict[str, Decimal]:
    out = {}
    for name in ("requested", "committed", "in_transit", "delivered", "remaining"):
        assert isinstance(call[name], str), (name, call[name])
        out[name] = Decimal(call[name])
    return out


async def last_event_id(conn) -> int:
    return await conn.fetchval("select coalesce(max(id), 0) from events")


async def events_since(conn, after_id: int) -> list:
    return await conn.fetch(
        "select type, entity_type, entity_id, actor_role, before, after from events where id > $1 order by id",
        after_id,
    )


async def pledge_count(conn) -> int:
    return await conn.fetchval("select count(*) from pledges")


# --- the table: every action × starting state × actor ----------------------------------------------


@dataclass
class World:
    dispatcher: Api
    admin: Api
    viewer: Api
    owner: Org
    other: Org
    incident_id: str
    call_id: str

    def api(self, actor: str) -> Api:
        return {
            "dispatcher": self.dispatcher,
            "admin": self.admin,
            "viewer": self.viewer,
            "owner": self.owner.api,
            "other_organization": self.other.api,
        }[actor]


@pytest.fixture
async def world(dispatcher, admin, viewer, conn) -> World:
    owner = await make_organization(dispatcher, conn, 0)
    other = await make_organization(dispatcher, conn, 1)
    incident_id = await open_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, goods_call(quantity=str(REQUESTED)))
    return World(dispatcher, admin, viewer, owner, other, incident_id, call["id"])


async def pledge_in_state(world: World, state: str) -> str:
    """A fresh pledge of 100 by the owner, driven to `state` through the API."""
    created = await ok(await pledge(world.owner.api, world.call_id), 201)
    assert created["status"] == "pledged"
    for action, who in PATHS[state]:
        moved = await ok(await act(world.api(who), created["id"], action))
        assert moved["status"] == PAST[action]
    assert (await read_pledge(world.dispatcher, created["id"]))["status"] == state
    return created["id"]


def totals(statuses: dict[str, str]) -> dict[str, Decimal]:
    """The call's counters with one full-size pledge in each of `statuses` (pledge id → status)."""
    out = {"requested": REQUESTED, "committed": Decimal(0), "in_transit": Decimal(0), "delivered": Decimal(0)}
    for status in statuses.values():
        one = expected_counters(status)
        for name in ("committed", "in_transit", "delivered"):
            out[name] += one[name]
    out["remaining"] = REQUESTED - out["committed"]
    return out


def expected_outcome(action: str, state: str, actor: str) -> dict[str, Any]:
    status = expected_status(action, state, actor)
    return {
        "status": status,
        "pledge_status": PAST[action] if status == 200 else state,
        "state_member": state if status == 409 else None,
        "events": [(f"pledge.{PAST[action]}", "organization" if actor == "owner" else actor, state, PAST[action])]
        if status == 200
        else [],
    }


PAIRS = [pytest.param(action, state, id=f"{action}-from-{state}") for action in ACTIONS for state in STATES]


def test_the_table_covers_every_pair():
    cases = [(a, s, r) for a in ACTIONS for s in STATES for r in ACTORS]
    assert len(PAIRS) * len(ACTORS) == len(cases) == 150
    outcomes = [expected_status(*case) for case in cases]
    assert set(outcomes) == {200, 403, 404, 409}
    # Each action succeeds from exactly its allowed states, for each role allowed to do it: 2+2+2+1+4.
    assert outcomes.count(200) == 11
    assert outcomes.count(404) == 30


@pytest.mark.parametrize(("action", "state"), PAIRS)
async def test_transition(world: World, conn, action: str, state: str):
    """Every actor tries `action` on a fresh pledge (the owner's) in `state`.

    One database per (action, state) rather than per actor keeps the 150 cases quick. Each actor
    gets a pledge of its own to act on, and the outcomes are compared as one table, so a failure
    lists every actor that got something other than what the rules say: the status code, the
    pledge's state afterwards, the `state` member of a 409, the events written and the call's
    counters (committed = pledged + accepted + dispatched + delivered, in_transit = dispatched,
    remaining = requested − committed, over every pledge on the call).
    """
    pledge_ids = {actor: await pledge_in_state(world, state) for actor in ACTORS}
    expected_statuses = {pledge_id: state for pledge_id in pledge_ids.values()}
    expected: dict[str, dict[str, Any]] = {}
    for actor in ACTORS:
        expected[actor] = expected_outcome(action, state, actor)
        expected_statuses[pledge_ids[actor]] = expected[actor]["pledge_status"]
        expected[actor]["counters"] = totals(expected_statuses)

    observed: dict[str, dict[str, Any]] = {}
    for actor in ACTORS:
        pledge_id = pledge_ids[actor]
        since = await last_event_id(conn)
        response = await act(world.api(actor), pledge_id, action)
        body = await response.json()
        if response.status == 200:
            assert body["id"] == pledge_id and body["status"] == PAST[action], body
        else:
            assert response.content_type == "application/problem+json", body
        after = (await read_pledge(world.dispatcher, pledge_id))["status"]
        written = await events_since(conn, since)
        # Delivering goods also receives them into the ledger: one donation.recorded beside the pledge's event.
        received = [e for e in written if e["entity_type"] == "donation"]
        delivered_goods = response.status == 200 and action == "deliver"
        assert [(e["type"], e["after"]["pledge_id"]) for e in received] == (
            [("donation.recorded", pledge_id)] if delivered_goods else []
        ), received
        written = [e for e in written if e["entity_type"] != "donation"]
        assert all(str(e["entity_id"]) == pledge_id for e in written), written
        observed[actor] = {
            "status": response.status,
            "pledge_status": after,
            "state_member": body.get("state") if response.status != 200 else None,
            "events": [(e["type"], e["actor_role"], e["before"]["status"], e["after"]["status"]) for e in written],
            "counters": counters(await read_call(world.dispatcher, world.call_id)),
        }
    assert observed == expected


# --- delivery ------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["dispatched", "accepted"])
async def test_partial_delivery_returns_the_rest_to_the_call(world: World, conn, start: str):
    pledge_id = await pledge_in_state(world, start)
    before = counters(await read_call(world.dispatcher, world.call_id))
    since = await last_event_id(conn)

    body = await ok(await act(world.dispatcher, pledge_id, "deliver", {"quantity": "80", "note": "20 件受潮"}))

    assert body["status"] == "delivered"
    assert body["delivered_quantity"] == "80"
    assert body["quantity"] == "100"
    assert body["reason"] == "20 件受潮"
    after = counters(await read_call(world.dispatcher, world.call_id))
    assert after["delivered"] - before["delivered"] == 80
    assert after["in_transit"] - before["in_transit"] == (-100 if start == "dispatched" else 0)
    assert after["committed"] - before["committed"] == -20
    assert after["remaining"] - before["remaining"] == 20
    assert after == expected_counters("delivered", delivered=Decimal(80))
    assert [e["type"] for e in await events_since(conn, since)] == ["pledge.delivered", "donation.recorded"]
    assert (await read_pledge(world.owner.api, pledge_id))["delivered_quantity"] == "80"
    [entry] = await conn.fetch("select quantity, estimated_value from donations where pledge_id = $1",
                               uuid.UUID(pledge_id))
    assert entry["quantity"] == 80  # one ledger row, for what arrived
    # The 20 that did not arrive can be pledged again: everything but the 80 delivered.
    again = await ok(await pledge(world.other.api, world.call_id, {"quantity": str(REQUESTED - 80)}), 201)
    assert again["status"] == "pledged"
    assert counters(await read_call(world.dispatcher, world.call_id))["remaining"] == 0


async def test_delivering_more_than_pledged_or_less_than_nothing_is_refused(world: World, conn):
    pledge_id = await pledge_in_state(world, "dispatched")
    before = await read_call(world.dispatcher, world.call_id)
    since = await last_event_id(conn)

    answers = {}
    for quantity in ("100.0001", "101", "1000", "-1"):
        response = await act(world.dispatcher, pledge_id, "deliver", {"quantity": quantity})
        document = await response.json()
        answers[quantity] = (response.status, [e.get("pointer") for e in document.get("errors", [])])
        if response.status == 200:
            break
    assert answers == dict.fromkeys(("100.0001", "101", "1000", "-1"), (422, ["/quantity"]))

    assert (await read_pledge(world.dispatcher, pledge_id))["status"] == "dispatched"
    assert counters(await read_call(world.dispatcher, world.call_id)) == counters(before)
    assert await events_since(conn, since) == []


async def test_delivering_exactly_what_was_pledged_is_allowed(world: World):
    pledge_id = await pledge_in_state(world, "dispatched")
    body = await ok(await act(world.dispatcher, pledge_id, "deliver", {"quantity": "100"}))
    assert body["status"] == "delivered" and Decimal(body["delivered_quantity"]) == 100
    assert counters(await read_call(world.dispatcher, world.call_id)) == expected_counters("delivered")


async def test_delivering_nothing_returns_everything_to_the_call(world: World):
    pledge_id = await pledge_in_state(world, "dispatched")
    body = await ok(await act(world.dispatcher, pledge_id, "deliver", {"quantity": "0", "note": "全部损毁"}))
    assert body["status"] == "delivered" and Decimal(body["delivered_quantity"]) == 0
    assert counters(await read_call(world.dispatcher, world.call_id)) == expected_counters(
        "delivered", delivered=Decimal(0)
    )


async def test_reject_needs_a_reason(world: World, conn):
    pledge_id = await pledge_in_state(world, "pledged")
    since = await last_event_id(conn)

    payloads = {"missing": {}, "empty": {"reason": ""}, "blank": {"reason": "   "}, "null": {"reason": None}}
    answers = {}
    for label, payload in payloads.items():
        response = await act(world.dispatcher, pledge_id, "reject", payload)
        document = await response.json()
        answers[label] = (response.status, [e.get("pointer") for e in document.get("errors", [])])
    assert answers == dict.fromkeys(payloads, (422, ["/reason"]))

    assert (await read_pledge(world.dispatcher, pledge_id))["status"] == "pledged"
    assert await events_since(conn, since) == []
    rejected = await ok(await act(world.dispatcher, pledge_id, "reject", {"reason": "与另一认捐重复"}))
    assert rejected["status"] == "rejected" and rejected["reason"] == "与另一认捐重复"


async def test_reject_without_a_body_says_the_reason_is_missing(world: World, conn):
    """DESIGN.md: "a body-less POST is fine" — what is missing is the reason, so 422 naming /reason."""
    pledge_id = await pledge_in_state(world, "pledged")
    since = await last_event_id(conn)
    error = await problem(await world.dispatcher.post(f"/v1/pledges/{pledge_id}/reject"), 422)
    assert [e["pointer"] for e in error["errors"]] == ["/reason"]
    assert (await read_pledge(world.dispatcher, pledge_id))["status"] == "pledged"
    assert await events_since(conn, since) == []


async def test_transition_of_an_unknown_pledge_is_404(world: World):
    answers = {}
    for action in ACTIONS:
        api = world.owner.api if action in ("withdraw", "dispatch") else world.dispatcher
        answers[action] = (await act(api, str(uuid.uuid4()), action)).status
    assert answers == dict.fromkeys(ACTIONS, 404)


@pytest.mark.parametrize("action", ["deliver", "reject", "withdraw"])
async def test_concurrent_transitions_of_one_pledge_take_effect_once(world: World, conn, action: str):
    start = "dispatched" if action == "deliver" else "pledged"
    pledge_id = await pledge_in_state(world, start)
    api = world.owner.api if action == "withdraw" else world.dispatcher
    since = await last_event_id(conn)

    responses = await asyncio.gather(*(act(api, pledge_id, action) for _ in range(12)))

    codes = sorted(r.status for r in responses)
    assert codes == [200] + [409] * 11
    for r in responses:
        if r.status == 409:
            assert (await r.json())["state"] == PAST[action]
    receipt = ["donation.recorded"] if action == "deliver" else []
    assert [e["type"] for e in await events_since(conn, since)] == [f"pledge.{PAST[action]}", *receipt]
    assert counters(await read_call(world.dispatcher, world.call_id)) == expected_counters(PAST[action])


async def test_pledges_on_a_closed_call_stay_trackable_to_delivery(world: World, conn):
    delivered = await pledge_in_state(world, "pledged")
    withdrawn = await pledge_in_state(world, "accepted")
    closed = await ok(await world.dispatcher.post(f"/v1/calls/{world.call_id}/close"))
    assert closed["status"] == "closed"

    await ok(await act(world.dispatcher, delivered, "accept"))
    await ok(await act(world.owner.api, delivered, "dispatch"))
    assert counters(await read_call(world.dispatcher, world.call_id))["in_transit"] == 100
    await ok(await act(world.dispatcher, delivered, "deliver", {"quantity": "90"}))
    await ok(await act(world.owner.api, withdrawn, "withdraw"))

    call = await read_call(world.dispatcher, world.call_id)
    assert call["status"] == "closed"
    assert counters(call) == {
        "requested": REQUESTED,
        "committed": 90,
        "in_transit": 0,
        "delivered": 90,
        "remaining": REQUESTED - 90,
    }


async def test_people_are_delivered_in_whole_numbers(world: World, conn):
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    pledge_id = (await ok(await pledge(world.owner.api, call_id, personnel_pledge()), 201))["id"]
    await ok(await act(world.dispatcher, pledge_id, "accept"))
    error = await problem(await act(world.dispatcher, pledge_id, "deliver", {"quantity": "7.5"}), 422)
    assert [e["pointer"] for e in error["errors"]] == ["/quantity"]
    body = await ok(await act(world.dispatcher, pledge_id, "deliver", {"quantity": "8"}))
    assert Decimal(body["delivered_quantity"]) == 8
    call = counters(await read_call(world.dispatcher, call_id))
    assert (call["committed"], call["delivered"], call["remaining"]) == (8, 8, 22)


# --- a call whose deliveries reach its request is fulfilled --------------------------------------


async def test_call_is_fulfilled_when_deliveries_reach_the_request(dispatcher, conn):
    owner = await make_organization(dispatcher, conn, 0)
    other = await make_organization(dispatcher, conn, 1)
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id, goods_call(quantity="100")))["id"]
    first = await ok(await pledge(owner.api, call_id, {"quantity": "60"}), 201)
    second = await ok(await pledge(other.api, call_id, {"quantity": "40"}), 201)
    for p in (first, second):
        await ok(await act(dispatcher, p["id"], "accept"))

    # 60 delivered, then 40 of which only 30 arrive: 90 of 100, still open, 10 remaining.
    await ok(await act(dispatcher, first["id"], "deliver"))
    await ok(await act(dispatcher, second["id"], "deliver", {"quantity": "30"}))
    call = await read_call(dispatcher, call_id)
    assert call["status"] == "open"
    assert counters(call)["delivered"] == 90 and counters(call)["remaining"] == 10
    assert await conn.fetchval("select count(*) from events where type = 'call.fulfilled'") == 0

    third = await ok(await pledge(owner.api, call_id, {"quantity": "10"}), 201)
    await ok(await act(dispatcher, third["id"], "accept"))
    since = await last_event_id(conn)
    await ok(await act(dispatcher, third["id"], "deliver"))

    call = await read_call(dispatcher, call_id)
    assert call["status"] == "fulfilled"
    assert counters(call) == {
        "requested": 100,
        "committed": 100,
        "in_transit": 0,
        "delivered": 100,
        "remaining": 0,
    }
    written = await events_since(conn, since)
    assert sorted(e["type"] for e in written) == ["call.fulfilled", "donation.recorded", "pledge.delivered"]
    fulfilled = next(e for e in written if e["type"] == "call.fulfilled")
    assert str(fulfilled["entity_id"]) == call_id
    assert fulfilled["before"]["status"] == "open" and fulfilled["after"]["status"] == "fulfilled"
    assert await conn.fetchval("select count(*) from events where type = 'call.fulfilled'") == 1

    pledges_before = await pledge_count(conn)
    error = await problem(await pledge(other.api, call_id, {"quantity": "1"}), 409)
    assert error["state"] == "fulfilled"
    assert await pledge_count(conn) == pledges_before


async def test_fulfilled_call_with_overpledge_is_fulfilled_once(dispatcher, conn):
    owner = await make_organization(dispatcher, conn, 0)
    incident_id = await open_incident(dispatcher)
    call_id = (await new_call(dispatcher, incident_id, goods_call(quantity="100", allow_overpledge=True)))["id"]
    first = await ok(await pledge(owner.api, call_id, {"quantity": "100"}), 201)
    second = await ok(await pledge(owner.api, call_id, {"quantity": "50"}), 201)
    for p in (first, second):
        await ok(await act(dispatcher, p["id"], "accept"))
    await ok(await act(dispatcher, first["id"], "deliver"))
    assert (await read_call(dispatcher, call_id))["status"] == "fulfilled"
    # The over-pledged part still reaches delivery, and the call is not fulfilled a second time.
    await ok(await act(dispatcher, second["id"], "deliver"))
    call = await read_call(dispatcher, call_id)
    assert call["status"] == "fulfilled" and counters(call)["delivered"] == 150
    assert await conn.fetchval("select count(*) from events where type = 'call.fulfilled'") == 1


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


# --- personnel pledges and their team lead --------------------------------------------------------


async def test_lead_phone_is_shown_to_dispatchers_and_the_owner_only(world: World):
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    created = await ok(await pledge(world.owner.api, call_id, personnel_pledge()), 201)
    assert created["headcount"] == 10 and created["kind"] == "personnel"
    assert created["lead"] == {"name": "李队长", "phone": "13900001111"}
    pledge_id = created["id"]

    for api in (world.dispatcher, world.admin, world.owner.api):
        assert (await read_pledge(api, pledge_id))["lead"]["phone"] == "13900001111"
        assert (await ok(await api.get("/v1/pledges")))["items"][0]["lead"]["phone"] == "13900001111"
        listed = await ok(await api.get(f"/v1/calls/{call_id}/pledges"))
        assert listed["items"][0]["lead"]["phone"] == "13900001111"

    shown = await read_pledge(world.viewer, pledge_id)
    assert shown["lead"] == {"name": "李队长", "phone": "139****1111"}
    for path in ("/v1/pledges", f"/v1/calls/{call_id}/pledges"):
        response = await world.viewer.get(path)
        assert response.status == 200
        text = await response.text()
        assert "13900001111" not in text
        assert "139****1111" in text
    await problem(await world.other.api.get(f"/v1/pledges/{pledge_id}"), 404)
    assert call_id not in str(await ok(await world.other.api.get("/v1/pledges")))
    # Personnel counters are head counts.
    call = counters(await read_call(world.dispatcher, call_id))
    assert call["committed"] == 10 and call["remaining"] == 20


async def test_personnel_pledge_without_a_lead_is_refused(world: World, conn):
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    body = personnel_pledge()
    del body["lead"]
    key = str(uuid.uuid4())
    error = await problem(await pledge(world.owner.api, call_id, body, key=key), 422)
    assert "/lead" in [e["pointer"] for e in error["errors"]]
    assert await pledge_count(conn) == 0
    assert counters(await read_call(world.dispatcher, call_id))["committed"] == 0
    # The refusal did not use up the key: the corrected request with it is taken.
    await ok(await pledge(world.owner.api, call_id, personnel_pledge(), key=key), 201)


async def test_a_headcount_is_a_positive_whole_number(world: World, conn):
    """`true` is not one person: a boolean headcount is refused like a boolean amount."""
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    headcounts = {"true": True, "false": False, "0": 0, "-3": -3, "10.5": 10.5, "ten": "ten", "null": None}
    answers = {}
    for label, headcount in headcounts.items():
        response = await pledge(world.owner.api, call_id, personnel_pledge(headcount=headcount))
        document = await response.json()
        answers[label] = (response.status, [e.get("pointer") for e in document.get("errors", [])])
    assert answers == dict.fromkeys(headcounts, (422, ["/headcount"]))
    assert await pledge_count(conn) == 0
    assert counters(await read_call(world.dispatcher, call_id))["committed"] == 0


async def test_goods_pledge_in_another_unit_is_refused(world: World, conn):
    error = await problem(await pledge(world.owner.api, world.call_id, {"quantity": "10", "unit": "box"}), 422)
    assert [e["pointer"] for e in error["errors"]] == ["/unit"]
    assert await pledge_count(conn) == 0
    same_unit = await ok(await pledge(world.owner.api, world.call_id, {"quantity": "10", "unit": "piece"}), 201)
    assert same_unit["unit"] == "piece"


async def kind_refusals(world: World, cases: list[tuple[str, dict[str, Any], str]]) -> None:
    """Pledge each payload on a fresh call of its kind; each must be a 422 naming exactly its pointer."""
    bodies = {"goods": goods_call(), "money": money_call(), "personnel": personnel_call()}
    calls = {kind: (await new_call(world.dispatcher, world.incident_id, body))["id"] for kind, body in bodies.items()}
    answers, expected = {}, {}
    for index, (kind, payload, pointer) in enumerate(cases):
        label = f"{index}: {kind} call, {sorted(payload)}"
        response = await pledge(world.owner.api, calls[kind], payload)
        document = await response.json()
        answers[label] = (response.status, [e.get("pointer") for e in document.get("errors", [])])
        expected[label] = (422, [pointer])
    assert answers == expected
    for call_id in calls.values():
        assert counters(await read_call(world.dispatcher, call_id))["committed"] == 0


async def test_a_field_of_another_kind_is_refused(world: World, conn):
    await kind_refusals(
        world,
        [
            ("goods", {"quantity": "10", "headcount": 5}, "/headcount"),
            ("goods", {"quantity": "10", "amount": "10.00"}, "/amount"),
            ("goods", {"quantity": "10", "lead": {"name": "李", "phone": "13900001111"}}, "/lead"),
            ("goods", {"quantity": "10", "available_from": "2023-07-29T00:00:00Z"}, "/available_from"),
            ("money", {"amount": "10.00", "quantity": "10"}, "/quantity"),
            ("money", {"amount": "10.00", "estimated_value": "10.00"}, "/estimated_value"),
            ("money", {"amount": "10.00", "headcount": 3}, "/headcount"),
            ("personnel", {**personnel_pledge(), "quantity": "10"}, "/quantity"),
            ("personnel", {**personnel_pledge(), "amount": "10.00"}, "/amount"),
            ("personnel", {**personnel_pledge(), "unit": "piece"}, "/unit"),
        ],
    )
    assert await pledge_count(conn) == 0


async def test_a_pledge_without_its_kinds_measure_is_refused(world: World, conn):
    await kind_refusals(
        world,
        [
            ("goods", {"estimated_value": "10.00"}, "/quantity"),
            ("money", {"currency": "CNY"}, "/amount"),
            ("personnel", {"lead": {"name": "李", "phone": "13900001111"}}, "/headcount"),
        ],
    )
    assert await pledge_count(conn) == 0
