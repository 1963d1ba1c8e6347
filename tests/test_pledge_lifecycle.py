"""The pledge lifecycle: who may move a pledge from which state, what it does to the call's counters.

The expectations below are written from the issue's rules, not read from the code under test:
an organization withdraws its own pledge (from pledged or accepted) and dispatches it (from accepted);
dispatchers and admins accept or reject (from pledged) and confirm delivery (from accepted or
dispatched). A wrong role gets 403, another organization 404 (it may not see the pledge), the right
role in the wrong state 409 naming the current state.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.pledge_world import (
    ACTIONS,
    ACTORS,
    PAST,
    REQUESTED,
    STATES,
    World,
    act,
    counters,
    events_since,
    expected_counters,
    expected_status,
    last_event_id,
    pledge_in_state,
    read_call,
    read_pledge,
)


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
