"""`relief serve` killed with SIGKILL in the middle of an import: the next process takes the import up
after its last committed batch, and the result is the uninterrupted import's (issue 14 item 5)."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import uuid

import aiohttp

from relief import db
from tests.conftest import RELIEF_BIN, relief_env
from tests.faults.conftest import Served, make_world
from tests.ports import free_port
from tests.test_shelters import resident_id

ROWS = 2000
KILL_AFTER = 500  # rows committed before the kill


def residents_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "证件号码", "家庭人数", "原住地区划代码"])
    writer.writerows([f"居民{n}", resident_id(n), "2", "320506"] for n in range(ROWS))
    return out.getvalue().encode()


async def state_of(http: aiohttp.ClientSession, base: str, headers: dict[str, str], import_id: str) -> dict:
    async with http.get(f"{base}/v1/imports/{import_id}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_an_import_killed_midway_resumes_and_counts_no_one_twice(database_url: str,
                                                                          http: aiohttp.ClientSession) -> None:
    port = free_port()
    served = Served(database_url, port, RELIEF_IMPORT_LEASE_SECONDS="2")
    await served.start()
    try:
        world = await make_world(served.base, database_url)
        headers = {**world.dispatcher, "Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
        async with http.post(f"{served.base}/v1/incidents/{world.incident_id}/imports?kind=residents",
                             data=residents_csv(), headers=headers) as response:
            assert response.status == 202, await response.text()
            import_id = (await response.json())["id"]
        for _ in range(600):
            state = await state_of(http, served.base, world.dispatcher, import_id)
            if state["counts"]["read"] >= KILL_AFTER:
                break
            await asyncio.sleep(0.02)
        assert state["state"] == "running" and state["counts"]["read"] < ROWS, state
        await served.kill()
        served = Served(database_url, port, RELIEF_IMPORT_LEASE_SECONDS="2")
        await served.start()
        for _ in range(1500):
            state = await state_of(http, served.base, world.dispatcher, import_id)
            if state["state"] in ("done", "failed"):
                break
            await asyncio.sleep(0.02)
    finally:
        await served.stop()

    assert state["state"] == "done" and state["resumed"] is True and state["attempts"] == 2, state
    assert state["counts"] | {"total": ROWS} == {"total": ROWS, "read": ROWS, "written": ROWS, "present": 0,
                                                 "duplicate": 0, "refused": 0}
    conn = await db.connect(database_url)
    try:
        assert await conn.fetchval("select count(*) from residents") == ROWS
        assert await conn.fetchval("select count(*) from events where type = 'import.completed'") == 1
        assert await conn.fetchval("select count(*) from import_chunks") == 0  # the file is gone
    finally:
        await conn.close()
    reconcile = await asyncio.to_thread(subprocess.run, [RELIEF_BIN, "reconcile"], env=relief_env(database_url),
                                        capture_output=True, text=True, timeout=60)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
