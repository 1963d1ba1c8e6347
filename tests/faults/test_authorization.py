"""The authorization matrix: every operation of the route table × every principal, against tests/faults/access.py.

Each principal gets a world of its own (an incident, calls of each kind, pledges, an offer, donations,
shelters, a resident, an evacuation, webhooks with deliveries, an alert with acks, keys; organizations A
and B, and C suspended after making its pledge and webhook), so that what one principal is allowed to do
(close, delete, revoke, suspend) cannot turn another principal's answer into a 404 or 409. Within a
world, destructive operations run last. Bodies are valid, so a refusal is authorization, not validation.

One test collects every mismatch and reports them together. Besides the status, it checks that no
response to an organization's key names another organization's resources (invariant 7 and 9).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.routing import Operation
from models.keys import KeyCreate
from relief.app import operations
from relief.settings import Settings
from tests.conftest import Api
from tests.faults.access import ACCESS, OK, PRINCIPALS
from tests.faults.authz_world import (
    BODIES,
    CALLER,
    KINDS,
    LAST,
    OWNER,
    OWNERS,
    RESOURCE,
    SPREADSHEET,
    World,
    build_world,
    idempotency,
)
from tests.faults.conftest import unlimited


@pytest.fixture
def settings() -> Settings:
    # The matrix sends ~600 requests from one address, a hundred of them with no key or a wrong one: past
    # the per-key and per-address limits, which would answer 429 instead of the status under test.
    return unlimited(webhook_allow_private=True)


@dataclass
class Call:
    """One operation as one principal: what the callers below need."""

    client: TestClient
    api: Api
    op: Operation
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]


async def plain(call: Call) -> tuple[int, str]:
    kw = {} if call.body is None else {"json": call.body}
    response = await call.api.call(call.op.method, call.path, headers=call.headers, **kw)
    return response.status, await response.text()


async def stream(call: Call) -> tuple[int, str]:
    """The live stream never ends: its status is the answer."""
    headers = dict(call.headers)
    if call.api.key is not None:
        headers["Authorization"] = f"Bearer {call.api.key}"
    response = await call.client.request("GET", call.path, headers=headers)
    try:
        return response.status, "" if response.status == 200 else await response.text()
    finally:
        response.close()


async def _sign_in(call: Call) -> dict[str, Any] | None:
    """A console session from the principal's key (none for anonymous); its body, or None if refused."""
    if call.api.key is None:
        return None
    response = await call.client.post("/console/session", json={"key": call.api.key})
    return await response.json() if response.status == 200 else None


async def sign_in(call: Call) -> tuple[int, str]:
    # Anonymous brings a key that does not exist.
    key = call.api.key or "rk_" + "0" * 43
    try:
        return await plain(Call(call.client, Api(call.client, None), call.op, call.path, {"key": key}, {}))
    finally:
        call.client.session.cookie_jar.clear()  # the cookie must not speak for the next principal


async def with_session(call: Call) -> tuple[int, str]:
    """GET or DELETE /console/session with the cookie the principal's key can get (and its CSRF token)."""
    try:
        session = await _sign_in(call)
        headers = {}
        if session is not None and call.op.method == "DELETE":
            url = call.client.make_url("/")
            headers = {"Origin": f"{url.scheme}://{url.host}:{url.port}", "X-CSRF-Token": session["csrf_token"]}
        return await plain(Call(call.client, Api(call.client, None), call.op, call.path, None, headers))
    finally:
        call.client.session.cookie_jar.clear()


async def spreadsheet(call: Call) -> tuple[int, str]:
    """An import's upload is a file, not JSON."""
    headers = {**call.headers, "Content-Type": "text/csv"}
    response = await call.api.call("POST", call.path + "?kind=impacts", headers=headers, data=SPREADSHEET)
    return response.status, await response.text()


async def binary(call: Call) -> tuple[int, str]:
    """A workbook: its bytes, shown as text only to look for ids that must not be in it."""
    response = await call.api.call(call.op.method, call.path, headers=call.headers)
    return response.status, (await response.read()).decode("latin-1")


CALLERS: dict[tuple[str, str], Callable[[Call], Awaitable[tuple[int, str]]]] = {
    ("GET", "/v1/imports/templates/{kind}.xlsx"): binary,
    ("POST", "/v1/incidents/{id}/imports"): spreadsheet,
    ("GET", "/v1/incidents/{id}/stream"): stream,
    ("POST", "/console/session"): sign_in,
    ("GET", "/console/session"): with_session,
    ("DELETE", "/console/session"): with_session,
}


def ordered(table: list[Operation]) -> list[Operation]:
    by_key = {(op.method, op.path): op for op in table}
    late = [by_key[k] for k in LAST if k in by_key]
    return [op for op in table if (op.method, op.path) not in LAST] + late


def outcome(status: int) -> Any:
    if status in (401, 403, 404):
        return status
    if 200 <= status < 300 or status == 409:
        return OK
    return f"unexpected {status}"


def owner_for(principal: str, kind: str | None) -> str:
    if principal in OWNER:
        return OWNER[principal]
    return "bureau" if kind in ("webhook", "delivery") else "A"


