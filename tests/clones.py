"""Test databases cloned from the migrated template ahead of time, and dropped behind, on a thread.

Cloning a database takes 0.1–0.4 s on these machines and dropping one 0.02–0.1 s; a test that waited
for both would spend more time on them than on itself. A thread of its own clones the next databases
while the current test runs and drops finished ones meanwhile, so a test usually finds its database
ready. Every database is still fresh: each test gets a clone no other test has touched.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid

import asyncpg

AHEAD = 2  # clones kept ready: enough to hide a clone behind one test, few enough to waste little at the end
_IDLE = 0.005


class Clones:
    """Fresh clones of `template` on the server at `server` (an admin URL), named `prefix…`."""

    def __init__(self, server: str, template: str, prefix: str) -> None:
        self.server, self.template, self.prefix = server, template, prefix
        self._ready: queue.Queue[str] = queue.Queue(maxsize=AHEAD)
        self._done: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._work()), name="test-clones", daemon=True)
        self._thread.start()

    def take(self, timeout: float = 60.0) -> str:
        """The name of a fresh clone, for one test."""
        while True:
            if self._failure is not None:
                raise RuntimeError("cloning test databases failed") from self._failure
            try:
                return self._ready.get(timeout=0.5)
            except queue.Empty:
                timeout -= 0.5
                if timeout <= 0 or not self._thread.is_alive():
                    raise RuntimeError("no test database was cloned in time") from self._failure
                continue

    def drop(self, name: str) -> None:
        """Drop `name` when the thread next has a moment (the test is over with it)."""
        self._done.put(name)

    def close(self) -> None:
        """Drop every clone, used or not, and stop the thread."""
        self._stop.set()
        self._thread.join(timeout=120)

    async def _work(self) -> None:
        conn = await asyncpg.connect(self.server)
        try:
            while not self._stop.is_set():
                dropped = await self._drop_done(conn)
                if not self._ready.full():
                    name = f"{self.prefix}{uuid.uuid4().hex[:10]}"
                    await conn.execute(f'create database "{name}" template "{self.template}"')
                    self._ready.put(name)
                elif not dropped:
                    await asyncio.sleep(_IDLE)
        except BaseException as exc:
            self._failure = exc
            raise
        finally:
            leftovers = []
            while not self._ready.empty():
                leftovers.append(self._ready.get_nowait())
            for name in leftovers:
                self._done.put(name)
            try:
                await self._drop_done(conn)
            finally:
                await conn.close()

    async def _drop_done(self, conn: asyncpg.Connection) -> bool:
        dropped = False
        while True:
            try:
                name = self._done.get_nowait()
            except queue.Empty:
                return dropped
            await conn.execute(f'drop database if exists "{name}" with (force)')
            dropped = True
