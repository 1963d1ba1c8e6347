"""A subscription's pace (rate_limit, deliveries per second), shared by every worker (issue 15)."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any

import asyncpg

from notifications.worker import Worker
from relief.settings import Settings
from tests.conftest import Api, incident_body
from tests.webhook_world import Receiver, subscribe


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incidents(dispatcher: Api, n: int, prefix: str) -> None:
    for i in range(n):
        await ok(await dispatcher.post("/v1/incidents", json=incident_body(code=f"{prefix}-{i}")), 201)


async def delivered(conn: asyncpg.Connection, webhook_id: str) -> int:
    return await conn.fetchval(
        "select count(*) from webhook_deliveries where webhook_id = $1::uuid and status = 'delivered'", webhook_id
    )


async def test_a_paced_subscription_gets_its_rate_per_second_and_an_unpaced_one_everything(
    dispatcher, receiver, worker, clock, conn
):
    paced = await subscribe(dispatcher, receiver.url("/paced"), event_types=["incident.opened"], rate_limit=2)
    free = await subscribe(dispatcher, receiver.url("/free"), event_types=["incident.opened"])
    await open_incidents(dispatcher, 10, "PACE")

    assert await worker.tick() == 12  # both on one host:port: the paced rest takes no place of the other's
    assert (len(receiver.at("/paced")), len(receiver.at("/free"))) == (2, 10)
    assert await worker.tick() == 0  # the same instant: the turn is taken
    clock.advance(seconds=0.9)
    assert await worker.tick() == 0
    clock.advance(seconds=0.1)
    assert await worker.tick() == 2
    assert len(receiver.at("/paced")) == 4
    # A backlog goes out in the order of its events (the two of one turn are sent side by side).
    assert sorted(r.event["data"]["code"] for r in receiver.at("/paced")) == [f"PACE-{i}" for i in range(4)]
    for _ in range(3):
        clock.advance(seconds=1)
        assert await worker.tick() == 2
    assert await delivered(conn, paced["id"]) == 10
    assert await delivered(conn, free["id"]) == 10
    clock.advance(seconds=1)
    assert await worker.tick() == 0


async def test_a_pace_under_one_a_second_sends_one_then_waits(dispatcher, receiver, worker, clock):
    await subscribe(dispatcher, receiver.url("/slow"), event_types=["incident.opened"], rate_limit=0.5)
    await open_incidents(dispatcher, 3, "SLOW")

    assert await worker.tick() == 1
    clock.advance(seconds=1.5)
    assert await worker.tick() == 0
    clock.advance(seconds=0.5)
    assert await worker.tick() == 1
    assert len(receiver.at("/slow")) == 2


async def test_two_workers_at_one_instant_share_one_turn(dispatcher, receiver, worker, clock, settings,
                                                         database_url, conn):
    paced = await subscribe(dispatcher, receiver.url("/paced"), event_types=["incident.opened"], rate_limit=2)
    await open_incidents(dispatcher, 10, "TWO")
    other = Worker(settings, database_url, clock=clock)
    await other.start()
    try:
        per_instant = []
        for _ in range(4):
            attempts = await asyncio.gather(worker.tick(), other.tick())
            per_instant.append(sum(attempts))
            clock.advance(seconds=1)
        # Each instant lets two out, whichever worker takes the turn, and never twice two.
        assert per_instant == [2, 2, 2, 2]
        assert await delivered(conn, paced["id"]) == 8
        assert len({r.headers["webhook-id"] for r in receiver.at("/paced")}) == 8
    finally:
        await other.close()


async def test_a_running_worker_sends_a_paced_backlog_a_turn_a_second(dispatcher, receiver: Receiver,
                                                                      settings: Settings, database_url, conn):
    # Real time here, and run() rather than tick(): the second turn comes a second after the first, and
    # well before the worker's 5 s poll.
    assert settings.webhook_poll_interval >= 5
    paced = await subscribe(dispatcher, receiver.url("/paced"), event_types=["incident.opened"], rate_limit=4)
    await open_incidents(dispatcher, 8, "RUN")
    running = Worker(settings, database_url)
    await running.start()
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    started = time.monotonic()
    try:
        while len(receiver.at("/paced")) < 8:
            if time.monotonic() - started > 4:
                break
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await running.close()
    assert len(receiver.at("/paced")) == 8, f"{len(receiver.at('/paced'))} of 8 in {took:.1f} s"
    assert 0.9 <= took < 3, took  # two turns of four, one second apart
    assert await delivered(conn, paced["id"]) == 8


async def test_idle_wait_is_the_next_turn_of_a_waiting_paced_subscription(dispatcher, receiver, worker, clock):
    await subscribe(dispatcher, receiver.url("/paced"), event_types=["incident.opened"], rate_limit=0.25)
    await open_incidents(dispatcher, 2, "IDLE")
    assert await worker.tick() == 1
    clock.advance(seconds=1)
    assert abs(await worker._idle_wait() - 3) < 0.01  # the next turn, 4 s after the first


async def test_rate_limit_round_trips_is_bounded_and_null_clears_it(dispatcher, receiver, conn):
    for refused in (0, -1, 1001, 1000.5, "2", True, 0.0000001):
        response = await dispatcher.post("/v1/webhooks", json={"url": receiver.url(), "rate_limit": refused})
        assert response.status == 422, (refused, await response.text())

    created = await subscribe(dispatcher, receiver.url(), rate_limit=0.5)
    assert created["rate_limit"] == 0.5
    path = f"/v1/webhooks/{created['id']}"
    assert (await ok(await dispatcher.get(path)))["rate_limit"] == 0.5
    assert await conn.fetchval("select rate_limit::text from webhooks where id = $1::uuid", created["id"]) == "0.5"

    for refused in (0, 1001):
        response = await dispatcher.patch(path, json={"rate_limit": refused}, headers={"If-Match": '"1"'})
        assert response.status == 422, await response.text()
    updated = await ok(await dispatcher.patch(path, json={"rate_limit": 1000}, headers={"If-Match": '"1"'}))
    assert updated["rate_limit"] == 1000
    untouched = await ok(await dispatcher.patch(path, json={"description": "x"}, headers={"If-Match": '"2"'}))
    assert untouched["rate_limit"] == 1000  # absent: kept
    cleared = await ok(await dispatcher.patch(path, json={"rate_limit": None}, headers={"If-Match": '"3"'}))
    assert cleared["rate_limit"] is None
    assert (await ok(await dispatcher.get(path)))["rate_limit"] is None
    assert (await ok(await dispatcher.get("/v1/webhooks")))["items"][0]["rate_limit"] is None

    unpaced = await subscribe(dispatcher, receiver.url("/other"))
    assert unpaced["rate_limit"] is None

    # The events carry the read model: a JSON number, before and after.
    rows = await conn.fetch("select before, after from events where type = 'webhook.updated' order by id")
    changes = [(r["before"]["rate_limit"], r["after"]["rate_limit"]) for r in rows]
    assert changes == [(0.5, 1000), (1000, 1000), (1000, None)]
