"""Benchmark: the public figures under a crowd, against a bare aiohttp handler serving the same bytes.

    make bench-public                     # or: .venv/bin/python bench/public.py --duration 10
    RELIEF_DATABASE_URL=postgresql://… make bench-public   # on another server

Starts `relief serve` on a fresh database with an incident, a goods call and an organization's key (as
bench/pledges.py does). Then, with wrk (or bench/loadgen.py-style aiohttp without wrk) at 256
connections for the same time each:
- the ceiling: a bare aiohttp server (one process, no middleware) answering GET with the very bytes and
  headers the service answered;
- the service: GET /v1/public/incidents/{id}, while pledges of 1 commit at 50/s through the API of a
  second `relief serve` (so only LISTEN/NOTIFY tells the first) and a checker polls the first, comparing
  the pledged figure with the pledges acknowledged so far.
Staleness of one answer: how long before its request the oldest acknowledged pledge it does not show
was acknowledged (0 when it shows them all); the maximum over the run must stay under 1 s
(RELIEF_PUBLIC_MAX_AGE). Raises RLIMIT_NOFILE to its hard limit (wrk's and the servers' sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from harness import free_port, fresh_database, progress, relief_serve, wait_for_url
from pledges import prepare

HERE = Path(__file__).resolve().parent
KEPT_HEADERS = ("Content-Type", "ETag", "Cache-Control")


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every process started here
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the ceiling: a bare aiohttp server -------------------------------------------------------------------

def bare_server(port: int, body_file: str) -> None:
    """Serve GET (any path) with the recorded bytes and headers, as plainly as aiohttp can."""
    from aiohttp import web

    recorded = json.loads(Path(body_file).read_text())
    body, headers = recorded["body"].encode(), recorded["headers"]
    content_type = headers.pop("Content-Type").partition(";")[0]

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@contextmanager
def bare(body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"body": body.decode(), "headers": headers}, f)
    server = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port), f.name])
    try:
        wait_for_url(f"http://127.0.0.1:{port}/", seconds=15, what="the bare aiohttp server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
        os.unlink(f.name)


# --- load -------------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(url: str, connections: int, duration: float) -> dict[str, Any]:
    if not shutil.which("wrk"):
        return asyncio.run(_aiohttp_load(url, connections, duration))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0, "tool": f"wrk -t2 -c{connections}"}


async def _aiohttp_load(url: str, connections: int, duration: float) -> dict[str, Any]:
    progress("wrk not found (apt-get install wrk): an aiohttp load generator, which competes for CPU")
    latencies: list[float] = []
    non_2xx = errors = 0
    deadline = time.perf_counter() + duration
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def client() -> None:
            nonlocal non_2xx, errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        non_2xx += not 200 <= response.status < 400
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000, "non_2xx": non_2xx, "socket_errors": errors,
            "tool": f"aiohttp, {connections} connections"}


# --- pledges at a steady rate, and the checker ------------------------------------------------------------

class Writers:
    """Pledges of 1 at `rate`/s (each its own request, so a slow one does not slow the pace) and a checker
    polling the public figures, in a thread of their own while wrk runs."""

    def __init__(self, base: str, read_base: str, setup: dict, path: str, rate: float) -> None:
        self.base, self.read_base, self.setup, self.path, self.rate = base, read_base, setup, path, rate
        self.acked: list[float] = []  # wall-clock times of the 201s
        self.samples: list[tuple[float, int]] = []  # (request sent, pledged figure shown)
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Writers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    async def _run(self) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            checker = asyncio.create_task(self._check(session))
            pledges: set[asyncio.Task[None]] = set()
            started, sent = time.monotonic(), 0
            while not self.stop.is_set():
                due = started + sent / self.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                task = asyncio.create_task(self._pledge(session))
                pledges.add(task)
                task.add_done_callback(pledges.discard)
                sent += 1
            await asyncio.gather(*pledges)
            checker.cancel()
            await asyncio.gather(checker, return_exceptions=True)

    async def _pledge(self, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {self.setup['org_key']}", "Idempotency-Key": uuid.uuid4().hex}
        try:
            async with session.post(f"{self.base}/v1/calls/{self.setup['call']}/pledges", headers=headers,
                                    json={"quantity": "1", "estimated_value": "30.00"}) as response:
                await response.read()
                if response.status == 201:
                    self.acked.append(time.time())
                else:
                    self.failed += 1
        except aiohttp.ClientError:
            self.failed += 1

    async def _check(self, session: aiohttp.ClientSession) -> None:
        while True:
            sent = time.time()
            try:
                async with session.get(f"{self.read_base}{self.path}") as response:
                    figures = await response.json()
                items = figures["goods"]["items"]
                self.samples.append((sent, int(sum(float(i["pledged"]) for i in items))))
            except (aiohttp.ClientError, KeyError, ValueError):
                pass
            await asyncio.sleep(0.01)

    def staleness(self) -> tuple[float, int]:
        """The largest staleness (s) over the checked answers, and how many were checked."""
        acked = sorted(self.acked)
        worst = 0.0
        for sent, shown in self.samples:
            known = bisect.bisect_right(acked, sent)  # acknowledged before this request was sent
            if shown < known:  # the oldest it cannot show is at best the one after those it shows
                worst = max(worst, sent - acked[shown])
        return worst, len(self.samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run (default 10)")
    parser.add_argument("--connections", type=int, default=256, help="wrk connections (default 256)")
    parser.add_argument("--rate", type=float, default=50.0, help="pledges committed per second (default 50)")
    parser.add_argument("--bare-server", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(int(args.bare_server[0]), args.bare_server[1])
        return 0

    nofile = raise_fd_limit()
    progress(f"RLIMIT_NOFILE raised to {nofile} (wrk's and the servers' sockets)")
    with fresh_database() as database, relief_serve(database) as served:
        setup = asyncio.run(prepare(database.url, served.base))
        path = f"/v1/public/incidents/{setup['incident']}"
        body, headers = fetch(served.base + path)
        progress(f"ceiling: a bare aiohttp server with the same {len(body)} bytes, {args.connections} connections, "
                 f"{args.duration:g} s")
        with bare(body, headers) as bare_base:
            run_wrk(bare_base + path, args.connections, 1)  # warm-up
            ceiling = run_wrk(bare_base + path, args.connections, args.duration)
        progress("service: warming up (2 s)")
        run_wrk(served.base + path, args.connections, 2)
        progress(f"service's floor: GET /healthz (no database, no cache) for {args.duration:g} s")
        healthz = run_wrk(served.base + "/healthz", args.connections, args.duration)
        progress(f"service: {args.connections} connections for {args.duration:g} s, pledges at {args.rate:g}/s")
        # The pledges go through another replica: only its NOTIFY tells this one (no read-your-writes help).
        with relief_serve(database) as writer, Writers(writer.base, served.base, setup, path, args.rate) as writers:
            load = run_wrk(served.base + path, args.connections, args.duration)
        worst, samples = writers.staleness()

    ratio = load["rps"] / ceiling["rps"]
    print(f"service rps      {load['rps']:,.0f}   (GET {path.replace(setup['incident'], '{id}')}, {load['tool']})")
    print(f"service latency  p50 {load['p50_ms']:.1f} ms · p99 {load['p99_ms']:.1f} ms")
    print(f"service errors   {load['non_2xx']} non-2xx, {load['socket_errors']} socket")
    print(f"bare aiohttp rps {ceiling['rps']:,.0f}   (same bytes and headers; p50 {ceiling['p50_ms']:.1f} ms · "
          f"p99 {ceiling['p99_ms']:.1f} ms)")
    print(f"ratio            {ratio:.2f}   (service ÷ bare; target ≥ 0.70)")
    print(f"/healthz rps     {healthz['rps']:,.0f}   (the same middleware stack around a handler that does "
          f"nothing: {load['rps'] / healthz['rps']:.2f} of it)")
    print(f"pledges          {len(writers.acked):,} committed at {args.rate:g}/s during the run, "
          f"{writers.failed} failed")
    print(f"max staleness    {worst * 1000:.0f} ms over {samples:,} checked answers (target < 1000 ms)")
    print(f"RLIMIT_NOFILE    {nofile}")
    return 0


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    """The service's answer: its body and the headers a cache would keep."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), {name: response.headers[name] for name in KEPT_HEADERS if response.headers[name]}


if __name__ == "__main__":
    sys.exit(main())
