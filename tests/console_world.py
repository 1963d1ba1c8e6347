"""Fixtures of the console's browser tests: Relief served on 127.0.0.1 in the test's event loop, Debian's
chromium driven by Playwright, a page that fails the test on any JavaScript error, console error or
Content-Security-Policy violation, and worlds to look at (the Doksuri demo, or a small English one).

Without the playwright package or chromium the browser tests are skipped with the reason, except on CI
(CI=true), where a missing browser is a failure: a suite that silently skips its browser tests proves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from models.keys import Role
from relief import demo, keys
from relief.auth import SYSTEM
from relief.demo_data import resident_id
from relief.settings import Settings

try:  # the tests import expect from here, so that without playwright they are skipped, not broken
    from playwright.async_api import expect
except ImportError:  # pragma: no cover - the browser fixture skips (or, on CI, fails) first
    expect = None

ROOT = Path(__file__).resolve().parent.parent
# The README's screenshots are rewritten only when asked (`make screenshots`), so that `make test` leaves
# the working tree as it found it; otherwise they go to a temporary folder (still taken, still checked).
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("RELIEF_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir()) / "relief-screenshots"
)
CHROMIUM = os.environ.get("RELIEF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000  # the longest any expectation waits (a live update normally takes well under a second)

# Reports every CSP violation as a console error too, so one listener catches both. Playwright injects init
# scripts outside the page's CSP, so this does not itself need 'unsafe-inline'.
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
});
"""


def _need_browser() -> None:
    missing = []
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"chromium at {CHROMIUM} (apt-get install chromium, or set RELIEF_CHROMIUM)")
    if missing:
        reason = "the console's browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " — on CI a missing browser fails the run")
        pytest.skip(reason)


