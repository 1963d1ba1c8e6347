"""Pledges coalesced per call (relief/pledge_batches.py): one batch, many answers, each its own."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from models.pledges import PledgeCreate
from relief import auth, idempotency
from relief.app_keys import PLEDGE_BATCHES
from relief.errors import Invalid, InvalidState, OverCommitted
from relief.pledge_batches import Coalescer
from tests.pledge_world import ok, pledge


def coalescer_of(world: Any) -> Coalescer:
    return world.dispatcher.client.server.app[PLEDGE_BATCHES]


async def principal_of(conn: Any, org: Any) -> auth.Principal:
    found = await auth.authenticate(conn, org.api.key)
    assert found is not None
    return found


async def ask(coalescer: Coalescer, who: auth.Principal, call_id: str, body: dict[str, Any],
              key: str | None = None) -> idempotency.Response | Exception:
    """One pledge as the handler submits it (same scope and fingerprint), its answer or its error."""
    data = PledgeCreate.model_validate(body)
    fingerprint = idempotency.fingerprint("POST", f"/v1/calls/{call_id}/pledges", data.model_dump_json().encode())
    try:
        return await coalescer.pledge(actor=who, call_id=uuid.UUID(call_id), data=data,
                                      scope=f"org:{who.organization_id}", key=key or str(uuid.uuid4()),
                                      fingerprint=fingerprint)
    except Exception as exc:
        return exc


async def test_one_batch_takes_some_pledges_and_refuses_others_each_with_its_own_answer(world, conn) -> None:
    coalescer = coalescer_of(world)
    owner, other = await principal_of(conn, world.owner), await principal_of(conn, world.other)
    keys = [str(uuid.uuid4()) for _ in range(5)]
    before = dict(coalescer.sizes)
    # Submitted in one loop turn: they queue before the batch starts, so they are one batch of five.
    answers = await asyncio.gather(
        ask(coalescer, owner, world.call_id, {"quantity": "600"}, keys[0]),
        ask(coalescer, other, world.call_id, {"quantity": "300", "estimated_value": "900.00"}, keys[1]),
        ask(coalescer, owner, world.call_id, {"quantity": "200"}, keys[2]),  # only 100 left at its turn
        ask(coalescer, other, world.call_id, {"quantity": "5", "unit": "box"}, keys[3]),  # the call counts pieces
        ask(coalescer, owner, world.call_id, {"quantity": "100"}, keys[4]),  # exactly what is left
    )
    assert coalescer.sizes[5] == before.get(5, 0) + 1, coalescer.sizes

    taken = [answers[i] for i in (0, 1, 4)]
    assert all(isinstance(a, idempotency.Response) and a.status == 201 and not a.replayed for a in taken), answers
    assert isinstance(answers[2], OverCommitted) and answers[2].extra["remaining"] == "100"
    assert isinstance(answers[3], Invalid) and answers[3].extra["errors"][0]["pointer"] == "/unit"
    bodies = [json.loads(a.body) for a in taken]  # type: ignore[union-attr]
    assert [b["quantity"] for b in bodies] == ["600", "300", "100"]
    assert [b["organization_name"] for b in bodies] == [world.owner.body["name"], world.other.body["name"],
                                                       world.owner.body["name"]]

    call = await conn.fetchrow("select committed, committed_value from calls where id = $1", uuid.UUID(world.call_id))
    assert call["committed"] == Decimal(1000) and call["committed_value"] == Decimal("900.00")
    rows = await conn.fetch("select id from pledges where call_id = $1", uuid.UUID(world.call_id))
    assert {str(r["id"]) for r in rows} == {b["id"] for b in bodies}
    logged = await conn.fetchval("select count(*) from events where type = 'pledge.created' and entity_id = any($1)",
                                 [r["id"] for r in rows])
    assert logged == 3
    participants = await conn.fetchval(
        "select value from incident_counters where incident_id = $1 and name = 'participants'",
        uuid.UUID(world.incident_id))
    assert participants == 2
    # The refused keys were let go: sent again, they run again (and are refused again, now that
    # nothing is left); the taken ones replay their first answer.
    stored = await conn.fetchval("select count(*) from idempotency_keys where key = any($1)", keys)
    assert stored == 3
    again = await pledge(world.owner.api, world.call_id, {"quantity": "200"}, key=keys[2])
    assert again.status == 409 and (await again.json())["remaining"] == "0"
    replay = await pledge(world.owner.api, world.call_id, {"quantity": "600"}, key=keys[0])
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert (await replay.json())["id"] == bodies[0]["id"]


async def test_a_key_twice_in_a_burst_is_taken_once_and_replayed_once(world, conn) -> None:
    coalescer = coalescer_of(world)
    owner = await principal_of(conn, world.owner)
    key = str(uuid.uuid4())
    first, second, reused = await asyncio.gather(
        ask(coalescer, owner, world.call_id, {"quantity": "10"}, key),
        ask(coalescer, owner, world.call_id, {"quantity": "10"}, key),
        ask(coalescer, owner, world.call_id, {"quantity": "11"}, key),  # the same key, another body
    )
    assert isinstance(first, idempotency.Response) and first.status == 201 and not first.replayed
    assert isinstance(second, idempotency.Response) and second.replayed and second.body == first.body
    assert isinstance(reused, Invalid) and reused.extra["errors"][0]["parameter"] == "Idempotency-Key"
    assert await conn.fetchval("select count(*) from pledges where call_id = $1", uuid.UUID(world.call_id)) == 1


async def test_a_batch_on_a_closed_call_refuses_each_and_keeps_no_key(world, conn) -> None:
    closed = await world.dispatcher.post(f"/v1/calls/{world.call_id}/close")
    await ok(closed, 200)
    coalescer = coalescer_of(world)
    owner = await principal_of(conn, world.owner)
    keys = [str(uuid.uuid4()) for _ in range(3)]
    answers = await asyncio.gather(*(ask(coalescer, owner, world.call_id, {"quantity": "1"}, k) for k in keys))
    assert all(isinstance(a, InvalidState) and a.extra["state"] == "closed" for a in answers), answers
    assert await conn.fetchval("select count(*) from idempotency_keys where key = any($1)", keys) == 0


async def test_pledges_over_http_still_answer_one_by_one_under_a_burst(world, conn) -> None:
    """A burst through the API: every 201 is a row, the call's counter is their sum, every refusal a 409
    with the remaining figure, whatever batches the burst formed."""
    responses = await asyncio.gather(*(
        pledge(world.owner.api if i % 2 else world.other.api, world.call_id, {"quantity": "70"}) for i in range(20)
    ))
    statuses = [r.status for r in responses]
    assert statuses.count(201) == 14 and statuses.count(409) == 6, statuses  # 14 × 70 = 980 of 1000
    assert {(await r.json())["remaining"] for r in responses if r.status == 409} == {"20"}
    assert await conn.fetchval("select committed from calls where id = $1", uuid.UUID(world.call_id)) == 980
    assert await conn.fetchval("select count(*) from pledges where call_id = $1", uuid.UUID(world.call_id)) == 14


@pytest.mark.parametrize("settings", [{"pledge_coalesce": False}], indirect=True)
async def test_without_coalescing_each_pledge_is_its_own_transaction(world, conn) -> None:
    assert PLEDGE_BATCHES not in world.dispatcher.client.server.app
    response = await pledge(world.owner.api, world.call_id, {"quantity": "5"})
    assert response.status == 201, await response.text()
