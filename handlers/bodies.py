"""The body deadline: a request body must arrive within RELIEF_BODY_TIMEOUT, or 408 and the connection closes.

aiohttp waits for a body as long as the client keeps the connection open, so a client that stops
mid-body holds a connection (and a request slot the graceful stop waits for) for ever. Every body is
therefore read here, before authentication and the handler, under one deadline; the handler's own
read then returns the buffered bytes. While the server is stopping, a body that has not moved for
STALL_SECONDS is cut at once: the stop drains requests that are still arriving, never a stalled one.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog
from aiohttp import web

from handlers import problems
from handlers.routing import Handler
from relief.app_keys import SETTINGS, STOPPING

log = structlog.get_logger("relief.http")

STALL_SECONDS = 3.0  # while stopping: no byte for this long is a stalled client
_TICK = 0.25


async def _read(request: web.Request, deadline: float, stopping: asyncio.Event) -> str | None:
    """Read the whole body into the request; None when done, else why it was cut."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    reading = asyncio.ensure_future(request.read())  # raises 413 past client_max_size, as before
    moved_at, seen = loop.time(), request.content.total_bytes
    try:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=_TICK)
            if done:
                reading.result()
                return None
            now = loop.time()
            if request.content.total_bytes != seen:
                moved_at, seen = now, request.content.total_bytes
            if now >= end:
                return f"the body did not arrive within {deadline:g} s"
            if stopping.is_set() and now - moved_at >= STALL_SECONDS:
                return "the server is stopping and the body stopped arriving"
    finally:
        if not reading.done():
            reading.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await reading


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists:
        return await handler(request)
    why = await _read(request, request.app[SETTINGS].body_timeout, request.app[STOPPING])
    if why is None:
        return await handler(request)
    log.warning("body_timeout", reason=why, received_bytes=request.content.total_bytes)
    response = problems.response(request, status=408, slug="request-timeout", detail=f"{why}; send it again",
                                 headers={"Connection": "close"})
    # Send the answer, then close: what is still on its way belongs to no request we can read, and
    # aiohttp would otherwise linger up to 10 s reading it.
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()  # an asyncio transport sends what it buffered before it closes
    return response
