"""Pledge rules beyond the transition table: partial delivery, reasons, fulfilment, and what each kind
of pledge must carry (who may pledge and who sees what: test_pledge_access.py)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import make_organization
from tests.pledge_world import (
    ACTIONS,
    PAST,
    REQUESTED,
    World,
    act,
    counters,
    events_since,
    expected_counters,
    goods_call,
    last_event_id,
    money_call,
    new_call,
    ok,
    open_incident,
    personnel_call,
    personnel_pledge,
    pledge,
    pledge_count,
    pledge_in_state,
    problem,
    read_call,
    read_pledge,
)

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
    assert body["delivery_note"] == "20 件受潮" and body["reason"] is None  # the deliver's note reads back as one
    again = await ok(await world.dispatcher.get(f"/v1/pledges/{pledge_id}"))
    assert again["delivery_note"] == "20 件受潮" and again["note"] == body["note"]  # the organization's stays
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
