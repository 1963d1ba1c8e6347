"""The body deadline: a half-sent body gets 408 and its connection closed, within the bound."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from handlers.bodies import STALL_SECONDS
from relief.app_keys import STOPPING
from relief.settings import Settings
from tests.conftest import incident_body

BOUND = 1.0


@pytest.fixture
def settings(request) -> Settings:
    # A short deadline so the test waits one second, not the default 30 (a test may pass its own).
    timeout = getattr(request, "param", BOUND)
    return Settings(env="development", log_format="json", worker_in_process=False, body_timeout=timeout)


def _request(key: str, body: bytes) -> bytes:
    return (
        "POST /v1/incidents HTTP/1.1\r\nHost: relief\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status = int(head.split(" ", 2)[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:] if line)}
    payload = await reader.readexactly(int(headers["content-length"]))
    return status, headers, json.loads(payload)


async def _stalled(client, key: str) -> tuple[float, int, dict[str, str], dict, bytes]:
    """Send half a body and stop; how long until the answer, the answer, and what followed it."""
    body = json.dumps(incident_body()).encode()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    loop = asyncio.get_running_loop()
    try:
        writer.write(_request(key, body) + body[: len(body) // 2])
        await writer.drain()
        started = loop.time()
        async with asyncio.timeout(BOUND + STALL_SECONDS + 5):
            status, headers, problem = await _answer(reader)
            elapsed = loop.time() - started
            rest = await reader.read()  # b"" once the server closed the connection
        return elapsed, status, headers, problem, rest
    finally:
        writer.close()


async def test_a_body_that_stops_arriving_gets_408_and_the_connection_is_closed(client, dispatcher, conn):
    elapsed, status, headers, problem, rest = await _stalled(client, dispatcher.key)
    assert status == 408 and headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "/docs#problem-request-timeout" and "within 1 s" in problem["detail"]
    assert headers["connection"] == "close" and rest == b""
    assert BOUND - 0.1 <= elapsed <= BOUND + 1.0, elapsed
    assert await conn.fetchval("select count(*) from incidents") == 0


async def test_a_slow_body_that_arrives_within_the_bound_is_served(client, dispatcher):
    body = json.dumps(incident_body()).encode()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(_request(dispatcher.key, body))
        for start in range(0, len(body), len(body) // 4 + 1):
            writer.write(body[start : start + len(body) // 4 + 1])
            await writer.drain()
            await asyncio.sleep(0.15)
        status, _, created = await _answer(reader)
    finally:
        writer.close()
    assert status == 201 and created["code"] == incident_body()["code"]


@pytest.mark.parametrize("settings", [60.0], indirect=True)
async def test_while_stopping_a_stalled_body_is_cut_without_waiting_for_the_deadline(client, dispatcher, app):
    app[STOPPING].set()  # what `relief serve` does when SIGTERM begins the graceful stop
    elapsed, status, _, problem, rest = await _stalled(client, dispatcher.key)
    assert status == 408 and "stopping" in problem["detail"] and rest == b""
    assert STALL_SECONDS - 0.1 <= elapsed <= STALL_SECONDS + 1.0, elapsed  # not the 60 s deadline


async def test_a_body_that_is_not_what_its_headers_say_is_a_400_before_anything_else(client, caplog):
    """Not gzip although it says so: the client's fault, on any route, even before authentication."""
    for path in ("/v1/incidents", "/console/session"):  # the connection closes after each: a new one each
        response = await client.post(path, data=b"hello",
                                      headers={"Content-Encoding": "gzip", "Content-Type": "application/json",
                                               "Connection": "close"})
        problem = await response.json()
        assert response.status == 400, problem
        assert problem["type"] == "/docs#problem-malformed-request" and "cannot be read" in problem["detail"]
        assert response.headers["Connection"] == "close"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_that_leaves_mid_body_is_not_a_database_outage(client, dispatcher, caplog):
    _, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(_request(dispatcher.key, b"x" * 100) + b"x" * 10)
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.transport.abort()
    await asyncio.sleep(0.5)
    # aiohttp cancels the request (logged as 499) or the read fails (client_went_away); either way it
    # is no outage, no error, and the handler is not run a second time.
    events = [str(r.msg) for r in caplog.records]
    assert any("'status': 499" in e or "client_went_away" in e for e in events), events
    assert not any("database_unavailable" in e or "database_retried" in e for e in events), events
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], events
