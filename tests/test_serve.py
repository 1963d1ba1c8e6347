"""`relief serve` as a process: starts, logs JSON, drains in-flight requests on SIGTERM, refuses bad settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import RELIEF_BIN, incident_body, relief_env
from tests.ports import free_port

START_SECONDS = 20.0
STOP_SECONDS = 10.0




class Served:
    """A `relief serve` subprocess whose stdout and stderr are collected line by line as it runs."""

    def __init__(self, database_url: str, **extra: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = relief_env(database_url, RELIEF_PORT=str(self.port), RELIEF_HOST="127.0.0.1", **extra)
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            RELIEF_BIN,
            "serve",
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            asyncio.ensure_future(self._collect(self.proc.stdout)),
            asyncio.ensure_future(self._collect(self.proc.stderr)),
        ]

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def records(self) -> list[dict[str, Any]]:
        """Every output line parsed as JSON (each must be)."""
        parsed = []
        for line in self.lines:
            if not line.strip():
                continue
            try:
                parsed.append(json.loads(line))
            except ValueError:
                pytest.fail(f"log line is not JSON: {line!r}\n{self.output}")
        return parsed

    def events(self) -> list[str]:
        return [record.get("event", "") for record in self.records()]

    async def wait_ready(self) -> None:
        """Poll /readyz until it answers 200, for at most START_SECONDS."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.returncode is not None:
                    await self.finish_output()
                    pytest.fail(f"relief serve exited with {self.proc.returncode}:\n{self.output}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.base}/readyz") as response:
                        if response.status == 200:
                            return
                if loop.time() >= deadline:
                    pytest.fail(f"/readyz did not answer 200 within {START_SECONDS}s:\n{self.output}")
                await asyncio.sleep(0.1)

    async def terminate(self) -> int:
        """SIGTERM, then wait (bounded) for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait()

    async def wait(self) -> int:
        assert self.proc is not None
        async with asyncio.timeout(STOP_SECONDS):
            code = await self.proc.wait()
        await self.finish_output()
        return code

    async def finish_output(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self._readers)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@pytest.fixture
async def serve(database_url: str) -> AsyncIterator[Served]:
    served = Served(database_url)
    try:
        await served.start()
        await served.wait_ready()
        yield served
    finally:
        await served.kill()


async def _relief(database_url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        RELIEF_BIN,
        *args,
        env=relief_env(database_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            stdout, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return False


async def test_serve_starts_logs_json_and_stops_on_sigterm(serve: Served) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{serve.base}/healthz", headers={"X-Request-ID": "serve-test-1"}) as response:
            assert response.status == 200
            assert response.headers["X-Request-ID"] == "serve-test-1"
            assert await response.json() == {"status": "ok"}

    assert await serve.terminate() == 0
    records = serve.records()
    events = [record.get("event") for record in records]
    assert "serving" in events
    assert events[-1] == "stopped", serve.output
    assert not [r for r in records if "exception" in r or r.get("level") in ("error", "critical")], serve.output

    requests = [r for r in records if r.get("event") == "request"]
    ready = [r for r in requests if r.get("route") == "/readyz" and r.get("status") == 200]
    assert ready, serve.output
    line = next(r for r in requests if r.get("request_id") == "serve-test-1")
    assert line["method"] == "GET"
    assert line["route"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float) and line["duration_ms"] >= 0
    assert {"request_id", "method", "route", "status", "duration_ms"} <= ready[0].keys()
    assert await _refused(serve.port)


async def test_sigterm_drains_an_in_flight_request(database_url: str, serve: Served) -> None:
    code, key, stderr = await _relief(database_url, "keys", "create", "--role", "dispatcher", "--name", "t")
    assert code == 0, stderr
    key = key.strip()

    body = json.dumps(incident_body(), ensure_ascii=False).encode()
    half = len(body) // 2
    head = (
        "POST /v1/incidents HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{serve.port}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Request-ID: drain-test\r\n"
        "\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", serve.port)
    try:
        writer.write(head + body[:half])
        await writer.drain()
        # Let the server read the headers and start the handler, which now waits for the rest of the body.
        await asyncio.sleep(0.5)

        assert serve.proc is not None
        serve.proc.send_signal(signal.SIGTERM)
        # Shutting down: the listener goes away first, while our request is still in flight.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not await _refused(serve.port):
            assert loop.time() < deadline, f"the server kept accepting connections after SIGTERM:\n{serve.output}"
            await asyncio.sleep(0.05)
        assert serve.proc.returncode is None

        writer.write(body[half:])
        await writer.drain()
        try:
            async with asyncio.timeout(STOP_SECONDS):
                head_bytes = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head_bytes.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                payload = await reader.readexactly(length)
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            partial = exc.partial if isinstance(exc, asyncio.IncompleteReadError) else b""
            await serve.kill()
            await serve.finish_output()
            pytest.fail(
                f"the in-flight request got no complete response after SIGTERM ({type(exc).__name__}, "
                f"received {partial!r}); the rest of its body was not read:\n{serve.output}"
            )
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    status_line = head_bytes.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1.1 201"), f"{head_bytes!r}{payload!r}\n{serve.output}"
    created = json.loads(payload)
    assert created["code"] == incident_body()["code"]

    assert await serve.wait() == 0
    records = serve.records()
    assert records[-1].get("event") == "stopped", serve.output
    line = next(r for r in records if r.get("event") == "request" and r.get("request_id") == "drain-test")
    assert line["status"] == 201
    assert line["route"] == "/v1/incidents"
    assert line["method"] == "POST"


async def test_production_without_secret_key_refuses_to_start(database_url: str) -> None:
    served = Served(database_url, RELIEF_ENV="production")
    try:
        await served.start()
        code = await served.wait()
    finally:
        await served.kill()
    assert code == 2, served.output
    assert "RELIEF_SECRET_KEY" in served.output
    assert "Traceback" not in served.output
    assert "serving" not in served.output
    assert await _refused(served.port)
