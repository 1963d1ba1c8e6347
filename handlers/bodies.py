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
from aiohttp import ClientConnectionResetError, web
from aiohttp.http_exceptions import HttpProcessingError

from handlers import problems
from handlers.middleware import OPERATIONS
from handlers.problems import HttpProblem
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
                _body_problem(reading)
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
        elif not reading.cancelled():
            reading.exception()  # retrieved: a client that left mid-body is not an unhandled error


def _body_problem(reading: asyncio.Future[bytes]) -> None:
    """Raise what the read came to, as the client's fault: never a 500, nor an outage."""
    try:
        reading.result()
    except web.HTTPException:
        raise  # 413: the body is over the size limit
    except (HttpProcessingError, web.RequestPayloadError) as exc:  # not what its headers say (bad gzip…)
        reason = str(exc).split("message:", 1)[-1].strip() or type(exc).__name__
        raise HttpProblem("malformed-request", f"the body cannot be read: {reason}") from None
    except (ConnectionError, ClientConnectionResetError) as exc:
        # The client went away mid-body: nobody will read an answer, and it is not the database.
        raise ClientGone(str(exc) or type(exc).__name__) from None


class ClientGone(Exception):
    """The client closed the connection before its body arrived."""


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists:
        return await handler(request)
    operation = request.app[OPERATIONS].get(request.match_info.route)
    if operation is not None and operation.upload:
        return await handler(request)  # streamed by its handler, under the upload's own limit and deadline
    try:
        why = await _read(request, request.app[SETTINGS].body_timeout, request.app[STOPPING])
    except ClientGone as exc:
        log.info("client_went_away", reason=str(exc), received_bytes=request.content.total_bytes)
        return web.Response(status=400)  # written to a closed connection: only the log line sees it
    except HttpProblem as exc:  # a body that cannot be read: the rest of the stream cannot be either
        return await _answer_and_close(request, 400, exc.slug, exc.detail)
    if why is None:
        return await handler(request)
    log.warning("body_timeout", reason=why, received_bytes=request.content.total_bytes)
    return await _answer_and_close(request, 408, "request-timeout", f"{why}; send it again")


async def _answer_and_close(request: web.Request, status: int, slug: str, detail: str) -> web.StreamResponse:
    """Send the problem, then close the connection: what is still on its way belongs to no request we
    can read, and aiohttp would otherwise linger up to 10 s reading it (or fail on it again)."""
    response = problems.response(request, status=status, slug=slug, detail=detail, headers={"Connection": "close"})
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()  # an asyncio transport sends what it buffered before it closes
    return response
