"""PostgreSQL restarted (`-m fast`, `-m immediate`) under reads and writes: a routine failover.

A client may see 2xx, 503 with Retry-After, or a connection error; never a 500. Every route answers
2xx again within RECOVERY_SECONDS of each restart's start; the server logs no line at error level
(an outage is a warning); and every pledge acknowledged is one row, counted once in `committed`.

Rounds: RELIEF_FAULT_FAST_RESTARTS (default 3) and RELIEF_FAULT_IMMEDIATE_RESTARTS (default 2); the
acceptance run raises them (20 and 10). The figures are printed (see them with `-s`).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from relief import db
from tests.faults.conftest import (
    Cluster,
    Outcome,
    Served,
    World,
    committed_of,
    make_world,
    pledge_rows,
    pledge_until_acknowledged,
    send,
    setting,
    unacceptable,
)
from tests.ports import free_port

RECOVERY_SECONDS = 5.0
MEASURE_SECONDS = 15.0  # how long we wait to measure a recovery that is already too slow
SETTLE_SECONDS = 0.3  # normal service between restarts, so each restart meets warm, idle connections
READERS_PER_ROUTE = 3
PLEDGERS = 4
KINDS = ("call", "summary", "pledge")


def schedule(fast: int, immediate: int) -> list[str]:
    """Restart modes spread evenly: the immediate ones fall between fast ones, not all at the end."""
    modes = [("fast", (i + 0.5) / fast) for i in range(fast)] + [
        ("immediate", (i + 0.5) / immediate) for i in range(immediate)
    ]
    return [mode for mode, _ in sorted(modes, key=lambda item: item[1])]


# One classification (db.unavailable): what a restart raises is an outage (503, a warning); a bug is not.
# The errors a restart or failover raises, as asyncpg 0.29–0.32 words them; MagicStack/asyncpg#1069 is
# the first (a pooled connection the server ended while idle, on its first statement).
OUTAGES = [
    asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: connection is closed"),
    asyncpg.exceptions.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connection refused"),
    FileNotFoundError(2, "No such file or directory"),  # the server's unix socket, gone while it restarts
    TimeoutError(),
]
# asyncpg errors that mean a bug of ours: they must stay 500s with a traceback, not hide as outages.
BUGS = [
    asyncpg.exceptions.InterfaceError("the server expects 2 arguments for this query, 1 was passed"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (16) is in progress"),
    asyncpg.exceptions.UndefinedColumnError("column \"nope\" does not exist"),
    RuntimeError("boom"),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: f"{type(e).__name__}: {e}"[:60])
def test_a_restart_error_is_an_outage(error: BaseException) -> None:
    assert db.unavailable(error)
    wrapped = RuntimeError("while pledging")
    wrapped.__cause__ = error
    assert db.unavailable(wrapped)  # raised from an outage is an outage


@pytest.mark.parametrize("error", BUGS, ids=lambda e: f"{type(e).__name__}: {e}"[:60])
def test_a_bug_is_not_an_outage(error: BaseException) -> None:
    assert not db.unavailable(error)
    assert not db.connection_died(error)
    assert not db.never_sent(error)


def test_never_sent_is_only_what_asyncpg_refused_before_writing() -> None:
    # Raised before a byte is written: the statement (a COMMIT, say) never reached the server.
    assert db.never_sent(OUTAGES[0]) and db.never_sent(OUTAGES[2])
    # Cut mid-statement: it may have reached the server, and a COMMIT may have committed.
    assert not db.never_sent(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"))
    assert not db.never_sent(ConnectionResetError(104, "Connection reset by peer"))
    # A server that refuses new connections did not end one of ours.
    assert not db.connection_died(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert db.connection_died(OUTAGES[0]) and db.connection_died(OUTAGES[4])


async def read_loop(http: aiohttp.ClientSession, kind: str, url: str, headers: dict[str, str],
                    outcomes: list[Outcome], stop: asyncio.Event) -> None:
    while not stop.is_set():
        outcomes.append(await send(http, kind, "GET", url, headers=headers))
        # Now and then a pause, so pooled connections also sit idle when the server goes down (the
        # case asyncpg handles worst: MagicStack/asyncpg#1069).
        await asyncio.sleep(random.choice((0, 0, 0.001, 0.005)))


async def pledge_loop(http: aiohttp.ClientSession, base: str, world: World, outcomes: list[Outcome],
                      acknowledged: set[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        give_up = asyncio.get_running_loop().time() + MEASURE_SECONDS * 2
        acknowledged.add(await pledge_until_acknowledged(http, base, world, outcomes, give_up=give_up))


async def recovered(outcomes: list[Outcome], since: float) -> float:
    """Seconds from `since` until every kind of request sent after it has had a 2xx."""
    loop = asyncio.get_running_loop()
    while loop.time() - since < MEASURE_SECONDS:
        firsts = [
            min((o.finished for o in outcomes if o.kind == kind and o.started >= since and 200 <= o.status < 300),
                default=None)
            for kind in KINDS
        ]
        if all(first is not None for first in firsts):
            return max(first for first in firsts if first is not None) - since
        await asyncio.sleep(0.02)
    return float("inf")


async def test_restarts_under_load_never_answer_500(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    modes = schedule(setting("RELIEF_FAULT_FAST_RESTARTS", 3), setting("RELIEF_FAULT_IMMEDIATE_RESTARTS", 2))
    await db.ensure_database(cluster.url, "relief")
    url = db.with_database(cluster.url, "relief")
    served = Served(url, free_port())
    await served.start()
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []
    acknowledged: set[str] = set()
    recoveries: list[tuple[str, float, float]] = []  # mode, from the restart's start, from server up
    stop = asyncio.Event()
    try:
        world = await make_world(served.base, url)
        reads = {"call": f"/v1/calls/{world.call_id}", "summary": f"/v1/incidents/{world.incident_id}/summary"}
        clients = [
            asyncio.ensure_future(read_loop(http, kind, served.base + path, world.dispatcher, outcomes, stop))
            for kind, path in reads.items() for _ in range(READERS_PER_ROUTE)
        ] + [
            asyncio.ensure_future(pledge_loop(http, served.base, world, outcomes, acknowledged, stop))
            for _ in range(PLEDGERS)
        ]
        try:
            for mode in modes:
                await asyncio.sleep(SETTLE_SECONDS)
                began = loop.time()
                await cluster.restart(mode)
                up = loop.time()
                from_start = await recovered(outcomes, began)
                recoveries.append((mode, from_start, from_start - (up - began)))
        finally:
            stop.set()
            await asyncio.gather(*clients)
        committed = await committed_of(http, served.base, world)
    finally:
        await served.stop()
        if os.environ.get("RELIEF_FAULT_LOG"):  # the server's log, to study a run
            await asyncio.to_thread(Path(os.environ["RELIEF_FAULT_LOG"]).write_text, "\n".join(served.lines))
    rows = await pledge_rows(url, world)

    statuses = sorted({o.status for o in outcomes})
    worst = max(r[1] for r in recoveries)
    print(
        f"\nrestarts: {len(modes)} ({modes.count('fast')} fast, {modes.count('immediate')} immediate); "
        f"responses: {len(outcomes)}; 500s: {sum(o.status == 500 for o in outcomes)}; "
        f"503s: {sum(o.status == 503 for o in outcomes)}; connection errors: {sum(o.status == 0 for o in outcomes)}; "
        f"statuses: {statuses}; error log lines: {len(served.error_lines())}; "
        f"worst recovery: {worst:.2f} s from the restart's start, "
        f"{max(r[2] for r in recoveries):.2f} s from the server being up; "
        f"pledges acknowledged {len(acknowledged)}, rows {rows}, committed {committed}"
    )
    bad = unacceptable(outcomes)
    assert not bad, f"{len(bad)} answers outside 2xx / 503+Retry-After / connection error, e.g. {bad[:3]}"
    assert served.error_lines() == [], "\n".join(served.error_lines()[:10])
    slow = [r for r in recoveries if r[1] > RECOVERY_SECONDS]
    assert not slow, f"no 2xx on every route within {RECOVERY_SECONDS}s of these restarts: {slow}"
    assert len(acknowledged) == rows == committed, (len(acknowledged), rows, committed)
    assert all(any(o.kind == kind and 200 <= o.status < 300 for o in outcomes) for kind in KINDS)