def kind_of(op: Operation) -> str | None:
    parts = op.path.strip("/").split("/")
    if parts[0] != "v1" or len(parts) < 2:
        return None
    return RESOURCE.get((op.method, op.path)) or KINDS.get(parts[1])


def request_for(op: Operation, principal: str, w: World) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
    kind = kind_of(op)
    owner = owner_for(principal, kind)
    path = op.path
    if "{id}" in path:
        assert kind is not None, f"{op.method} {op.path}: no resource kind for its {{id}}: add it to KINDS"
        path = path.replace("{id}", w.resource(kind, owner))
    if "{kind}" in path:  # an import template
        path = path.replace("{kind}", "impacts")
    if "{receipt_no}" in path:  # a donor checking the receipt they hold: its number and amount
        path = path.replace("{receipt_no}", w.receipt["A"]) + "?amount=500.00"
    if principal == "other" and op.query is not None and "organization_id" in op.query.model_fields:
        path += f"?organization_id={w.org['B']}"  # A asking for B's list
    recipe = BODIES.get((op.method, op.path))
    body = recipe(w, owner) if recipe is not None else None
    headers = {}
    if op.idempotent:
        headers.update(idempotency())
    if op.if_match:
        headers["If-Match"] = "*"
    return path, body, headers


def undeclared(table: list[Operation]) -> list[str]:
    """What the table serves that this test cannot judge or call, and declarations of routes gone."""
    keys = {(op.method, op.path) for op in table}
    problems = [f"{m} {p}: no access declared in tests/faults/access.py" for m, p in sorted(keys - ACCESS.keys())]
    problems += [f"{m} {p}: declared in tests/faults/access.py but not served" for m, p in sorted(ACCESS.keys() - keys)]
    for op in table:
        key = (op.method, op.path)
        if op.body is not None and op.body_required and key not in BODIES and key not in CALLERS:
            problems.append(f"{op.method} {op.path}: needs a body; add a valid one to BODIES")
    return problems


async def test_every_operation_answers_every_principal_as_declared(
    client: TestClient, dispatcher: Api, admin: Api, viewer: Api, anonymous: Api
) -> None:
    table = operations()
    problems = undeclared(table)
    assert not problems, "\n".join(problems)

    started = time.perf_counter()
    mismatches: list[str] = []
    leaks: list[str] = []
    calls = 0
    for principal in PRINCIPALS:
        w = await build_world(client, dispatcher, admin)
        staff = {"anonymous": anonymous, "viewer": viewer, "dispatcher": dispatcher, "admin": admin}
        caller = CALLER.get(principal)
        api = staff[principal] if caller is None else Api(client, w.key[caller])
        # What an organization's key must never be shown: every other owner's resources.
        hidden = set().union(*(w.ids_of(o) for o in OWNERS if o != caller)) if caller else set()
        for op in ordered(table):
            key = (op.method, op.path)
            path, body, headers = request_for(op, principal, w)
            status, text = await CALLERS.get(key, plain)(Call(client, api, op, path, body, headers))
            calls += 1
            declared = ACCESS[key]
            expected, got = declared.expected(principal), outcome(status)
            if got != expected:
                waiting = declared.waiting.get(principal)
                note = f"  [waiting: {waiting}]" if waiting else ""
                mismatches.append(f"{op.method} {op.path} as {principal}: expected {expected}, got {status} "
                                  f"{text[:160]!r}{note}")
            shown = [i for i in hidden if i in text and i not in path.partition("?")[0]]
            if shown:
                leaks.append(f"{op.method} {path} as {principal} ({caller}'s key) shows {sorted(shown)}")
    elapsed = time.perf_counter() - started
    assert calls == len(table) * len(PRINCIPALS)
    report = [f"{len(mismatches)} of {calls} operation × principal calls differ from tests/faults/access.py "
              f"({elapsed:.1f} s):", *mismatches]
    if leaks:
        report += ["responses to an organization's key that show another's resources:", *leaks]
    assert not mismatches and not leaks, "\n".join(report)


def test_declarations_keep_admin_over_dispatcher_over_viewer() -> None:
    """admin ⊇ dispatcher ⊇ viewer (invariant 9), and what anyone may call, every key may."""
    for (method, path), access in ACCESS.items():
        if access.viewer == OK:
            assert access.dispatcher == OK, f"{method} {path}: a viewer may, a dispatcher may not"
        if access.dispatcher == OK:
            assert access.admin == OK, f"{method} {path}: a dispatcher may, an admin may not"
        if access.anonymous == OK:
            assert all(access.expected(p) == OK for p in PRINCIPALS), f"{method} {path}: public, but not to all"


def test_a_new_route_without_a_declaration_fails() -> None:
    async def handler(request: Any) -> Any:
        raise AssertionError("not called")

    table = [*operations(), Operation("POST", "/v1/brand-new/{id}/thing", handler, "new", "new", body=KeyCreate)]
    problems = undeclared(table)
    assert problems == [
        "POST /v1/brand-new/{id}/thing: no access declared in tests/faults/access.py",
        "POST /v1/brand-new/{id}/thing: needs a body; add a valid one to BODIES",
    ]
