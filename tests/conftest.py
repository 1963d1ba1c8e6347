"""Test fixtures: a real PostgreSQL, a fresh database per test cloned from a migrated template.

With RELIEF_DATABASE_URL set, its server is used (the shared one on CI); otherwise an embedded server
under ./var/test-pg. Databases made here carry a random suffix and are dropped afterwards, since the
shared server may hold anything else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from models.keys import Role
from relief import db, embedded, keys
from relief import logging as relief_logging
from relief.app import create_app
from relief.auth import SYSTEM
from relief.settings import Settings
from tests import event_payloads
from tests.clones import Clones
from tests.personal_data import PUBLIC_PATHS, STAFF, WATCH

# Fixtures of the webhook tests (receiver, clock, worker), available to every test file.
pytest_plugins = ["tests.webhook_world", "tests.console_world"]

ROOT = Path(__file__).resolve().parent.parent
# Every database this run makes carries this id (CI sets it, so its clean-up can find leftovers).
RUN = os.environ.get("RELIEF_TEST_RUN_ID") or uuid.uuid4().hex[:8]
# Under pytest-xdist each worker is a process of its own, with its own template and clones.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# Valid unified social credit codes (GB 32100-2015 check characters), for fixtures and tests.
CREDIT_CODES = [
    "91350100M000100Y43",
    "9144030071526726XG",
    "914403001922038216",
]


# Groups of slow tests that need no particular database: .ci/run runs each on one of its two databases
# (e.g. RELIEF_RUN_ELSEWHERE=browser-second,bulk on one run, =browser-first,contract on the other), so each
# run stays within its time. The browser tests are split in two by file name (test_console_a… to …i, and
# …j onwards), about half the browser time each. Locally, and whenever the variable is unset, everything runs.
_BROWSER = "tests/test_console_"
ELSEWHERE_GROUPS: dict[str, Callable[[str], bool]] = {
    "browser": lambda node: node.startswith(_BROWSER),
    "browser-first": lambda node: node.startswith(_BROWSER) and node[len(_BROWSER):][:1] < "j",
    "browser-second": lambda node: node.startswith(_BROWSER) and node[len(_BROWSER):][:1] >= "j",
    "contract": lambda node: node.startswith("tests/faults/test_contract.py"),
    "bulk": lambda node: node.startswith("tests/test_import_kinds.py"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    elsewhere = {g for g in os.environ.get("RELIEF_RUN_ELSEWHERE", "").split(",") if g}
    unknown = elsewhere - ELSEWHERE_GROUPS.keys()
    if unknown:
        raise pytest.UsageError(f"RELIEF_RUN_ELSEWHERE names no such group: {', '.join(sorted(unknown))}")
    for item in items:
        for group in elsewhere:
            if ELSEWHERE_GROUPS[group](item.nodeid):
                item.add_marker(pytest.mark.skip(reason=f"the {group} tests run on .ci/run's other database"))


def admin_url() -> str:
    url = os.environ.get("RELIEF_DATABASE_URL")
    if url:
        return url
    data_dir = Path(os.environ.get("RELIEF_DATA_DIR", ROOT / "var"))
    return embedded.start_server(data_dir / "test-pg")


async def _create_template(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    conn = await db.connect(db.with_database(server, name))
    try:
        await db.migrate(conn)
    finally:
        await conn.close()


async def _drop(server: str, names: list[str]) -> None:
    conn = await asyncpg.connect(server)
    try:
        for name in names:
            await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    relief_logging.configure(Settings(log_format="json", log_level="info"))
    logging.getLogger().addHandler(WATCH)


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of the PostgreSQL server the suite runs on (a database on it; we create our own)."""
    return admin_url()


@pytest.fixture(scope="session")
def template(server_url: str) -> Iterator[str]:
    """A database with every migration applied, cloned for each test."""
    name = f"relief_tmpl_{RUN}{WORKER}"
    asyncio.run(_create_template(server_url, name))
    yield name
    asyncio.run(_drop(server_url, [name]))


