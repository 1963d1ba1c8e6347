"""One HTTP attempt of one delivery, on the shared client.

The client is aiohttp's, used directly. It was httpx on the httpx-aiohttp transport (plain httpx falls
from ~1,500 to ~550 POSTs/s as concurrency rises from 1 to 100, its connection pool); profiled with
py-spy during a 10,000-subscription fan-out (bench/fanout.py), httpx's layer over that transport
(building the request, its URL parsing, cookie extraction, the response wrapper) was 32 % of the
worker's CPU, as much as aiohttp itself. aiohttp's connector takes a resolver, which is where the SSRF
guard checks each address before connecting to it (notifications/addresses.py), as before.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from notifications.addresses import GuardedResolver, literal_refusal
from notifications.signing import Signer

RESPONSE_BODY_LIMIT = 4096  # what the delivery log keeps of an answer
USER_AGENT = "Relief-Webhooks/1 (Standard Webhooks)"


@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    response_body: str | None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Client:
    """The one HTTP session every delivery of a worker shares (keep-alive across deliveries). Made on
    first use, inside the event loop, as aiohttp wants."""

    def __init__(self, *, allow_private: bool, connections: int, connect_timeout: float, total_timeout: float
                 ) -> None:
        self.allow_private = allow_private
        self.connections = connections
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(allow_private=self.allow_private),
                limit=self.connections,
                keepalive_timeout=30,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # trust_env=False: a proxy from the environment would resolve names itself, past the guard.
                trust_env=False,
                # One session serves every subscriber: a cookie one receiver sets must never reach another.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                # As the httpx transport mapped httpx.Timeout(total, connect=connect): connecting
                # (sock_connect) within connect_timeout, a free connection (connect) and each read within
                # the total; the attempt as a whole is bounded by asyncio.timeout in attempt().
                timeout=aiohttp.ClientTimeout(total=None, connect=self.total_timeout,
                                              sock_connect=self.connect_timeout, sock_read=self.total_timeout),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def make_client(*, allow_private: bool, connections: int, connect_timeout: float, total_timeout: float) -> Client:
    """The one client every delivery of a worker shares."""
    return Client(allow_private=allow_private, connections=connections, connect_timeout=connect_timeout,
                  total_timeout=total_timeout)


async def attempt(
    client: Client, *, url: str, message_id: str, body: str, signer: Signer, allow_private: bool,
    total_timeout: float, content_type: str = "application/json",
) -> Outcome:
    """POST `body` to `url` signed for `message_id`; never raises for what the receiver does."""
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()

    def outcome(status: int | None = None, error: str | None = None, text: str | None = None,
                retry_after: str | None = None) -> Outcome:
        latency = int((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at, latency, status, error, text, retry_after)

    # aiohttp connects to a literal address without asking the resolver: those are judged here.
    refused = literal_refusal(url, allow_private=allow_private)
    if refused:
        return outcome(error=f"address refused: {refused}")
    # The signed timestamp is always the real time, so receivers' tolerance checks pass on retries.
    headers = {
        "content-type": content_type,
        # The log keeps the answer's first 4 KB as text: ask for it uncompressed.
        "accept-encoding": "identity",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(attempted_at.timestamp())),
        "webhook-signature": signer.signature(message_id, attempted_at, body),
    }
    try:
        async with asyncio.timeout(total_timeout):
            # allow_redirects=False: a redirect is an answer (3xx: failure), never a second destination.
            async with client.session().post(url, data=body.encode(), headers=headers,
                                             allow_redirects=False) as response:
                kept = bytearray()
                while len(kept) < RESPONSE_BODY_LIMIT:
                    chunk = await response.content.read(RESPONSE_BODY_LIMIT - len(kept))
                    if not chunk:
                        break
                    kept += chunk
                status, retry_after = response.status, response.headers.get("retry-after")
        # PostgreSQL text holds no NUL; a binary or still-compressed answer is kept legible, not refused.
        text = bytes(kept).decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        return outcome(status, None if 200 <= status < 300 else f"HTTP {status}", text, retry_after)
    except aiohttp.ServerTimeoutError as exc:  # connecting or a read past its own limit: it says which
        return outcome(error=_describe(exc))
    except TimeoutError:
        return outcome(error=f"timed out after {total_timeout:g} s")
    except Exception as exc:  # aiohttp (a refused address, a malformed or oversized answer), OS: the receiver's doing
        return outcome(error=_describe(exc))


def _describe(exc: BaseException) -> str:
    # The innermost cause says what happened ("connection refused", "webhook host … refused: …").
    while exc.__cause__ is not None and str(exc.__cause__):
        exc = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
    return text.replace("\x00", "\ufffd")