@pytest.fixture
async def console_url(database_url: str, app: web.Application, aiohttp_server: Any) -> str:
    """Relief serving the console on 127.0.0.1:<free port>."""
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _need_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Console:
    """One browser page on the console, with everything that went wrong in it."""

    page: Any
    url: str
    problems: list[str] = field(default_factory=list)
    # (status, path) of failed requests a test provokes on purpose; Chromium logs each as a console error.
    # None by default: the session probe of every page load answers 200 (issue 16).
    expected_failures: set[tuple[int, str]] = field(default_factory=set)

    def expects_failure(self, status: int, path: str) -> None:
        self.expected_failures.add((status, path))

    def expected(self, message: Any) -> bool:
        """A console error that is a failed request this test provoked on purpose (and nothing else)."""
        url = (message.location or {}).get("url", "")
        return any(f"status of {status} " in message.text and url.endswith(path)
                   for status, path in self.expected_failures)

    async def open(self, path: str = "/") -> None:
        await self.page.goto(self.url + path)
        await self.page.locator("body[data-ready=true]").wait_for(timeout=TIMEOUT_MS)

    async def sign_in(self, key: str) -> None:
        """Sign in through the form (in Chinese, the console's default language)."""
        await self.open("/")
        await self.page.get_by_label("API 密钥").fill(key)
        await self.page.get_by_label("API 密钥").press("Enter")
        await expect(self.page.get_by_role("button", name="退出登录")).to_be_visible()

    async def goto(self, hash_route: str) -> None:
        """Follow an in-app route (#/incidents/…) and wait until its screen has its data."""
        await self.page.evaluate("(hash) => { window.location.hash = hash; }", hash_route)
        await self.page.locator("main > .screen[data-ready=true]").wait_for(timeout=TIMEOUT_MS)

    async def screenshot(self, name: str) -> Path:
        """SCREENSHOTS/<name>.png of the viewport, scrolled to the top, without a passing notice."""
        await self.page.evaluate("document.getElementById('notice')?.replaceChildren(); window.scrollTo(0, 0)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path

    def assert_clean(self) -> None:
        assert not self.problems, "the page reported:\n" + "\n".join(self.problems)


async def new_console(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Console]:
    # The browser's own zone differs from the bureau's (RELIEF_TIMEZONE), so a time shown in the wrong one shows.
    context = await browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Europe/London")
    context.set_default_timeout(TIMEOUT_MS)
    await context.add_init_script(_CSP_LISTENER)
    page = await context.new_page()
    console = Console(page, url)
    page.on("pageerror", lambda error: console.problems.append(f"JavaScript error: {error}"))
    page.on("console", lambda message: console.problems.append(
        f"console {message.type}: {message.text} ({(message.location or {}).get('url', '')})")
        if message.type == "error" and not console.expected(message) else None)
    return context, console


async def _console(browser: Any, url: str, viewport: dict[str, int]) -> AsyncIterator[Console]:
    expect.set_options(timeout=TIMEOUT_MS)
    context, page_console = await new_console(browser, url, viewport)
    yield page_console
    await context.close()
    page_console.assert_clean()


@pytest.fixture
async def console(browser: Any, console_url: str) -> AsyncIterator[Console]:
    """A desktop-sized (1280×800) page; the test fails if the page logged any error or CSP violation."""
    async for page_console in _console(browser, console_url, DESKTOP):
        yield page_console


@pytest.fixture
async def phone(browser: Any, console_url: str) -> AsyncIterator[Console]:
    """The same on a phone-width (390×844) screen."""
    async for page_console in _console(browser, console_url, PHONE):
        yield page_console


# --- worlds -------------------------------------------------------------------------------------------------


async def make_key(conn: asyncpg.Connection, role: Role, organization_id: uuid.UUID | None = None,
                   name: str | None = None) -> str:
    created = await keys.create(conn, actor=SYSTEM, name=name or f"console test {role}", role=role,
                                organization_id=organization_id)
    return created.key


class Http:
    """The API as one key, over real HTTP (what an organization's own system would do)."""

    def __init__(self, session: aiohttp.ClientSession, key: str) -> None:
        self.session, self.key = session, key

    async def send(self, method: str, path: str, body: Any = None, *, idempotent: bool = False,
                   expect: int | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        async with self.session.request(method, path, json=body, headers=headers) as response:
            data = await response.json() if response.content_type.endswith("json") else await response.text()
            assert response.status < 300 if expect is None else response.status == expect, (response.status, data)
            return data

    async def get(self, path: str) -> Any:
        return await self.send("GET", path)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return await self.send("POST", path, body, **kw)


@pytest.fixture
async def http(console_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=console_url + "/") as session:
        yield session


@dataclass
class DemoWorld:
    incident_id: str
    dispatcher_key: str
    organization_key: str
    organization_name: str


@pytest.fixture
async def doksuri(conn: asyncpg.Connection, settings: Settings) -> DemoWorld:
    """The Doksuri demo, loaded as `relief demo` loads it, with its demo dispatcher and organization keys."""
    loaded = await demo.load(conn, secret=settings.secret_key.get_secret_value().encode())
    return DemoWorld(str(loaded.incident_id), loaded.dispatcher_key, loaded.organization_key, loaded.organization_name)


@dataclass
class World:
    """A small incident whose data is all in English (so a Chinese string on screen can only be ours)."""

    incident: dict[str, Any]
    dispatcher_key: str
    viewer_key: str
    organization: dict[str, Any]
    organization_api: Http
    dispatcher_api: Http
    calls: dict[str, dict[str, Any]]
    shelters: list[dict[str, Any]]
    resident_id_number: str


async def make_world(conn: asyncpg.Connection, session: aiohttp.ClientSession) -> World:
    dispatcher_key = await make_key(conn, Role.dispatcher, name="night dispatcher")
    viewer_key = await make_key(conn, Role.viewer, name="auditor")
    bureau = Http(session, dispatcher_key)
    organization = await bureau.post("/v1/organizations", {
        "name": "Lakeside Rescue Team", "credit_code": "91350100M000100Y43", "kind": "volunteer_team",
        "region": "320500", "contact": {"name": "Captain Wang", "phone": "13900000106"},
        "capabilities": {"skills": ["boat_rescue"], "goods": ["life_jacket"]},
    })
    await bureau.post(f"/v1/organizations/{organization['id']}/approve")
    team = Http(session, await make_key(conn, Role.organization, uuid.UUID(organization["id"]), name="team system"))
    incident = await bureau.post("/v1/incidents", {
        "code": "2024-LAKESIDE-FLOOD", "title": "Lakeside flood", "type": "flood", "severity": "II",
        "regions": ["320506"], "started_at": "2024-07-01T02:00:00Z", "description": "Test incident.",
    })
    base = f"/v1/incidents/{incident['id']}"
    calls = {
        "goods": await bureau.post(f"{base}/calls", {
            "kind": "goods", "title": "Life jackets for the lake shore", "item": "life_jacket", "unit": "piece",
            "quantity": "200", "priority": "critical", "deliver_to": {"address": "East Gym"}, "status": "open"}),
        "money": await bureau.post(f"{base}/calls", {
            "kind": "money", "title": "Emergency fund", "amount": "100000.00", "status": "open"}),
        "personnel": await bureau.post(f"{base}/calls", {
            "kind": "personnel", "title": "Boat crews", "skill": "boat_rescue", "headcount": 10, "status": "open"}),
        "draft": await bureau.post(f"{base}/calls", {
            "kind": "goods", "title": "Tents for the school", "item": "tent", "unit": "piece", "quantity": "40"}),
    }
    shelters = [
        await bureau.post(f"{base}/shelters", {"name": "East Gym", "address": "1 Lake Road", "capacity": 40}),
        await bureau.post(f"{base}/shelters", {"name": "North School", "address": "9 Hill Street", "capacity": 5}),
    ]
    pledge = await team.post(f"/v1/calls/{calls['goods']['id']}/pledges", {"quantity": "60", "note": "two trucks"},
                             idempotent=True)
    await bureau.post(f"/v1/pledges/{pledge['id']}/accept")
    await team.post(f"/v1/calls/{calls['money']['id']}/pledges", {"amount": "5000.00"}, idempotent=True)
    await bureau.post(f"{base}/donations", {
        "kind": "money", "amount": "2500.00", "channel": "bank_transfer", "receipt_no": "LK-0001",
        "donor": {"name": "Ms Brown"}}, idempotent=True)
    number = resident_id("320506", "19800101", 123)
    resident = await bureau.post(f"{base}/residents", {
        "name": "Li Lei", "id_type": "resident_id", "id_number": number, "phone": "13900001234",
        "origin_region": "320506", "household_size": 2, "vulnerabilities": ["elderly"]})
    await bureau.post(f"/v1/residents/{resident['id']}/checkin", {"shelter_id": shelters[0]["id"]})
    await bureau.post(f"{base}/evacuations", {"count": 12, "from_region": "320506", "placement": "dispersed"})
    await bureau.post(f"{base}/alerts", {
        "headline": "Lake shore flooding", "description": "Water over the embankment.",
        "instruction": "Move to East Gym.", "category": "Met", "urgency": "Immediate", "severity": "Severe",
        "certainty": "Observed", "response_type": "Evacuate", "area": {"description": "Lake shore",
                                                                       "circle": "31.2,120.4 5"}})
    return World(incident, dispatcher_key, viewer_key, organization, team, bureau, calls, shelters, number)


@pytest.fixture
async def lakeside(conn: asyncpg.Connection, http: aiohttp.ClientSession) -> World:
    return await make_world(conn, http)


@dataclass
class WhereItWent:
    """Stock and money added to the Lakeside world: a warehouse holding water, a transfer still on the road,
    a distribution at East Gym, an earmarked donation and a disbursement paid from it (four eyes)."""

    warehouse: dict[str, Any]
    transfer: dict[str, Any]
    paid: dict[str, Any]
    second_dispatcher_key: str


async def add_where_it_went(conn: asyncpg.Connection, world: World) -> WhereItWent:
    bureau, base = world.dispatcher_api, f"/v1/incidents/{world.incident['id']}"
    east_gym = {"shelter_id": world.shelters[0]["id"]}
    warehouse = await bureau.post(f"{base}/sites", {"kind": "warehouse", "name": "Harbour depot",
                                                    "address": "5 Dock Road"})
    await bureau.post(f"{base}/donations", {
        "kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "100", "donor": {"anonymous": True},
        "site_id": warehouse["id"]}, idempotent=True)
    transfer = await bureau.post(f"{base}/stock-movements", {
        "kind": "transfer", "item": "drinking_water", "unit": "box", "quantity": "40",
        "from": {"site_id": warehouse["id"]}, "to": east_gym}, idempotent=True)
    second = await bureau.post(f"{base}/stock-movements", {
        "kind": "transfer", "item": "drinking_water", "unit": "box", "quantity": "10",
        "from": {"site_id": warehouse["id"]}, "to": east_gym}, idempotent=True)
    await bureau.post(f"/v1/stock-movements/{second['id']}/receive", {"quantity": "10"})
    await bureau.post(f"{base}/stock-movements", {
        "kind": "distribution", "item": "drinking_water", "unit": "box", "quantity": "4", "from": east_gym,
        "to": {"kind": "group", "people_reached": 12, "region": "320506"}}, idempotent=True)
    await bureau.post(f"{base}/stock-movements", {
        "kind": "write_off", "item": "drinking_water", "unit": "box", "quantity": "1", "from": east_gym,
        "reason": "damaged"}, idempotent=True)
    await bureau.post(f"{base}/donations", {
        "kind": "money", "amount": "9000.00", "channel": "bank_transfer", "donor": {"anonymous": True},
        "earmark": {"purpose": "medical", "region": "320500"}}, idempotent=True)
    proposed = await bureau.post(f"{base}/disbursements", {
        "amount": "1500.00", "purpose": "medical", "recipient": {"households": 3, "region": "320506"},
        "voucher_no": "LK-V-0001", "fund": {"purpose": "medical", "region": "3205"}}, idempotent=True)
    second_key = await make_key(conn, Role.dispatcher, name="day dispatcher")
    paid = await Http(bureau.session, second_key).post(f"/v1/disbursements/{proposed['id']}/approve")
    return WhereItWent(warehouse, transfer, paid, second_key)
