"""What the benchmarks share: a fresh database, a `relief serve` on it, progress lines."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relief import db, embedded  # noqa: E402

BIN = Path(sys.executable).parent


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_url(url: str, *, seconds: float, what: str) -> None:
    """Poll `url` until it answers 2xx (readyz says 503 until the database is up), or exit naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start within {seconds:g} s") from None
            time.sleep(0.1)


@dataclass(frozen=True)
class Database:
    server: str
    name: str
    url: str


async def _drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[Database]:
    """A new database on RELIEF_DATABASE_URL's server or the embedded one; dropped afterwards."""
    server = os.environ.get("RELIEF_DATABASE_URL") or embedded.start_server(ROOT / "var" / "bench-pg")
    name = f"relief_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(db.ensure_database(server, name))
    try:
        yield Database(server, name, db.with_database(server, name))
    finally:
        asyncio.run(_drop(server, name))


@dataclass(frozen=True)
class Served:
    base: str
    pid: int
    log_path: Path


@contextmanager
def relief_serve(database: Database, **settings: str) -> Iterator[Served]:
    """`relief serve` on the database (logging JSON to a file), ready before the body runs; SIGTERM after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / f"{database.name}-{port}.log"  # one per serve: two may share a database
    progress(f"fresh database {database.name}; relief serve on {base} (logs: {log_path})")
    # The benchmarks drive thousands of requests a second with one key, far over the default limit of
    # 50/s per key on purpose: the limits are off here (a caller's settings may turn them back on).
    env = {**os.environ, "RELIEF_DATABASE_URL": database.url, "RELIEF_PORT": str(port),
           "RELIEF_LOG_FORMAT": "json", "RELIEF_RATE_LIMIT_PER_SECOND": "0", "RELIEF_AUTH_FAILURES_PER_MINUTE": "0",
           **settings}
    with open(log_path, "w") as log:
        serve = subprocess.Popen([str(BIN / "relief"), "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_for_url(f"{base}/readyz", seconds=30, what=f"relief serve (see {log_path})")
        yield Served(base, serve.pid, log_path)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
