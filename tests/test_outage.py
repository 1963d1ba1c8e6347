"""The database goes away and comes back: 503 + Retry-After meanwhile, normal service after, no restart.

The outage is made with a TCP proxy this test owns and cuts, never by stopping a server (the shared
one must stay up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest

from models.keys import Role
from relief import keys
from relief.app import create_app
from relief.auth import SYSTEM

RECOVERY_SECONDS = 10.0
CHUNK = 65536


class Proxy:
    """A byte-for-byte TCP proxy to a PostgreSQL server that can be cut and restored."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        parts = urlsplit(database_url)
        query = parse_qs(parts.query)
        host = (query.get("host") or [parts.hostname or "localhost"])[0]
        port = parts.port or int((query.get("port") or ["5432"])[0])
        self.unix_path = f"{host}/.s.PGSQL.{port}" if os.path.isdir(host) else None
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        """The test database's URL (same user, same database name) through the proxy."""
        parts = urlsplit(self.database_url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "sslmode=disable", ""))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and abort every proxied connection, as a dead server would look."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        await asyncio.sleep(0)

    async def restore(self) -> None:
        assert self._server is None
        await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.unix_path is not None:
            return await asyncio.open_unix_connection(self.unix_path)
        return await asyncio.open_connection(*self.target)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._transports.add(writer.transport)
        try:
            try:
                up_reader, up_writer = await self._open_upstream()
            except OSError:
                return
            self._transports.add(up_writer.transport)
            pipes = [
                asyncio.ensure_future(self._pipe(reader, up_writer)),
                asyncio.ensure_future(self._pipe(up_reader, writer)),
            ]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
                self._transports.discard(up_writer.transport)
                up_writer.transport.abort()
        finally:
            self._transports.discard(writer.transport)
            writer.transport.abort()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(CHUNK):
                sink.write(data)
                await sink.drain()


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[Proxy]:
    """Requested before aiohttp_client, so the app (and its pool) is closed before the proxy goes."""
    found = Proxy(database_url)
    await found.start()
    try:
        yield found
    finally:
        await found.close()


