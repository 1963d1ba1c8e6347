"""The public answers (figures, use report, ledger, reports, alerts) from an in-process cache.

A disaster sends the whole city to these few URLs, and they change only when something commits. An
answer is kept until a commit touches its incident: the events trigger NOTIFYs relief_events with the
incident id, and the stream hub's LISTEN connection (handlers/stream.py) hears it on every replica, so
each replica is exact within a notification's delay of a commit. A write through this replica
invalidates at once (read-your-writes, before its answer leaves). While the hub is not listening
(connecting, reconnecting, or its connection has not answered a ping within a second), nothing heard
can be trusted: an answer is then kept for RELIEF_PUBLIC_MAX_AGE seconds at most (0 to 1; 0 bypasses
the cache), counted from when its reads began. The same max-age goes out in Cache-Control, so a CDN
keeps the same promise.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

# Groups an answer belongs to, for invalidation: an incident's id (changes with that incident's commits),
# ANY (changes with any commit: the list of incidents, the alerts feed) or FROZEN (never changes: an
# issued report's public version is made from its frozen JSON alone).
ANY = "*"
FROZEN = ""

MAX_ENTRIES = 4096  # distinct URLs (query strings included) kept; the least recently used go first


class Listening(Protocol):
    """What the cache needs of the stream hub: whether what it hears can be trusted now, and since when."""

    epoch: int  # bumped each time a LISTEN connection starts: what was heard before may have gaps

    def live(self, now: float) -> bool: ...


@dataclass(frozen=True)
class Answer:
    """What a public route serves: its bytes, their tag, and any headers of its own."""

    body: bytes
    etag: str
    content_type: str = "application/json"
    charset: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    answer: Answer
    started: float  # when its reads began (the clock's time)
    epoch: int | None  # the hub's epoch when they began, None if it was not live then
    generation: tuple[int, int]


@dataclass
class _Flight:
    """An answer being made: requests for the same URL that arrive meanwhile wait for it."""

    future: asyncio.Future[Answer]
    started: float
    epoch: int | None
    generation: tuple[int, int]


class PublicCache:
    """Answers by URL, each valid until a commit touches its group (or, while not listening, for max_age)."""

    def __init__(self, hub: Listening, *, max_age: int, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.hub = hub
        self.max_age = max_age
        self.cache_control = f"public, max-age={max_age}"
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, ...], _Entry] = OrderedDict()
        self._flights: dict[tuple[str, ...], _Flight] = {}
        self._groups: dict[str, int] = {}  # an incident's count of invalidations
        self._all = 0  # invalidations of every incident at once (a commit outside any incident)
        self._any = 0  # invalidations of anything
        self.made = 0  # answers made (not served from the cache): for the tests and benchmarks

    def invalidate(self, incident_id: str) -> None:
        """A commit touched `incident_id` ('' for a commit outside any incident: every group)."""
        self._any += 1
        if incident_id:
            self._groups[incident_id] = self._groups.get(incident_id, 0) + 1
        else:
            self._all += 1

    def invalidate_all(self) -> None:
        self.invalidate("")

    def _generation(self, group: str) -> tuple[int, int]:
        if group == FROZEN:
            return (0, 0)
        if group == ANY:
            return (self._any, 0)
        return (self._all, self._groups.get(group, 0))

    def _fresh(self, entry: _Entry, group: str, now: float) -> bool:
        if entry.generation != self._generation(group):
            return False
        if entry.epoch is not None and entry.epoch == self.hub.epoch and self.hub.live(now):
            return True
        return now - entry.started < self.max_age

    async def answer(self, request: web.Request, group: str, make: Callable[[], Awaitable[Answer]],
                     *, vary: str = "") -> web.Response:
        """The request's answer from the cache, else made by `make` (once for concurrent requests)."""
        return self.respond(request, await self.get((request.path_qs, vary), group, make))

    async def get(self, key: tuple[str, ...], group: str, make: Callable[[], Awaitable[Answer]]) -> Answer:
        while True:
            now = self.clock()
            entry = self._entries.get(key)
            if entry is not None and self._fresh(entry, group, now):
                self._entries.move_to_end(key)
                return entry.answer
            generation = self._generation(group)
            epoch = self.hub.epoch if self.hub.live(now) else None
            flight = self._flights.get(key)
            if flight is not None and flight.generation == generation and flight.epoch == epoch \
                    and (epoch is not None or now - flight.started < self.max_age):
                # Begun after the last invalidation this request knows of (and, while not listening,
                # less than max-age ago): its answer is as fresh as this request's own would be.
                await asyncio.wait({flight.future})
                if flight.future.cancelled():
                    continue  # its maker's request was cancelled: make it here
                return flight.future.result()
            return await self._make(key, group, make, now, epoch, generation)

    async def _make(self, key: tuple[str, ...], group: str, make: Callable[[], Awaitable[Answer]], started: float,
                    epoch: int | None, generation: tuple[int, int]) -> Answer:
        flight = _Flight(asyncio.get_running_loop().create_future(), started, epoch, generation)
        self._flights[key] = flight
        try:
            answer = _served(await make())
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.future.cancel()
            else:
                flight.future.set_exception(exc)
                flight.future.exception()  # retrieved: a flight nobody waited for logs nothing
            raise
        else:
            flight.future.set_result(answer)
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        self.made += 1
        # Kept only if nothing was invalidated while it was made: its reads may predate that commit.
        if self.max_age > 0 or epoch is not None:
            if generation == self._generation(group) and (epoch is None or epoch == self.hub.epoch):
                self._entries[key] = _Entry(answer, started, epoch, generation)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return answer

    def respond(self, request: web.Request, answer: Answer) -> web.Response:
        """The answer, or 304 when the reader's If-None-Match holds its tag."""
        headers = {**answer.headers, "ETag": answer.etag, "Cache-Control": self.cache_control}
        if matches(request, answer.etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=answer.body, headers=headers, content_type=answer.content_type,
                            charset=answer.charset)


def _served(answer: Answer) -> Answer:
    """The bytes as they go out: a JSON body ends with a newline (handlers/middleware.py adds one to every
    JSON answer), added here once rather than copied onto each answer served."""
    kind = answer.content_type
    if (kind == "application/json" or kind.endswith("+json")) and answer.body and not answer.body.endswith(b"\n"):
        return dataclasses.replace(answer, body=answer.body + b"\n")
    return answer


def matches(request: web.Request, tag: str) -> bool:
    """The reader's If-None-Match holds `tag`. Tags only: "*" (any copy at all) would make a first read 304."""
    sent = request.headers.get("If-None-Match", "")
    return bool(sent) and tag in (t.strip().removeprefix("W/") for t in sent.split(","))


CACHE = web.AppKey("public_cache", PublicCache)


def setup(app: web.Application, hub: Any, *, max_age: int) -> PublicCache:
    """The app's cache, told by `hub` of every commit it hears, and by this replica's own writes."""
    cache = PublicCache(hub, max_age=max_age)
    app[CACHE] = cache
    hub.watchers.append(cache.invalidate)

    async def own_writes(request: web.Request, response: web.StreamResponse) -> None:
        # A write's answer goes out after its commit: whoever reads next through this replica sees it,
        # without waiting for the notification (which may still be on its way).
        if request.method not in ("GET", "HEAD", "OPTIONS") and response.status < 400:
            cache.invalidate_all()

    app.on_response_prepare.append(own_writes)
    return cache


def cache(request: web.Request) -> PublicCache:
    return request.app[CACHE]
