"""Migrations: concurrent runners apply each migration once; re-running is a no-op."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from relief import db
from tests.conftest import RELIEF_BIN, relief_env

TIMEOUT_SECONDS = 60
UP_TO_DATE = "database is up to date"


def migration_names() -> list[str]:
    files = sorted(db.MIGRATIONS_DIR.glob("*.sql"))
    assert files, "no migration files found"
    return [path.stem for path in files]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def _start_migrate(database_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        RELIEF_BIN,
        "migrate",
        env=relief_env(database_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(proc: asyncio.subprocess.Process) -> Result:
    stdout, stderr = await proc.communicate()
    assert proc.returncode is not None
    return Result(proc.returncode, stdout.decode(), stderr.decode())


async def _kill(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def run_migrate(database_url: str) -> Result:
    proc = await _start_migrate(database_url)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            return await _finish(proc)
    finally:
        await _kill([proc])


async def applied_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("select version, name, applied_at from schema_migrations order by version")
    finally:
        await conn.close()


def assert_each_applied_once(rows: list[asyncpg.Record]) -> None:
    names = migration_names()
    versions = [row["version"] for row in rows]
    assert len(rows) == len(names)
    assert len(set(versions)) == len(versions)
    assert [f"{row['version']:04d}_{row['name']}" for row in rows] == names


async def test_two_migrate_processes_started_together_apply_each_migration_once(empty_database_url):
    procs: list[asyncio.subprocess.Process] = []
    try:
        # Both started before either is awaited, so they race for the database.
        procs.append(await _start_migrate(empty_database_url))
        procs.append(await _start_migrate(empty_database_url))
        async with asyncio.timeout(TIMEOUT_SECONDS):
            results = await asyncio.gather(*(_finish(proc) for proc in procs))
    finally:
        await _kill(procs)

    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    outputs = sorted((r.stdout.splitlines() for r in results), key=lambda lines: lines == [UP_TO_DATE])
    assert outputs == [migration_names(), [UP_TO_DATE]], [r.stdout for r in results]

    rows = await applied_rows(empty_database_url)
    assert_each_applied_once(rows)

    again = await run_migrate(empty_database_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [UP_TO_DATE]
    assert await applied_rows(empty_database_url) == rows


async def test_migrate_on_a_migrated_database_changes_nothing(database_url):
    before = await applied_rows(database_url)
    assert_each_applied_once(before)
    result = await run_migrate(database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [UP_TO_DATE]
    assert await applied_rows(database_url) == before


async def test_concurrent_in_process_migrations_apply_each_once(empty_database_url):
    first = await db.connect(empty_database_url)
    second = await db.connect(empty_database_url)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            results = await asyncio.gather(db.migrate(first), db.migrate(second))
        assert sorted(results, key=len) == [[], migration_names()]
        rows = await first.fetch("select version, name, applied_at from schema_migrations order by version")
        assert_each_applied_once(rows)
        # The lock is released again: a third run gets it at once and applies nothing.
        async with asyncio.timeout(10):
            assert await db.migrate(second) == []
        held = await first.fetchval(
            """
            select count(*) from pg_locks
             where locktype = 'advisory' and granted
               and database = (select oid from pg_database where datname = current_database())
            """
        )
        assert held == 0
    finally:
        await first.close()
        await second.close()
