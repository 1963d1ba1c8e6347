"""Connection pool, transactions, and the migration runner."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

log = structlog.get_logger("relief.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The migration that adds the ledger's hash chain: entries that predate it are chained right after it.
CHAIN_MIGRATION = 10
# One advisory lock key for "migrating"; advisory locks are per database, so two Relief databases on
# one server never wait for each other.
MIGRATION_LOCK = 7_312_145_839_001
# The write fence (relief/sitreps.py): every write transaction opened by atomic() or an idempotent
# create holds it shared until it ends; issuing a situation report takes it exclusively for a moment,
# so the writes in flight finish and the next ones wait, without a transaction id, until its snapshot
# is taken and read. Transaction-level only, so a cancelled request can never leave it held.
WRITE_FENCE = 7_312_145_839_002

# Errors that always mean "the database is not reachable right now", as opposed to a bug or bad
# input: a refused or reset socket, a timeout, SQLSTATE class 08 (connection exception, including
# asyncpg's ConnectionDoesNotExistError, "connection was closed in the middle of operation") and 57
# (operator intervention: AdminShutdownError, CrashShutdownError, CannotConnectNowError while the
# server starts or stops). Kept as a tuple for `except` clauses; `unavailable()` is the whole test.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # The server is up but will not have us (a rotated password, a dropped database): to a client
    # that is the same outage, and it resolves without a restart once fixed.
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)

# asyncpg's own errors that mean the connection under us is dead, told apart from its errors that
# mean a bug of ours (too few arguments, a connection used by two tasks at once), which stay 500s:
# - InterfaceError "connection is closed", "pool is closing": raised before anything is written;
# - InternalClientError "cannot switch to state N; another operation (2) is in progress"
#   (MagicStack/asyncpg#1069, still open): the server ended an idle pooled connection (a `-m fast`
#   restart sends each backend's FATAL 57P01 and then closes). asyncpg reads that unsolicited
#   ErrorResponse while idle, cannot place it, and parks the protocol in state 2 (ERROR_CONSUME),
#   waiting for a ReadyForQuery that never comes; until the close itself is read, the pool still
#   hands the connection out, and its first statement fails in `_set_state`, before writing a byte.
#   State 2 persisting into the next statement means the server stopped talking mid-exchange.
_DEAD_CONNECTION = re.compile(
    r"connection is closed|pool is clos|another operation \(2\) is in progress"
    r"|protocol is in the \"failed\" state|cannot process message|^not connected$"
)
# The subset raised before the statement was sent: proof the failing statement never reached the
# server (so a COMMIT that failed this way did not commit).
_NEVER_SENT = re.compile(r"connection is closed|another operation \(2\) is in progress|\"failed\" state")


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and what it was raised from, so a wrapped outage still reads as one."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 8:
        found.append(current)
        current = current.__cause__
    return found


def _asyncpg_dead(exc: BaseException, pattern: re.Pattern[str]) -> bool:
    return isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError) and bool(
        pattern.search(str(exc))
    )


def unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database went away or is not back yet (answer 503, log a warning),
    False for a bug or a refusal (a 500 and a traceback, or the caller's own mapping)."""
    return any(
        isinstance(found, UNAVAILABLE_ERRORS) or _asyncpg_dead(found, _DEAD_CONNECTION) for found in _chain(exc)
    )


def never_sent(exc: BaseException) -> bool:
    """True when the failing statement provably never left this process (the connection was already
    dead when it was tried), so the transaction it belonged to cannot have committed."""
    return any(_asyncpg_dead(found, _NEVER_SENT) for found in _chain(exc))


def connection_died(exc: BaseException) -> bool:
    """True when an established connection was ended under us (rather than a connect that failed):
    the server restarted or failed over. The pool drops such a connection once asyncpg has read its
    close; it does not need telling (expiring the whole pool instead makes asyncpg close the dead
    ones in tasks nobody awaits, whose BrokenPipeError asyncio then logs at error level)."""
    return any(
        isinstance(found, asyncpg.PostgresConnectionError | asyncpg.exceptions.AdminShutdownError
                   | asyncpg.exceptions.CrashShutdownError | ConnectionResetError | BrokenPipeError)
        or _asyncpg_dead(found, _DEAD_CONNECTION)
        for found in _chain(exc)
    )