@pytest.fixture(scope="session")
def clones(server_url: str, template: str) -> Iterator[Clones]:
    """Fresh clones of the template, made ahead while earlier tests run (tests/clones.py)."""
    made = Clones(server_url, template, prefix=f"relief_t_{RUN}{WORKER}_")
    yield made
    made.close()


@pytest.fixture
async def database_url(server_url: str, clones: Clones, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, migrated database for this test alone."""
    name = await asyncio.get_running_loop().run_in_executor(None, clones.take)
    yield db.with_database(server_url, name)
    try:
        # A test that writes events by hand (to test the streams, the watch) says so; the rest keep the catalog.
        await check_events(db.with_database(server_url, name),
                           catalog=request.node.get_closest_marker("synthetic_events") is None)
        if WATCH.watching:
            WATCH.check_log()
    finally:
        clones.drop(name)


async def check_events(url: str, *, catalog: bool = True) -> None:
    """Before the database goes: every event is in the catalog and matches its schema (after every
    test); and, while the watch is watching, no event payload may hold a resident's ID number or phone,
    and no event as it leaves the building (a webhook body, the outside's and a viewer's stream) a team
    member's number. The audit trail itself is the dispatchers' to read, as REST is."""
    from notifications import envelope

    conn = await db.connect(url)
    try:
        rows = await conn.fetch(f"select {event_payloads.COLUMNS}, created_at from events")
        payloads = WATCH.watching and await conn.fetchval(
            "select string_agg(coalesce(before::text, '') || after::text, ' ') from events")
    finally:
        await conn.close()
    if catalog:
        event_payloads.check(rows)
    if not WATCH.watching:
        return
    WATCH.check(payloads or "", "the event log", reader=STAFF)
    WATCH.check("\n".join(envelope.render(r) for r in rows), "events as webhooks send them")


@pytest.fixture(autouse=True)
def _watch_personal_data() -> Iterator[None]:
    """Every test starts with an empty watch (see tests/personal_data.py)."""
    WATCH.reset()
    yield
    WATCH.check_log()


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database with no migrations applied."""
    name = f"relief_e_{RUN}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    yield db.with_database(server_url, name)
    await _drop(server_url, [name])


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, to look at rows behind the API."""
    connection = await db.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    # No in-process webhook worker: the webhook tests start their own, with a clock they control. Test
    # receivers listen on 127.0.0.1, which only private addresses allowed reaches (tests of the guard
    # override this fixture). A test may ask for more, e.g. rate limits raised for a surge, with
    # @pytest.mark.parametrize("settings", [{…}], indirect=True).
    # Nor an import runner (its listening connection and first claim on every app's start add up over the
    # suite): the import tests ask for one with {"imports_in_process": True}.
    base = Settings(env="development", log_format="json", worker_in_process=False, imports_in_process=False,
                    webhook_allow_private=True)
    return base.model_copy(update=getattr(request, "param", {}))


@pytest.fixture
def app(settings: Settings, database_url: str) -> web.Application:
    return create_app(settings, database_url=database_url)


@pytest.fixture
async def client(database_url: str, aiohttp_client: Any, app: web.Application) -> TestClient:
    # database_url comes first so that it is torn down last, after the app has closed its pool.
    return await aiohttp_client(app)


@dataclass
class Api:
    """A client that calls the API as one key."""

    client: TestClient
    key: str | None
    # Who reads, for the personal-data watch (tests/personal_data.py): STAFF for dispatcher and admin
    # keys, the organization's id for an organization's keys; unmarked, the key itself.
    reader: str | None = None

    @property
    def watched_as(self) -> str | None:
        return self.reader or self.key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.key is not None:
            out.setdefault("Authorization", f"Bearer {self.key}")
        return out

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any):
        WATCH.remember(method, path, kw.get("json"), reader=self.watched_as)
        WATCH.remember_upload(method, path, kw.get("data"), (headers or {}).get("Content-Type", ""))
        response = await self.client.request(method, path, headers=self._headers(headers), **kw)
        body = await response.read()
        # An export is a file that leaves the building, whoever asked for it: nobody's contacts in it.
        reader = None if "/exports/" in path else self.watched_as
        WATCH.check(body.decode(errors="replace") + str(dict(response.headers)), f"{method} {path}",
                    public=path.startswith(PUBLIC_PATHS), reader=reader)
        return response

    async def get(self, path: str, **kw: Any):
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any):
        return await self.call("POST", path, **kw)

    async def patch(self, path: str, **kw: Any):
        return await self.call("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any):
        return await self.call("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any):
        return await self.call("DELETE", path, **kw)


async def _key(conn: asyncpg.Connection, role: Role, organization_id: uuid.UUID | None = None) -> str:
    created = await keys.create(conn, actor=SYSTEM, name=f"test {role}", role=role, organization_id=organization_id)
    return created.key


@pytest.fixture
async def admin(client: TestClient, conn: asyncpg.Connection) -> Api:
    return Api(client, await _key(conn, Role.admin), STAFF)


@pytest.fixture
async def dispatcher(client: TestClient, conn: asyncpg.Connection) -> Api:
    return Api(client, await _key(conn, Role.dispatcher), STAFF)


@pytest.fixture
async def viewer(client: TestClient, conn: asyncpg.Connection) -> Api:
    return Api(client, await _key(conn, Role.viewer))


@pytest.fixture
def anonymous(client: TestClient) -> Api:
    return Api(client, None)


def organization_body(index: int = 0, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": f"苏州蓝天救援队 {index}",
        "credit_code": CREDIT_CODES[index],
        "kind": "volunteer_team",
        "region": "320500",
        "contact": {"name": "王队长", "phone": "13912345678"},
        "capabilities": {"skills": ["boat_rescue"], "goods": ["life_jacket"]},
    }
    body.update(overrides)
    return body


@dataclass
class Org:
    id: str
    api: Api
    body: dict[str, Any]


async def make_organization(dispatcher: Api, conn: asyncpg.Connection, index: int = 0, *, approve: bool = True) -> Org:
    """Register an organization through the API, approve it, and give it a key."""
    response = await dispatcher.post("/v1/organizations", json=organization_body(index))
    assert response.status == 201, await response.text()
    body = await response.json()
    if approve:
        response = await dispatcher.post(f"/v1/organizations/{body['id']}/approve")
        assert response.status == 200, await response.text()
        body = await response.json()
    key = await _key(conn, Role.organization, uuid.UUID(body["id"]))
    return Org(body["id"], Api(dispatcher.client, key, body["id"]), body)


@pytest.fixture
async def organization(dispatcher: Api, conn: asyncpg.Connection) -> Org:
    """An approved volunteer team with its own key."""
    return await make_organization(dispatcher, conn, 0)


def incident_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "code": "2023-DOKSURI-SZ",
        "title": "台风杜苏芮 苏州响应",
        "type": "typhoon",
        "severity": "II",
        "regions": ["320500"],
        "started_at": "2023-07-28T01:55:00Z",
        "description": "Typhoon Doksuri made landfall at Jinjiang, Fujian.",
    }
    body.update(overrides)
    return body


def relief_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a `relief` subprocess pointed at `database_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIEF_")}
    env.update({"RELIEF_DATABASE_URL": database_url, "RELIEF_LOG_FORMAT": "json", **extra})
    return env


RELIEF_BIN = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "relief")


@pytest.fixture
async def world(dispatcher: Api, admin: Api, viewer: Api, conn: asyncpg.Connection):
    """The pledge tests' world (tests/pledge_world.py): two organizations and one open goods call."""
    from tests.pledge_world import make_world

    return await make_world(dispatcher, admin, viewer, conn)
