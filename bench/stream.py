"""Benchmark: many listeners on one incident's live stream, beside a bare aiohttp server sending the same bytes.

    make bench-stream                      # or: .venv/bin/python bench/stream.py --listeners 1000
    RELIEF_DATABASE_URL=postgresql://… make bench-stream   # on another server

Starts `relief serve` on a fresh database (an incident, a goods call, an organization's key and a viewer's
key), opens N listeners on GET /v1/incidents/{id}/stream (half as the organization, half as the viewer:
two audiences, masked differently), then commits pledges one at a time through the API and times each
pledge.created from the moment its request was sent (so at or before its commit) to its arrival at every
listener. The server's RSS (/proc/<pid>/status VmRSS) is read before and after the listeners connect.
The ceiling: a bare aiohttp server holding as many SSE responses open and writing the same bytes to each
when told to, timed the same way. Raises RLIMIT_NOFILE to its hard limit (each listener is a socket at
both ends) and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from harness import free_port, fresh_database, progress, relief_serve, wait_for_url
from pledges import prepare

from models.keys import Role
from relief import db, keys
from relief.auth import SYSTEM

PLEDGE_ID = re.compile(rb'"type":\s*"pledge\.created".*?"data":\s*\{.*?"id":\s*"([0-9a-f-]{36})"', re.S)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers started here
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


# --- the ceiling: a bare aiohttp SSE server ---------------------------------------------------------------

def bare_server(port: int) -> None:
    """GET /stream: held open; POST /emit: its body written to every open stream."""
    from aiohttp import web

    streams: set[web.StreamResponse] = set()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        streams.add(response)
        try:
            for _ in iter(int, 1):  # until the client goes away
                if request.transport is None or request.transport.is_closing():
                    break
                await asyncio.sleep(1)
        finally:
            streams.discard(response)
        return response

    async def emit(request: web.Request) -> web.Response:
        data = await request.read()
        await asyncio.gather(*(s.write(data) for s in list(streams)), return_exceptions=True)
        return web.Response(text=str(len(streams)))

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_post("/emit", emit)
    app.router.add_get("/ready", ready)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, shutdown_timeout=1)


@contextmanager
def bare():  # type: ignore[no-untyped-def]
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)])
    try:
        wait_for_url(f"http://127.0.0.1:{port}/ready", seconds=15, what="the bare aiohttp server")
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)


# --- listeners --------------------------------------------------------------------------------------------

class Listeners:
    """N SSE readers; each pledge.created's arrival time, by pledge id, per listener."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.arrivals: dict[str, list[float]] = {}
        self.sample: bytes | None = None  # one whole message, to send the same bytes from the bare server
        self.tasks: list[asyncio.Task[None]] = []
        self.open = 0

    async def connect(self, url: str, keys_: list[str | None], batch: int = 100) -> None:
        for start in range(0, len(keys_), batch):
            opened = [asyncio.get_running_loop().create_future() for _ in keys_[start:start + batch]]
            for key, ready in zip(keys_[start:start + batch], opened, strict=True):
                self.tasks.append(asyncio.create_task(self._listen(url, key, ready)))
            await asyncio.gather(*opened)

    async def _listen(self, url: str, key: str | None, ready: asyncio.Future[None]) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
        try:
            async with self.session.get(url, headers=headers, timeout=timeout) as response:
                if response.status != 200:
                    raise SystemExit(f"stream: {response.status} {await response.text()}")
                self.open += 1
                ready.set_result(None)
                message = b""
                async for line in response.content:
                    message += line
                    if line != b"\n":
                        continue
                    found = PLEDGE_ID.search(message)
                    if found:
                        self.arrivals.setdefault(found.group(1).decode(), []).append(time.perf_counter())
                        if self.sample is None:
                            self.sample = message
                    message = b""
        except (aiohttp.ClientError, asyncio.CancelledError):
            if not ready.done():
                ready.set_result(None)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _wait_all(listeners: Listeners, ident: str, count: int, seconds: float) -> None:
    for _ in range(int(seconds / 0.01)):
        if len(listeners.arrivals.get(ident, ())) >= count:
            return
        await asyncio.sleep(0.01)


def _figures(sent: dict[str, float], listeners: Listeners, count: int) -> dict[str, float]:
    pairs, worst_per_event, missing = [], [], 0
    for ident, at in sent.items():
        arrived = listeners.arrivals.get(ident, [])
        missing += count - len(arrived)
        delays = [t - at for t in arrived]
        pairs.extend(delays)
        if delays:
            worst_per_event.append(max(delays))
    pairs.sort()
    worst_per_event.sort()

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")

    return {"p50": pct(pairs, 0.5), "p99": pct(pairs, 0.99), "all_p50": statistics.median(worst_per_event) * 1000
            if worst_per_event else float("nan"), "all_p99": pct(worst_per_event, 0.99), "missing": missing}