def mask_url(url: str) -> str:
    """The URL with its passwords (user-info and query parameters) replaced, for logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(
        f"{name}=***" if name.lower() in ("password", "sslpassword") else f"{name}={value}" if sep else name
        for name, sep, value in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


async def init_connection(conn: asyncpg.Connection) -> None:
    """Codecs every connection needs: jsonb as Python objects, decimals kept exact.

    dumps() writes every Decimal as a string, so a JSON number in a stored document was written from a
    float (a location's lat/lon) or an int: read back as a float it is exactly what was stored, and goes
    out again as the same number (read as a Decimal, it left webhooks and streams as "31.2")."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=dumps,
            decoder=json.loads,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's RESET ALL round trip on every release: Relief keeps no session state on pooled
    connections (no SET, LISTEN or session advisory locks; transactions are rolled back regardless)."""


async def create_pool(url: str, *, min_size: int, max_size: int, timeout: float) -> asyncpg.Pool:
    """A pool that does not need the database up to be created; it connects on demand."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        command_timeout=60,
        init=init_connection,
        reset=_keep_session,
    )
    if pool is None:  # only when create_pool is awaited twice; never for a fresh pool
        raise RuntimeError("asyncpg.create_pool returned no pool")
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside one transaction: committed on success, rolled back on any error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Numbered plain SQL files (0001_name.sql), in order."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", path.name)
        if match is None:
            raise RuntimeError(f"migration file name not understood: {path.name}")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError("two migrations share a number")
    return found


async def migrate(conn: asyncpg.Connection, *, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; returns their names.

    The advisory lock makes concurrent runners (two replicas starting at once) queue: the second sees
    what the first applied and applies nothing twice.
    """
    applied_now: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """
            create table if not exists schema_migrations (
                version integer primary key,
                name text not null,
                applied_at timestamptz not null default now()
            )
            """
        )
        done = {row["version"] for row in await conn.fetch("select version from schema_migrations")}
        for migration in discover(directory):
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.path.read_text())
                if migration.version == CHAIN_MIGRATION:
                    from relief import chain  # the chain's encoding is defined once, in Python

                    await chain.backfill(conn)
                await conn.execute(
                    "insert into schema_migrations (version, name) values ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    finally:
        await conn.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied_now


async def connect(url: str, *, timeout: float = 5.0) -> asyncpg.Connection:
    conn = await asyncpg.connect(url, timeout=timeout)
    await init_connection(conn)
    return conn


async def wait_for_database(url: str, *, timeout: float, interval: float = 1.0) -> asyncpg.Connection:
    """Connect, retrying while the server is starting or unreachable, up to `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await connect(url, timeout=min(5.0, max(timeout, 0.1)))
        except Exception as exc:
            if not unavailable(exc) or loop.time() >= deadline:
                raise
            log.warning("database_unavailable", url=mask_url(url), error=str(exc) or type(exc).__name__)
            await asyncio.sleep(interval)


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name` (query string such as ?host=… kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def ensure_database(url: str, name: str) -> None:
    """Create database `name` on the server at `url` unless it exists."""
    conn = await asyncpg.connect(url)
    try:
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'create database "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # a concurrent starter made it first
    finally:
        await conn.close()


def atomic(conn: asyncpg.Connection) -> AbstractAsyncContextManager[object]:
    """A transaction, unless `conn` is already in one: then the work joins it.

    Use cases open their own transaction when called alone, and join the caller's when wrapped (by
    the idempotency guard, say) without paying for a savepoint. A transaction it opens passes the
    write fence first (WRITE_FENCE).
    """
    if conn.is_in_transaction():
        return nullcontext()
    return _fenced(conn)


@asynccontextmanager
async def _fenced(conn: asyncpg.Connection) -> AsyncIterator[None]:
    async with conn.transaction():
        await conn.execute(FENCE_SHARED)
        yield


FENCE_SHARED = f"select pg_advisory_xact_lock_shared({WRITE_FENCE})"
"""A write transaction's first statement (before it has a transaction id): pass the write fence."""
