"""Fan-out at the client's speed (issue 17): deliveries claimed ahead of the free slots wait in the
worker, never more in flight than webhook_concurrency, and a claim too old to send is left to run out."""

from __future__ import annotations

import asyncio
import time

import pytest

from notifications.worker import CLAIM_AHEAD
from tests.conftest import incident_body
from tests.webhook_world import subscribe


@pytest.mark.parametrize("settings", [{"webhook_concurrency": 2}], indirect=True)
async def test_a_claim_ahead_waits_for_a_slot_and_every_delivery_goes_once(dispatcher, receiver, worker, conn):
    for i in range(7):
        await subscribe(dispatcher, receiver.url(f"/team-{i}"), event_types=["incident.opened"])
    response = await dispatcher.post("/v1/incidents", json=incident_body(code="AHEAD-1"))
    assert response.status == 201, await response.text()

    assert await worker.step()  # claimed as many as it may hold: more are waiting
    assert len(worker.in_flight) == 2  # the concurrency
    assert len(worker.ready) == CLAIM_AHEAD * 2 - 2  # claimed, waiting for a slot
    claimed = await conn.fetchval("select count(*) from webhook_deliveries where claimed_by = $1", worker.number)
    assert claimed == CLAIM_AHEAD * 2
    while worker.in_flight:  # a finished attempt starts the next claimed one
        assert len(worker.in_flight) <= 2
        await asyncio.gather(*list(worker.in_flight))
    assert not worker.ready
    await worker.flush()

    await worker.tick()  # the rest
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 7
    rows = await conn.fetch("select status, attempts, claimed_by from webhook_deliveries")
    assert [(r["status"], r["attempts"], r["claimed_by"]) for r in rows] == [("delivered", 1, None)] * 7


async def test_a_claim_too_old_to_send_is_not_sent_and_goes_out_once_it_runs_out(dispatcher, receiver, worker,
                                                                                  conn, clock):
    await subscribe(dispatcher, receiver.url("/late"), event_types=["incident.opened"])
    response = await dispatcher.post("/v1/incidents", json=incident_body(code="LATE-1"))
    assert response.status == 201, await response.text()

    worker.start_within = -1.0  # as if it had waited in the worker longer than its claim allows
    await worker.step()
    await asyncio.gather(*list(worker.in_flight))
    await worker.flush()
    assert receiver.received == []
    row = await conn.fetchrow("select status, attempts, claimed_by from webhook_deliveries")
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("pending", 0, worker.number)

    worker.start_within = worker.settings.webhook_claim_seconds - worker.settings.webhook_timeout - 5
    assert await worker.tick() == 0  # still its claim: nobody sends it meanwhile
    clock.advance(seconds=worker.settings.webhook_claim_seconds + 1)
    started = time.monotonic()
    assert await worker.tick() == 1
    assert time.monotonic() - started < 10
    assert [r.path for r in receiver.received] == ["/late"]
    assert await conn.fetchval("select status from webhook_deliveries") == "delivered"
