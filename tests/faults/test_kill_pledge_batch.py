"""SIGKILL between a pledge batch's commit and its answers (relief/pledge_batches.py): nothing is lost.

The served process dies the moment a batch of two or more pledges has committed, before any of them is
answered: its clients see the connection drop. They send the same keys and bodies again to a new
process, and the pledges the dead one committed replay their answers (Idempotent-Replayed), never
counted twice; the rest are taken then. Rows, the call's counter and the acknowledged keys are one
number, and `relief reconcile` finds no difference.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import aiohttp

from tests.conftest import RELIEF_BIN, relief_env
from tests.faults.conftest import Served, committed_of, make_world, pledge_body, pledge_rows
from tests.ports import free_port

# `relief serve`, with the batch's after-commit hook set to kill the process (the hook is a class
# attribute, None in service; nothing else differs).
CRASHING_SERVE = """
import os, signal, sys
from relief import pledge_batches

async def crash(size):
    if size >= 2:
        os.kill(os.getpid(), signal.SIGKILL)

pledge_batches.Coalescer.after_commit = staticmethod(crash)
from relief.cli import main
sys.exit(main(["serve"]))
"""
BURST = 16
ROUNDS = 10  # bursts until one forms a batch of two or more (the first normally does)


async def post(http: aiohttp.ClientSession, base: str, world, key: str) -> tuple[int, bool]:
    """One pledge under `key`: its status (0 for a connection that dropped) and whether it replayed."""
    try:
        async with http.post(f"{base}/v1/calls/{world.call_id}/pledges", json=pledge_body(),
                             headers={**world.organization, "Idempotency-Key": key}) as response:
            await response.read()
            return response.status, response.headers.get("Idempotent-Replayed") == "true"
    except (aiohttp.ClientError, OSError, TimeoutError):
        return 0, False


async def test_sigkill_after_a_batch_commits_loses_no_pledge_and_the_keys_replay(
        database_url: str, http: aiohttp.ClientSession) -> None:
    port = free_port()
    crashing = Served(database_url, port, command=[sys.executable, "-c", CRASHING_SERVE])
    await crashing.start()
    world = await make_world(crashing.base, database_url)
    first: dict[str, int] = {}
    try:
        for _ in range(ROUNDS):
            keys = [str(uuid.uuid4()) for _ in range(BURST)]
            answers = await asyncio.gather(*(post(http, crashing.base, world, k) for k in keys))
            first.update({k: status for k, (status, _) in zip(keys, answers, strict=True)})
            await asyncio.sleep(0.1)
            if crashing.proc is not None and crashing.proc.returncode is not None:
                break
    finally:
        await crashing.kill()
    assert crashing.proc is not None and crashing.proc.returncode == -9, "no batch of two or more formed"
    unanswered = [k for k, status in first.items() if status == 0]
    assert len(unanswered) >= 2 and all(s in (0, 201) for s in first.values()), first

    served = Served(database_url, port)
    await served.start()
    try:
        again = dict(zip(unanswered, await asyncio.gather(*(post(http, served.base, world, k) for k in unanswered)),
                         strict=True))
        committed = await committed_of(http, served.base, world)
    finally:
        await served.stop()
    assert all(status == 201 for status, _ in again.values()), again
    replayed = [k for k, (_, was_replayed) in again.items() if was_replayed]
    # The killed batch committed its pledges before the kill: two or more of the unanswered keys replay.
    assert len(replayed) >= 2, again

    rows = await pledge_rows(database_url, world)
    acknowledged = len(first)
    assert acknowledged == rows == committed, (acknowledged, rows, committed)
    reconcile = await asyncio.to_thread(
        subprocess.run, [RELIEF_BIN, "reconcile"], env=relief_env(database_url), capture_output=True, text=True,
        timeout=60)
    assert reconcile.returncode == 0 and "0 difference(s)" in reconcile.stdout, reconcile.stdout + reconcile.stderr
    assert served.error_lines() == [], "\n".join(served.error_lines()[:10])
