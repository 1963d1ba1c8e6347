"""The `relief keys` commands, run as a user would: a subprocess against a fresh database."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

import asyncpg

from tests.conftest import RELIEF_BIN, Api, relief_env

KEY = re.compile(r"rk_[A-Za-z0-9_-]{43}")
TIMEOUT_SECONDS = 30


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def relief(database_url: str, *args: str) -> Result:
    """Run `relief ARGS…` to completion (bounded), killing it if it overruns."""
    proc = await asyncio.create_subprocess_exec(
        RELIEF_BIN,
        *args,
        env=relief_env(database_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            stdout, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, stdout.decode(), stderr.decode())


async def test_keys_create_prints_the_key_alone_and_stores_only_its_hash(database_url, conn, client):
    result = await relief(database_url, "keys", "create", "--role", "admin", "--name", "x")
    assert result.returncode == 0, result.stderr

    # Exactly one line on stdout, the key and nothing else (so `KEY=$(relief keys create …)` works).
    assert result.stdout.endswith("\n")
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    key = lines[0]
    assert KEY.fullmatch(key), key
    assert key not in result.stderr

    rows = await conn.fetch("select id, hash, prefix, role, name from api_keys")
    assert len(rows) == 1
    row = rows[0]
    assert bytes(row["hash"]) == hashlib.sha256(key.encode()).digest()
    assert row["role"] == "admin"
    assert row["name"] == "x"
    assert key.startswith(row["prefix"])
    for text in await conn.fetchval("select array_agg(row_to_json(k)::text) from api_keys k"):
        assert key not in text
        assert key[3:] not in text

    event = await conn.fetchrow(
        "select actor_role, actor_key_id, after from events where type = 'key.created' and entity_id = $1", row["id"]
    )
    assert event is not None
    assert event["actor_role"] == "system"
    assert event["actor_key_id"] is None
    assert key not in str(event["after"])

    # The key works against the app…
    api = Api(client, key)
    response = await api.get("/v1/incidents")
    assert response.status == 200, await response.text()

    # …`keys list` shows its id and prefix but never the secret…
    listing = await relief(database_url, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    assert str(row["id"]) in listing.stdout
    assert row["prefix"] in listing.stdout
    assert key not in listing.stdout
    assert key not in listing.stderr

    # …and once revoked it is refused.
    revoked = await relief(database_url, "keys", "revoke", str(row["id"]))
    assert revoked.returncode == 0, revoked.stderr
    assert str(row["id"]) in revoked.stdout
    assert await conn.fetchval("select revoked_at is not null from api_keys where id = $1", row["id"])
    assert (
        await conn.fetchval(
            "select count(*) from events where type = 'key.revoked' and entity_id = $1 and actor_role = 'system'",
            row["id"],
        )
        == 1
    )
    response = await api.get("/v1/incidents")
    assert response.status == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")


async def test_keys_list_hides_revoked_keys_unless_asked(database_url, conn):
    created = await relief(database_url, "keys", "create", "--role", "viewer", "--name", "gone")
    assert created.returncode == 0, created.stderr
    key_id = await conn.fetchval("select id from api_keys")
    assert (await relief(database_url, "keys", "revoke", str(key_id))).returncode == 0

    listing = await relief(database_url, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    assert str(key_id) not in listing.stdout
    everything = await relief(database_url, "keys", "list", "--all")
    assert everything.returncode == 0, everything.stderr
    assert str(key_id) in everything.stdout
    assert "revoked" in everything.stdout


async def test_organization_key_without_org_is_refused_cleanly(database_url, conn: asyncpg.Connection):
    result = await relief(database_url, "keys", "create", "--role", "organization", "--name", "x")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "organization" in result.stderr
    assert "Traceback" not in result.stderr
    assert await conn.fetchval("select count(*) from api_keys") == 0
    assert await conn.fetchval("select count(*) from events") == 0


async def test_organization_key_for_unknown_org_is_refused_cleanly(database_url, conn: asyncpg.Connection):
    org = "00000000-0000-4000-8000-000000000000"
    result = await relief(database_url, "keys", "create", "--role", "organization", "--org", org, "--name", "x")
    assert result.returncode != 0
    assert result.stdout == ""
    assert org in result.stderr
    assert "Traceback" not in result.stderr
    assert await conn.fetchval("select count(*) from api_keys") == 0


async def test_invalid_role_is_a_usage_error(database_url, conn: asyncpg.Connection):
    result = await relief(database_url, "keys", "create", "--role", "root", "--name", "x")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--role" in result.stderr
    assert "Traceback" not in result.stderr
    assert await conn.fetchval("select count(*) from api_keys") == 0


async def test_revoking_an_unknown_key_fails_cleanly(database_url):
    key_id = "00000000-0000-4000-8000-000000000000"
    result = await relief(database_url, "keys", "revoke", key_id)
    assert result.returncode != 0
    assert key_id in result.stderr
    assert "Traceback" not in result.stderr
