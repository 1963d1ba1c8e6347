"""`relief serve` killed with SIGKILL while organizations pledge: nothing acknowledged is lost, nothing
is counted twice (invariants 1, 2 and 4).

Each client pledges under a fresh Idempotency-Key and resends the same key and body after any
failure (a connection cut by the kill, a 503) until a 2xx acknowledges it. After the last restart
the distinct keys acknowledged, the pledge rows and the call's `committed` are one number, and
`relief reconcile` finds no counter that differs from its rows.

Rounds: RELIEF_FAULT_KILLS (default 2). This test kills only its own process; its database is a
fresh one on the suite's server, which it never stops.
"""

from __future__ import annotations

import asyncio
import subprocess

import aiohttp

from tests.conftest import RELIEF_BIN, relief_env
from tests.faults.conftest import (
    Outcome,
    Served,
    World,
    committed_of,
    make_world,
    pledge_rows,
    pledge_until_acknowledged,
    setting,
    unacceptable,
)
from tests.ports import free_port

PLEDGERS = 16
UP_SECONDS = 0.8  # pledging time between kills
GIVE_UP_SECONDS = 60.0  # a pledge not acknowledged by then fails the test


async def pledge_loop(http: aiohttp.ClientSession, base: str, world: World, outcomes: list[Outcome],
                      acknowledged: set[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        give_up = asyncio.get_running_loop().time() + GIVE_UP_SECONDS
        acknowledged.add(await pledge_until_acknowledged(http, base, world, outcomes, give_up=give_up))


async def test_sigkill_of_serve_loses_and_doubles_no_pledge(database_url: str, http: aiohttp.ClientSession) -> None:
    kills = setting("RELIEF_FAULT_KILLS", 2)
    port = free_port()
    served = [Served(database_url, port)]
    await served[0].start()
    outcomes: list[Outcome] = []
    acknowledged: set[str] = set()
    stop = asyncio.Event()
    try:
        world = await make_world(served[0].base, database_url)
        clients = [
            asyncio.ensure_future(pledge_loop(http, served[0].base, world, outcomes, acknowledged, stop))
            for _ in range(PLEDGERS)
        ]
        try:
            for _ in range(kills):
                await asyncio.sleep(UP_SECONDS)
                await served[-1].kill()
                served.append(Served(database_url, port))
                await served[-1].start()  # on the same port: the clients' retries find it there
            await asyncio.sleep(UP_SECONDS)
        finally:
            stop.set()
            await asyncio.gather(*clients)
        committed = await committed_of(http, served[-1].base, world)
    finally:
        await served[-1].stop()

    rows = await pledge_rows(database_url, world)
    reconcile = await asyncio.to_thread(
        subprocess.run,
        [RELIEF_BIN, "reconcile"], env=relief_env(database_url), capture_output=True, text=True, timeout=60
    )
    print(f"\nkills: {kills}; pledges acknowledged {len(acknowledged)}, rows {rows}, committed {committed}; "
          f"connection errors: {sum(o.status == 0 for o in outcomes)}; responses: {len(outcomes)}; "
          f"reconcile: {reconcile.stdout.strip().splitlines()[-1:]}")

    assert kills == 0 or sum(o.status == 0 for o in outcomes) > 0, "no kill met a request in flight"
    assert len(acknowledged) > 0
    assert len(acknowledged) == rows == committed, (len(acknowledged), rows, committed)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "0 difference(s)" in reconcile.stdout
    bad = unacceptable(outcomes)
    assert not bad, f"{len(bad)} answers outside 2xx / 503+Retry-After / connection error, e.g. {bad[:3]}"
    errors = [line for process in served for line in process.error_lines()]
    assert errors == [], "\n".join(errors[:10])
