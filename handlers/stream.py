"""GET /v1/incidents/{id}/stream: an incident's events as Server-Sent Events, as they commit.

Every replica LISTENs on relief_events (the events trigger notifies it on each commit), so a change
made through any replica reaches the streams of all of them; streams also poll each second, since a
notification only says "look". Each message's id is a stream position (events.read_incident_after):
a browser that reconnects sends it back as Last-Event-ID and misses nothing, even an event that
committed late, and gets nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress

import asyncpg
import structlog
from aiohttp import web

from handlers.common import path_id, pool, principal
from handlers.problems import HttpProblem
from handlers.routing import Routes
from notifications import envelope
from relief import db, events, incidents, masking

log = structlog.get_logger("relief.stream")

routes = Routes("incidents")

CHANNEL = "relief_events"
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
WAKE_DEBOUNCE = 0.05


class Hub:
    """One LISTEN connection per process; a commit wakes the open streams of its incident only (the
    notification's payload is the incident id)."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.closing = asyncio.Event()

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for waiter in self.waiters.pop(payload, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, incident_id: str, timeout: float) -> bool:
        """Until the incident's next commit (True), the timeout, or shutdown."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(incident_id, set()).add(waiter)
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            await asyncio.wait({waiter, closing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            waiting = self.waiters.get(incident_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self.waiters[incident_id]
        return waiter.done()


HUB = web.AppKey("stream_hub", Hub)


def setup(app: web.Application, database_url: str) -> None:
    app[HUB] = Hub()

    async def listen(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB]
        conn = None
        try:
            conn = await db.connect(database_url)
            await conn.add_listener(CHANNEL, hub.notify)
        except (*db.UNAVAILABLE_ERRORS, OSError) as exc:  # streams still poll; a restart listens again
            log.warning("stream_listen_failed", error=str(exc) or type(exc).__name__)
        yield
        hub.closing.set()
        if conn is not None:
            with suppress(Exception):
                await conn.close()

    async def closing(app: web.Application) -> None:
        app[HUB].closing.set()  # before the server waits for open requests, which streams never finish

    app.cleanup_ctx.append(listen)
    app.on_shutdown.append(closing)


def _message(position: str, row: asyncpg.Record, audience: masking.Audience) -> bytes:
    data = {**envelope.document(row, audience), "entity": {"type": row["entity_type"], "id": str(row["entity_id"])}}
    return f"id: {position}\nevent: {data['type']}\ndata: {db.dumps(data)}\n\n".encode()


@routes.get("/v1/incidents/{id}/stream", response=None, content_type="text/event-stream",
            roles="any key (an organization sees what it may read); the console's session cookie",
            errors=(400, 404),
            headers={"Last-Event-ID": "(request) resume after this position; ?after= does the same"})
async def stream(request: web.Request) -> web.StreamResponse:
    """An incident's events, live (Server-Sent Events), resumable with Last-Event-ID."""
    caller, incident_id = principal(request), path_id(request)
    resume = request.headers.get("Last-Event-ID") or request.query.get("after")
    if resume is not None:
        try:
            events.decode_position(resume)
        except ValueError as exc:
            raise HttpProblem("malformed-request", f"{resume!r} is not a stream position; use a message id") from exc
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        position = resume or await events.current_head(conn)
    owner = None if caller.is_staff else caller.organization_id
    audience = masking.Audience.of(caller)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    hub = request.app[HUB]
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not hub.closing.is_set():
        if request.transport is None or request.transport.is_closing():
            break  # the browser went away
        try:
            async with pool(request).acquire() as conn:
                found, position = await events.read_incident_after(
                    conn, incident_id=incident_id, position=position, owner=owner, staff=caller.is_staff
                )
            for message_position, row in found:
                await response.write(_message(message_position, row, audience))
        except Exception as exc:
            if not db.unavailable(exc):  # an outage, or the browser's socket (an OSError) gone
                raise
            # The response has begun: no problem document can follow. End the stream; EventSource
            # reconnects with Last-Event-ID and misses nothing.
            log.warning("stream_ended", error=str(exc) or type(exc).__name__)
            break
        if found:
            quiet_since = loop.time()
            continue  # more may be waiting
        if loop.time() - quiet_since >= HEARTBEAT_SECONDS:
            await response.write(b": keep-alive\n\n")  # proxies close silent connections
            quiet_since = loop.time()
        if await hub.wait(str(incident_id), POLL_SECONDS):
            # A burst of commits notifies once each: read them together rather than one query apiece.
            await asyncio.sleep(WAKE_DEBOUNCE)
    return response
