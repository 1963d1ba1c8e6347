"""GET /v1/incidents/{id}/stream: an incident's events as Server-Sent Events, as they commit.

Every replica LISTENs on relief_events (the events trigger notifies it on each commit), so a change
made through any replica reaches the streams of all of them; streams also poll each second, since a
notification only says "look". Each message's id is a stream position (events.read_incident_after):
a browser that reconnects sends it back as Last-Event-ID and misses nothing, even an event that
committed late, and gets nothing twice.

However many listen, a process reads each incident's new events once: one reader per incident
(_Reader) reads them, renders each message once per audience (staff who see contacts, other staff, each
organization) and hands the bytes to every listener of that audience. A listener that resumes from
behind the reader catches up with reads of its own, then joins.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import structlog
from aiohttp import web

from handlers.common import path_id, pool, principal
from handlers.problems import HttpProblem
from handlers.routing import Routes
from notifications import envelope
from relief import db, events, incidents, masking, waits

log = structlog.get_logger("relief.stream")

routes = Routes("incidents")

CHANNEL = "relief_events"
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
WAKE_DEBOUNCE = 0.05
CHASES = 4  # after a wake-up that found nothing: looks again after 0.05, 0.1, 0.2 and 0.4 s
# The LISTEN connection is pinged this often; what it heard is trusted (handlers/public_cache.py) only
# while its last answer is at most LIVE_SECONDS old.
PING_SECONDS = 0.25
LIVE_SECONDS = 1.0
RECONNECT_SECONDS = (0.5, 5.0)  # first and longest wait before listening again


class Hub:
    """One LISTEN connection per process; a commit wakes the streams of its incident only (the
    notification's payload is the incident id), and tells the watchers (the public cache)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.closing = asyncio.Event()
        self.watchers: list[Callable[[str], None]] = []
        self.readers: dict[str, _Reader] = {}
        self.epoch = 0  # bumped at each LISTEN: a new connection may have missed commits before it
        self.connection: asyncpg.Connection | None = None  # the LISTEN connection, while there is one
        self.listening = False
        self.heard_at = float("-inf")  # when the connection last answered
        self.clock = clock or time.monotonic

    def live(self, now: float) -> bool:
        """Listening, on a connection that answered within LIVE_SECONDS: every commit since is heard."""
        return self.listening and now - self.heard_at <= LIVE_SECONDS

    def notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """A commit (of the incident `payload`, or '' outside any incident)."""
        for watcher in self.watchers:
            watcher(payload)
        self._wake(self.waiters.pop(payload, ()))

    def missed(self) -> None:
        """Commits may have gone unheard (nobody listened): every stream and watcher looks again."""
        for watcher in self.watchers:
            watcher("")
        woken = [w for ws in self.waiters.values() for w in ws]
        self.waiters.clear()
        self._wake(woken)

    @staticmethod
    def _wake(waiters: Iterable[asyncio.Future[None]]) -> None:
        for waiter in waiters:
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

    async def listen(self, database_url: str) -> None:
        """LISTEN until shutdown, connecting again (after a short wait) whenever the connection ends."""
        failures = 0
        while not self.closing.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await db.connect(database_url)
                await conn.add_listener(CHANNEL, self.notify)
                conn.add_termination_listener(self._terminated)
                self.epoch += 1
                self.connection, self.listening, self.heard_at = conn, True, self.clock()
                self.missed()  # whatever committed while nobody listened was not heard
                failures = 0
                while not conn.is_closed():
                    # An answer comes after every notification sent before it: heard_at vouches for them.
                    await waits.within(conn.fetchval("select 1"), LIVE_SECONDS)
                    self.heard_at = self.clock()
                    await asyncio.sleep(PING_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # streams still poll and the cache expires; the loop listens again
                log.warning("stream_listen_failed", error=str(exc) or type(exc).__name__)
            finally:
                self.connection, self.listening = None, False
                if conn is not None:
                    with suppress(Exception):
                        await waits.within(conn.close(), 1)
            first, longest = RECONNECT_SECONDS
            await waits.woken(self.closing, min(first * 2**failures, longest))
            failures = min(failures + 1, 16)

    def _terminated(self, _conn: object) -> None:
        self.listening = False

    def reader(self, app_pool: asyncpg.Pool, incident_id: UUID, position: str) -> _Reader:
        """The incident's reader, started (from `position`) if none runs."""
        found = self.readers.get(str(incident_id))
        if found is None or found.done:
            found = _Reader(self, app_pool, incident_id, position)
            self.readers[str(incident_id)] = found
            found.task = asyncio.create_task(found.run(), name=f"relief-stream-{incident_id}")
        return found

    async def stop(self) -> None:
        """Stop every reader (their listeners end)."""
        self.closing.set()
        for reader in list(self.readers.values()):
            if reader.task is not None:
                await waits.stop(reader.task)


HUB = web.AppKey("stream_hub", Hub)


def setup(app: web.Application, database_url: str) -> None:
    async def listen(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB]
        task = asyncio.create_task(hub.listen(database_url), name="relief-listen")
        yield
        await hub.stop()
        await waits.stop(task)

    async def closing(app: web.Application) -> None:
        app[HUB].closing.set()  # before the server waits for open requests, which streams never finish

    app[HUB] = Hub()
    app.cleanup_ctx.append(listen)
    app.on_shutdown.append(closing)


def _message(position: str, row: asyncpg.Record, audience: masking.Audience) -> bytes:
    data = {**envelope.document(row, audience), "entity": {"type": row["entity_type"], "id": str(row["entity_id"])}}
    return f"id: {position}\nevent: {data['type']}\ndata: {db.dumps(data)}\n\n".encode()


Message = tuple[tuple[int, int], bytes]  # (decoded position, the message's bytes)


@dataclass(frozen=True)
class _Class:
    """Listeners who get the same bytes: the same masking, the same events."""

    audience: masking.Audience
    owner: UUID | None  # the organization whose visibility applies; None: staff, who see every event


@dataclass(eq=False)
class _Listener:
    kind: _Class
    pending: list[list[Message]] = field(default_factory=list)
    ended: bool = False
    _wake: asyncio.Future[None] | None = None

    def push(self, batch: list[Message]) -> None:
        self.pending.append(batch)
        self._woken()

    def end(self) -> None:
        self.ended = True
        self._woken()

    def _woken(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def next(self, timeout: float) -> list[list[Message]]:
        """The batches handed over since the last call, waiting up to `timeout` for one."""
        if not self.pending and not self.ended:
            self._wake = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake
            except TimeoutError:
                pass
            finally:
                self._wake = None
        batches, self.pending = self.pending, []
        return batches


# Which of these events each organization may read: event_visible_to, the rule every channel shares.
VISIBLE_TO = """
select o.owner, array_agg(e.id) as ids
  from events e, unnest($2::uuid[]) as o(owner)
 where e.id = any($1::bigint[]) and event_visible_to(e, o.owner)
 group by o.owner
"""


class _Reader:
    """An incident's new events, read once for every listener of this process."""

    def __init__(self, hub: Hub, app_pool: asyncpg.Pool, incident_id: UUID, position: str) -> None:
        self.hub, self.pool, self.incident_id = hub, app_pool, incident_id
        self.position = position
        self.classes: dict[_Class, set[_Listener]] = {}
        self.task: asyncio.Task[None] | None = None
        self.done = False

    def join(self, kind: _Class) -> tuple[_Listener, str]:
        """A new listener, and the position after which the batches it will be handed begin."""
        listener = _Listener(kind)
        self.classes.setdefault(kind, set()).add(listener)
        return listener, self.position

    def leave(self, listener: _Listener) -> None:
        members = self.classes.get(listener.kind)
        if members is not None:
            members.discard(listener)
            if not members:
                del self.classes[listener.kind]

    async def run(self) -> None:
        chasing = 0  # quick looks left after a wake-up that found nothing yet
        try:
            while self.classes and not self.hub.closing.is_set():
                async with self.pool.acquire() as conn:
                    found, position = await events.read_incident_after(
                        conn, incident_id=self.incident_id, position=self.position, owner=None, staff=True)
                    owners = {k.owner for k in self.classes if k.owner is not None}
                    visible: dict[UUID, set[int]] = {}
                    if found and owners:
                        rows = await conn.fetch(VISIBLE_TO, [r["id"] for _, r in found], list(owners))
                        visible = {r["owner"]: set(r["ids"]) for r in rows}
                # No await from the read to the hand-over: a listener joining sees either both or neither.
                self.position = position
                if found:
                    self._hand_over(found, visible)
                    chasing = 0
                    continue  # more may be waiting
                # Woken, but nothing to read yet: a transaction still running somewhere holds the
                # stream's horizon back (events.read_incident_after). Look again soon, not in a second.
                timeout = min(WAKE_DEBOUNCE * 2 ** (CHASES - chasing), POLL_SECONDS) if chasing else POLL_SECONDS
                chasing = max(chasing - 1, 0)
                if await self.hub.wait(str(self.incident_id), timeout):
                    # A burst of commits notifies once each: read them together rather than one query apiece.
                    await asyncio.sleep(WAKE_DEBOUNCE)
                    chasing = CHASES
        except Exception as exc:
            # The listeners' responses have begun: no problem document can follow. They end, and each
            # EventSource reconnects with Last-Event-ID and misses nothing.
            if db.unavailable(exc):
                log.warning("stream_ended", error=str(exc) or type(exc).__name__)
            else:
                log.exception("stream_reader_failed")
        finally:
            self.done = True
            if self.hub.readers.get(str(self.incident_id)) is self:
                del self.hub.readers[str(self.incident_id)]
            for members in self.classes.values():
                for listener in members:
                    listener.end()

    def _hand_over(self, found: list[tuple[str, asyncpg.Record]], visible: dict[UUID, set[int]]) -> None:
        for kind, members in self.classes.items():
            ids = None if kind.owner is None else visible.get(kind.owner, set())
            batch = [(events.decode_position(p), _message(p, row, kind.audience))
                     for p, row in found if ids is None or row["id"] in ids]
            if batch:
                for listener in members:
                    listener.push(batch)


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
    kind = _Class(masking.Audience.of(caller), owner)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    hub = request.app[HUB]
    reader = hub.reader(pool(request), incident_id, position)
    listener, joined_at = reader.join(kind)
    try:
        await _follow(request, response, hub, listener, incident_id, position, joined_at)
    except Exception as exc:
        if not db.unavailable(exc):  # an outage, or the browser's socket (an OSError) gone
            raise
        log.warning("stream_ended", error=str(exc) or type(exc).__name__)
    finally:
        reader.leave(listener)
    return response


async def _follow(request: web.Request, response: web.StreamResponse, hub: Hub, listener: _Listener,
                  incident_id: UUID, position: str, joined_at: str) -> None:
    """Catch up to where the reader was when this listener joined, then write what it hands over."""
    kind = listener.kind
    mine = events.decode_position(position)
    while mine < events.decode_position(joined_at):
        async with pool(request).acquire() as conn:
            found, position = await events.read_incident_after(
                conn, incident_id=incident_id, position=position, owner=kind.owner, staff=kind.owner is None)
        if found:
            await response.write(b"".join(_message(p, row, kind.audience) for p, row in found))
        if events.decode_position(position) == mine:
            break  # nothing more to read (cannot happen while the reader is ahead; never spin)
        mine = events.decode_position(position)
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not hub.closing.is_set() and not listener.ended:
        if request.transport is None or request.transport.is_closing():
            break  # the browser went away
        batches = await listener.next(POLL_SECONDS)
        out = []
        for batch in batches:
            if batch[-1][0] <= mine:
                continue  # read already, catching up or before this listener's start
            for at, data in batch:
                if at > mine:
                    out.append(data)
            mine = batch[-1][0]
        if out:
            await response.write(b"".join(out))
            quiet_since = loop.time()
        elif loop.time() - quiet_since >= HEARTBEAT_SECONDS:
            await response.write(b": keep-alive\n\n")  # proxies close silent connections
            quiet_since = loop.time()