async def run_service(base: str, pid: int, setup: dict, viewer_key: str, args: argparse.Namespace) -> dict:
    url = f"{base}/v1/incidents/{setup['incident']}/stream"
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        listeners = Listeners(session)
        before = rss_kib(pid)
        started = time.perf_counter()
        await listeners.connect(url, [setup["org_key"] if i % 2 == 0 else viewer_key for i in range(args.listeners)])
        connected_in = time.perf_counter() - started
        await asyncio.sleep(2)  # the listeners' first polls settle
        after = rss_kib(pid)
        progress(f"service: {listeners.open} listeners open in {connected_in:.1f} s; RSS {before:,} → {after:,} KiB")
        sent: dict[str, float] = {}
        headers = {"Authorization": f"Bearer {setup['org_key']}"}
        for n in range(args.events):
            at = time.perf_counter()
            async with session.post(f"{base}/v1/calls/{setup['call']}/pledges",
                                    json={"quantity": "1", "estimated_value": "30.00"},
                                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex}) as response:
                assert response.status == 201, await response.text()
                ident = (await response.json())["id"]
            sent[ident] = at
            await _wait_all(listeners, ident, listeners.open, 10)
            await asyncio.sleep(args.interval)
            if n % 5 == 4:
                progress(f"service: {n + 1}/{args.events} events")
        figures = _figures(sent, listeners, listeners.open)
        sample = listeners.sample
        await listeners.close()
    return {**figures, "rss_before": before, "rss_after": after, "open": listeners.open,
            "connected_s": connected_in, "sample": sample}


async def run_bare(base: str, pid: int, sample: bytes, args: argparse.Namespace) -> dict:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        listeners = Listeners(session)
        before = rss_kib(pid)
        await listeners.connect(f"{base}/stream", [None] * args.listeners)
        await asyncio.sleep(2)
        after = rss_kib(pid)
        progress(f"bare: {listeners.open} listeners; RSS {before:,} → {after:,} KiB")
        old = PLEDGE_ID.search(sample).group(1).decode()  # type: ignore[union-attr]
        sent: dict[str, float] = {}
        for _ in range(args.events):
            ident = str(uuid.uuid4())  # the same bytes but for a fresh id of the same length
            at = time.perf_counter()
            async with session.post(f"{base}/emit", data=sample.replace(old.encode(), ident.encode())) as response:
                await response.read()
            sent[ident] = at
            await _wait_all(listeners, ident, listeners.open, 10)
            await asyncio.sleep(args.interval)
        figures = _figures(sent, listeners, listeners.open)
        await listeners.close()
    return {**figures, "rss_before": before, "rss_after": after, "open": listeners.open}


async def _viewer_key(url: str) -> str:
    conn = await db.connect(url)
    try:
        return (await keys.create(conn, actor=SYSTEM, name="bench viewer", role=Role.viewer)).key
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=1000, help="SSE listeners on one incident (default 1000)")
    parser.add_argument("--events", type=int, default=20, help="pledges committed, one at a time (default 20)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between events once all have one")
    parser.add_argument("--bare-server", nargs=1, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(int(args.bare_server[0]))
        return 0

    nofile = raise_fd_limit()
    progress(f"RLIMIT_NOFILE raised to {nofile}: {args.listeners} listeners need a socket each in both processes")
    if nofile < args.listeners + 200:
        raise SystemExit(f"RLIMIT_NOFILE {nofile} is too low for {args.listeners} listeners (ulimit -Hn)")
    with fresh_database() as database, relief_serve(database, RELIEF_DB_POOL_MAX="20") as served:
        setup = asyncio.run(prepare(database.url, served.base))
        viewer_key = asyncio.run(_viewer_key(database.url))
        service = asyncio.run(run_service(served.base, served.pid, setup, viewer_key, args))
    if service["sample"] is None:
        raise SystemExit("no pledge.created reached any listener")
    with bare() as (base, pid):
        ceiling = asyncio.run(run_bare(base, pid, service["sample"], args))

    def per_listener(run: dict) -> float:
        return (run["rss_after"] - run["rss_before"]) / max(run["open"], 1)

    print(f"listeners        {service['open']:,} on one incident (half an organization's key, half a viewer's), "
          f"connected in {service['connected_s']:.1f} s")
    print(f"commit→arrival   p50 {service['p50']:.0f} ms · p99 {service['p99']:.0f} ms over every (event, listener); "
          f"to all listeners p50 {service['all_p50']:.0f} ms · p99 {service['all_p99']:.0f} ms "
          f"({args.events} events, {service['missing']} arrivals missing; target p99 ≤ 1000 ms)")
    print(f"bare aiohttp     p50 {ceiling['p50']:.0f} ms · p99 {ceiling['p99']:.0f} ms; to all p50 "
          f"{ceiling['all_p50']:.0f} ms · p99 {ceiling['all_p99']:.0f} ms ({ceiling['missing']} missing)")
    print(f"ratio            {ceiling['all_p99'] / service['all_p99']:.2f}   (bare ÷ service, p99 to all listeners)")
    print(f"RSS / listener   service {per_listener(service):.1f} KiB ({service['rss_before']:,} → "
          f"{service['rss_after']:,} KiB) · bare {per_listener(ceiling):.1f} KiB ({ceiling['rss_before']:,} → "
          f"{ceiling['rss_after']:,} KiB)")
    print(f"RLIMIT_NOFILE    {nofile} (raised to the hard limit by the bench)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
