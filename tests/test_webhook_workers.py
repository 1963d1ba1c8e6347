"""Workers as separate processes: at least once across a SIGKILL, never claimed by two at once."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from models.keys import Role
from relief import keys
from relief.auth import SYSTEM
from relief.sealing import Sealer, new_secret
from relief.settings import Settings
from tests.conftest import RELIEF_BIN, incident_body, relief_env
from tests.test_serve import Served
from tests.webhook_world import Received, verify


class Counting:
    """A receiver that verifies every delivery and counts each webhook-id; a little slow on purpose,
    so a fan-out takes long enough to be interrupted."""

    def __init__(self, secret: str, delay: float) -> None:
        self.secret = secret
        self.delay = delay
        self.ids: Counter[str] = Counter()
        self.forged = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            verify(self.secret, Received(request.path, dict(request.headers), body))
        except Exception:
            self.forged += 1
            return web.Response(status=400)
        await asyncio.sleep(self.delay)
        self.ids[request.headers["webhook-id"]] += 1
        return web.Response(status=204)


async def _receiver(aiohttp_server: Any, secret: str, delay: float) -> tuple[Counting, str]:
    counting = Counting(secret, delay)
    app = web.Application()
    app.router.add_post("/{team}", counting.handle)
    server = await aiohttp_server(app)
    return counting, f"http://127.0.0.1:{server.port}"


async def _subscriptions(conn: asyncpg.Connection, base_url: str, count: int, secret: str) -> None:
    """`count` teams subscribed to incident.opened, written straight to the table (the API would
    take minutes to make thousands; what is tested here is delivery)."""
    sealed = Sealer(Settings().secret_key.get_secret_value()).seal(secret)
    destination = base_url.removeprefix("http://")
    await conn.copy_records_to_table(
        "webhooks",
        columns=["url", "destination", "event_types", "secret"],
        records=[(f"{base_url}/team-{i}", destination, ["incident.opened"], sealed) for i in range(count)],
    )


class WorkerProcess:
    def __init__(self, database_url: str, **env: str) -> None:
        self.env = relief_env(database_url, RELIEF_WEBHOOK_ALLOW_PRIVATE="true", **env)
        self.log = tempfile.TemporaryFile()
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            RELIEF_BIN, "worker", env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=self.log,
            stderr=self.log, start_new_session=True,
        )

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            os.killpg(self.proc.pid, signum)
        return await asyncio.wait_for(self.proc.wait(), 30)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@pytest.fixture
async def processes() -> AsyncIterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        if process.proc is not None and process.proc.returncode is None:
            await process.stop(signal.SIGKILL)
        process.log.close()


async def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_fan_out_loses_no_delivery(aiohttp_server, dispatcher, conn, database_url, processes):
    secret = new_secret()
    receiver, base_url = await _receiver(aiohttp_server, secret, delay=0.01)
    await _subscriptions(conn, base_url, 2000, secret)
    first = WorkerProcess(database_url, RELIEF_WEBHOOK_CONCURRENCY="32", RELIEF_WEBHOOK_DESTINATION_CONCURRENCY="32")
    processes.append(first)
    await first.start()
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201

    await _until(lambda: len(receiver.ids) >= 300, 60, "the first worker to deliver 300")
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    delivered_before = len(receiver.ids)
    assert delivered_before < 2000, "the fan-out finished before the kill; nothing was interrupted"

    second = WorkerProcess(database_url)
    processes.append(second)
    await second.start()
    await _until(lambda: len(receiver.ids) >= 2000, 90, "every subscription to get the event")
    await second.stop()

    expected = {str(r["id"]) for r in await conn.fetch("select id from webhook_deliveries")}
    assert len(expected) == 2000
    assert set(receiver.ids) == expected  # no webhook-id missing, none unknown
    assert receiver.forged == 0
    assert await conn.fetchval("select count(*) from webhook_deliveries where status <> 'delivered'") == 0
    assert await conn.fetchval("select count(*) from webhook_outbox") == 0


async def test_two_workers_never_claim_one_delivery_at_once(aiohttp_server, dispatcher, conn, database_url,
                                                             processes):
    secret = new_secret()
    receiver, base_url = await _receiver(aiohttp_server, secret, delay=0.002)
    await _subscriptions(conn, base_url, 5000, secret)
    workers = [WorkerProcess(database_url, RELIEF_WEBHOOK_DESTINATION_CONCURRENCY="64") for _ in range(2)]
    processes.extend(workers)
    for process in workers:
        await process.start()
    await asyncio.sleep(1)  # both up and listening before the event
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201

    await _until(lambda: len(receiver.ids) >= 5000, 120, "5,000 deliveries")
    for process in workers:
        assert await process.stop() == 0, process.output()

    # A delivery claimed by two workers at once would have been sent twice: every id came exactly once,
    # with one attempt on record, and the work was shared.
    retried = await conn.fetch("select error, count(*) from webhook_attempts where error is not null group by error")
    assert retried == [], "attempts failed (and were retried), so some ids came twice for another reason"
    assert len(receiver.ids) == 5000 and set(receiver.ids.values()) == {1}
    assert receiver.forged == 0
    per_worker = await conn.fetch("select worker, count(*) from webhook_attempts group by worker")
    assert sum(r["count"] for r in per_worker) == 5000
    assert len(per_worker) == 2, f"one worker did everything: {per_worker}"
    assert await conn.fetchval("select count(*) from webhook_deliveries where status = 'delivered'") == 5000


async def test_relief_serve_delivers_webhooks_with_its_in_process_worker(receiver, conn, database_url):
    key = (await keys.create(conn, actor=SYSTEM, name="dispatcher", role=Role.dispatcher)).key
    served = Served(database_url, RELIEF_WEBHOOK_ALLOW_PRIVATE="true")
    try:
        await served.start()
        await served.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        subscription = {"url": receiver.url("/team"), "event_types": ["incident.*"]}
        async with aiohttp.ClientSession(served.base, headers=auth) as http:
            async with http.post("/v1/webhooks", json=subscription) as r:
                assert r.status == 201, await r.text()
                secret = (await r.json())["secret"]
            async with http.post("/v1/incidents", json=incident_body()) as r:
                assert r.status == 201
        await _until(lambda: len(receiver.received) >= 1, 15, "the in-process worker to deliver")
        assert verify(secret, receiver.received[0])["type"] == "incident.opened"
        assert await served.terminate() == 0
        assert "worker_stopped" in served.events()
    finally:
        await served.kill()
