"""Idempotency keys: a create runs once per (caller, key); retries get the first response back.

The key row is inserted first, in the create's own transaction, and its response written before
commit. So:
- a retry after success finds the committed row and replays it;
- a retry after failure finds nothing (the failed transaction left no row) and runs again;
- a duplicate that arrives while the first is still running blocks on the first one's uncommitted
  row (a unique-index wait inside PostgreSQL), then replays it, up to WAIT_SECONDS;
- a crash at any point leaves either both the create and its key, or neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from relief import db
from relief.errors import InProgress, Invalid

WAIT_SECONDS = 10.0
RETENTION_HOURS = 24
MAX_KEY_LENGTH = 255


CLAIM = """
insert into idempotency_keys (scope, key, fingerprint) values ($1, $2, $3)
on conflict (scope, key) do nothing
returning true
"""
# The same, passing the write fence first in the same round trip: the CTE's row, and so the lock,
# comes before the insert (which gives the transaction its id).
CLAIM_FENCED = f"""
with fence as ({db.FENCE_SHARED})
insert into idempotency_keys (scope, key, fingerprint) select $1, $2, $3 from fence
on conflict (scope, key) do nothing
returning true
"""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str | None = None
    replayed: bool = False


Store = Callable[[Response], Awaitable[None]]
"""Records the response under the key, in the transaction; work may call it early (see run_once)."""
Work = Callable[[asyncpg.Connection, Store], Awaitable[Response]]


def fingerprint(method: str, path: str, canonical_body: bytes) -> bytes:
    """What makes two requests "the same": method, path and the validated body."""
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), canonical_body])).digest()


async def run_once(
    conn: asyncpg.Connection,
    *,
    scope: str,
    key: str | None,
    fingerprint: bytes,
    work: Work,
    wait_seconds: float = WAIT_SECONDS,
    isolation: str = "read_committed",
    fenced: bool = True,
) -> Response:
    """Run `work` in one transaction with the key, or replay the response stored under the key.

    With no key (where the key is optional) the work runs once, in its own transaction, and nothing
    is stored.

    `work(conn, store)` returns the response; it may also call `store(response)` itself before its
    last write, when it knows the response by then: a create that ends by locking a hot row (a
    pledge on a busy call) then holds that lock for its last statement and the commit only.

    `isolation` is the transaction's: a situation report reads all its figures in one snapshot
    (repeatable_read), taken by the key's claim, its first statement. The transaction passes the
    write fence first (db.WRITE_FENCE), unless `fenced` is False: the report, which holds the fence
    itself.
    """
    async with conn.transaction(isolation=isolation):
        if key is None:
            if fenced:
                await conn.execute(db.FENCE_SHARED)

            async def store_nothing(response: Response) -> None:
                return None

            return await work(conn, store_nothing)
        try:
            claimed = await conn.fetchval(
                (CLAIM_FENCED if fenced else CLAIM),
                scope,
                key,
                fingerprint,
                timeout=wait_seconds,
            )
        except TimeoutError:
            raise InProgress(
                f"a request with Idempotency-Key {key!r} is still being processed; retry later",
                idempotency_key=key,
            ) from None
        if not claimed:
            stored = await conn.fetchrow(
                "select fingerprint, status, body, location from idempotency_keys where scope = $1 and key = $2",
                scope,
                key,
            )
            if stored["fingerprint"] != fingerprint:
                raise Invalid(
                    f"Idempotency-Key {key!r} was already used with a different request",
                    errors=[{"parameter": "Idempotency-Key", "detail": "reused with a different body or path"}],
                )
            return Response(stored["status"], bytes(stored["body"]), stored["location"], replayed=True)
        stored: list[Response] = []

        async def store(response: Response) -> None:
            await conn.execute(
                "update idempotency_keys set status = $3, body = $4, location = $5 where scope = $1 and key = $2",
                scope,
                key,
                response.status,
                response.body,
                response.location,
            )
            stored.append(response)

        response = await work(conn, store)
        if stored and stored[-1] != response:
            raise RuntimeError("work stored one response and returned another")
        if not stored:
            await store(response)
        return response


async def purge(conn: asyncpg.Connection, *, older_than_hours: int = RETENTION_HOURS) -> int:
    """Delete keys past their retention; returns how many."""
    result = await conn.execute(
        "delete from idempotency_keys where created_at < now() - make_interval(hours => $1)",
        older_than_hours,
    )
    return int(result.split()[-1])