async def _poll(call, expected: int) -> Any:  # type: ignore[no-untyped-def]
    """Call until it answers `expected`, for at most RECOVERY_SECONDS; returns the last response."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY_SECONDS
    while True:
        response = await call()
        if response.status == expected or loop.time() >= deadline:
            return response
        await asyncio.sleep(0.1)


async def test_database_outage_answers_503_then_recovers(
    database_url: str,
    conn: asyncpg.Connection,
    proxy: Proxy,
    aiohttp_client: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    created = await keys.create(conn, actor=SYSTEM, name="outage dispatcher", role=Role.dispatcher)
    auth = {"Authorization": f"Bearer {created.key}"}
    client = await aiohttp_client(create_app(settings, database_url=proxy.url))

    async def readyz():  # type: ignore[no-untyped-def]
        response = await client.get("/readyz")
        await response.read()
        return response

    async def incidents():  # type: ignore[no-untyped-def]
        response = await client.get("/v1/incidents", headers=auth)
        await response.read()
        return response

    # Up: the app talks to the database through the proxy.
    response = await readyz()
    assert response.status == 200, await response.text()
    response = await incidents()
    assert response.status == 200, await response.text()

    # Down: every pooled connection is dropped and new ones are refused.
    await proxy.cut()
    for _ in range(2):  # not only the first call: the pool keeps failing fast while the database is away
        response = await readyz()
        assert response.status == 503, await response.text()
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Content-Type"].startswith("application/problem+json")
        problem = await response.json()
        assert problem["status"] == 503
        assert problem["type"].endswith("unavailable")

        response = await incidents()
        assert response.status == 503, await response.text()
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert (await response.json())["status"] == 503

    # No key at all is known to be unauthorized without asking the database.
    response = await client.get("/v1/incidents")
    await response.read()
    assert response.status == 401

    # Up again: the same app, not restarted, answers normally within a few seconds.
    await proxy.restore()
    response = await _poll(readyz, 200)
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "ready"
    response = await _poll(incidents, 200)
    assert response.status == 200, await response.text()
    assert (await response.json())["items"] == []

    http_records = [record for record in caplog.records if record.name == "relief.http"]
    assert http_records, "no relief.http log records captured"
    assert [r for r in http_records if r.exc_info is not None] == []
    assert all(r.levelno < logging.ERROR for r in http_records), [r.getMessage() for r in http_records]
    assert not [r for r in caplog.records if "unhandled_error" in r.getMessage()]


async def test_outage_with_a_warm_pool_answers_503_to_reads_and_writes(
    database_url: str,
    conn: asyncpg.Connection,
    proxy: Proxy,
    aiohttp_client: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cut between requests on a warmed-up pool: each request type is 503 and then recovers."""
    caplog.set_level(logging.INFO)
    created = await keys.create(conn, actor=SYSTEM, name="outage dispatcher", role=Role.dispatcher)
    auth = {"Authorization": f"Bearer {created.key}"}
    client = await aiohttp_client(create_app(settings, database_url=proxy.url))

    # Warm several pooled connections at once.
    responses = await asyncio.gather(*(client.get("/v1/incidents", headers=auth) for _ in range(5)))
    for response in responses:
        await response.read()
        assert response.status == 200

    await proxy.cut()
    body = {
        "code": "2023-DOKSURI-SZ",
        "title": "台风杜苏芮 苏州响应",
        "type": "typhoon",
        "severity": "II",
        "regions": ["320500"],
        "started_at": "2023-07-28T01:55:00Z",
    }
    response = await client.post("/v1/incidents", json=body, headers=auth)
    assert response.status == 503, await response.text()
    assert "Retry-After" in response.headers

    responses = await asyncio.gather(*(client.get("/v1/incidents", headers=auth) for _ in range(5)))
    for response in responses:
        await response.read()
        assert response.status == 503
        assert "Retry-After" in response.headers

    await proxy.restore()

    async def create():  # type: ignore[no-untyped-def]
        response = await client.post("/v1/incidents", json=body, headers=auth)
        await response.read()
        return response

    response = await _poll(create, 201)
    assert response.status == 201, await response.text()
    assert await conn.fetchval("select count(*) from incidents") == 1

    http_records = [record for record in caplog.records if record.name == "relief.http"]
    assert [r for r in http_records if r.exc_info is not None] == []


# --- the middleware's side of the classification (the cases: tests/faults/test_restarts.py) ------------


async def test_the_middleware_answers_503_retries_reads_and_not_writes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead pooled connection: a read is run once more (and succeeds), a write gets 503 +
    Retry-After (it is not re-run: a first attempt may have committed), a bug stays a 500."""
    from aiohttp import web

    from handlers.middleware import problem_details

    caplog.set_level(logging.INFO)
    calls: Counter[str] = Counter()
    dead = asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress")

    async def read(request: web.Request) -> web.Response:
        calls["read"] += 1
        if calls["read"] == 1:
            raise dead
        return web.json_response({"ok": True})

    async def write(request: web.Request) -> web.Response:
        calls["write"] += 1
        raise dead

    async def down(request: web.Request) -> web.Response:
        calls["down"] += 1
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    async def bug(request: web.Request) -> web.Response:
        raise asyncpg.exceptions.InterfaceError("the server expects 2 arguments for this query, 1 was passed")

    app = web.Application(middlewares=[problem_details])
    app.router.add_get("/read", read)
    app.router.add_post("/write", write)
    app.router.add_get("/down", down)
    app.router.add_get("/bug", bug)
    client = await aiohttp_client(app)

    response = await client.get("/read")
    assert response.status == 200 and calls["read"] == 2
    response = await client.post("/write", json={})
    assert response.status == 503 and calls["write"] == 1
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Content-Type"].startswith("application/problem+json")
    response = await client.get("/down")  # the server is not back: no point asking twice
    assert response.status == 503 and calls["down"] == 1 and "Retry-After" in response.headers
    outage_records = [r for r in caplog.records if r.name == "relief.http"]
    assert outage_records and all(r.levelno == logging.WARNING for r in outage_records)

    response = await client.get("/bug")
    assert response.status == 500
    assert [r for r in caplog.records if r.levelno >= logging.ERROR and "unhandled_error" in r.getMessage()]
