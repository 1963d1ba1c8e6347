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

import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.routing import Operation
from models.codes import credit_code_check_character
from models.keys import KeyCreate
from models.residents import resident_id_check_character
from relief.app import operations
from relief.settings import Settings
from tests.conftest import Api, incident_body, organization_body
from tests.faults.access import ACCESS, OK, PRINCIPALS
from tests.faults.conftest import unlimited

# Receivers are never reached: no worker runs in this test (worker_in_process=False).
HOOK_URL = "http://127.0.0.1:9/hook"
POLYGON = "31.30,120.50 31.40,120.60 31.20,120.70 31.30,120.50"
# Organizations as principals, and whose resources fill their paths; the bureau's keys get A's, or the
# bureau's own webhook (and its deliveries), which is what a dispatcher changes.
OWNER = {"own": "A", "other": "B", "suspended": "C"}
CALLER = {"own": "A", "other": "A", "suspended": "C"}  # whose key each organization principal holds
OWNERS = ("A", "B", "C", "bureau")
# The resource a path's {id} names, by the path's first segment after /v1/.
KINDS = {
    "keys": "key", "organizations": "organization", "incidents": "incident", "public": "incident",
    "calls": "call", "pledges": "pledge", "donations": "donation", "shelters": "shelter",
    "residents": "resident", "webhooks": "webhook", "deliveries": "delivery", "alerts": "alert",
}
SHARED = frozenset({"incident", "call", "draft_call", "money_call", "shelter", "resident", "alert"})
# A resource in the state the action starts from, so that an allowed caller gets a 2xx, not a 409.
RESOURCE = {
    ("POST", "/v1/calls/{id}/publish"): "draft_call",
    ("POST", "/v1/calls/{id}/cancel"): "money_call",  # the goods call is closed just before
    ("POST", "/v1/pledges/{id}/reject"): "spare_pledge",  # the other pledged one is accepted just before
    ("POST", "/v1/pledges/{id}/dispatch"): "accepted_pledge",
    ("POST", "/v1/pledges/{id}/deliver"): "accepted_pledge",
}
# Run after everything else, in this order: what they change would turn later answers into 404 or 409.
LAST = [
    ("POST", "/v1/shelters/{id}/close"),
    ("POST", "/v1/shelters/{id}/reopen"),
    ("POST", "/v1/calls/{id}/close"),
    ("POST", "/v1/calls/{id}/cancel"),
    ("POST", "/v1/incidents/{id}/close"),
    ("POST", "/v1/incidents/{id}/reopen"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("POST", "/v1/organizations/{id}/suspend"),
    ("DELETE", "/v1/keys/{id}"),
]

_serial = itertools.count(1)


@pytest.fixture
def settings() -> Settings:
    # The matrix sends ~600 requests from one address, a hundred of them with no key or a wrong one: past
    # the per-key and per-address limits, which would answer 429 instead of the status under test.
    return unlimited(webhook_allow_private=True)


def credit_code() -> str:
    first17 = f"91320500{next(_serial) + 100_000:09d}"
    return first17 + credit_code_check_character(first17)


def resident_body() -> dict[str, Any]:
    serial = next(_serial)
    first17 = f"32050519800101{serial % 1000:03d}"
    return {"name": f"李秀英{serial}", "id_type": "resident_id", "origin_region": "320506",
            "id_number": first17 + resident_id_check_character(first17), "phone": f"139{serial:08d}"}


def goods_call(**overrides: Any) -> dict[str, Any]:
    return {"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500",
            "status": "open", **overrides}


def alert_body() -> dict[str, Any]:
    return {"headline": "东山镇沿湖村庄立即转移", "category": "Met", "urgency": "Immediate", "severity": "Severe",
            "certainty": "Observed", "area": {"description": "吴中区东山镇", "polygon": POLYGON}}


@dataclass
class World:
    """One principal's world: ids by owner ("A", "B", "C", "bureau") where resources have one."""

    incident: str = ""
    call: str = ""  # open, for goods: the one pledged against
    draft_call: str = ""
    money_call: str = ""
    shelter: str = ""
    shelter2: str = ""
    resident: str = ""
    alert: str = ""
    org: dict[str, str] = field(default_factory=dict)
    key: dict[str, str] = field(default_factory=dict)  # the organization's API key itself
    spare_key: dict[str, str] = field(default_factory=dict)  # id of another key of it, to revoke
    pledge: dict[str, str] = field(default_factory=dict)  # pledged
    spare_pledge: dict[str, str] = field(default_factory=dict)  # pledged too
    accepted_pledge: dict[str, str] = field(default_factory=dict)
    donation: dict[str, str] = field(default_factory=dict)
    webhook: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, str] = field(default_factory=dict)

    def resource(self, kind: str, owner: str) -> str:
        if kind in SHARED:
            return getattr(self, kind)
        if kind == "key":
            return self.spare_key[owner]
        if kind == "organization":
            return self.org[owner]
        return getattr(self, kind)[owner]

    def ids_of(self, owner: str) -> set[str]:
        """Everything of `owner` that another organization must never be shown."""
        found = {self.org.get(owner), self.spare_key.get(owner), self.pledge.get(owner), self.spare_pledge.get(owner),
                 self.accepted_pledge.get(owner), self.donation.get(owner), self.webhook.get(owner),
                 self.delivery.get(owner)}
        return {i for i in found if i}


async def made(response, status: int = 201) -> dict[str, Any]:
    assert response.status == status, f"setting up the world: {response.method} {response.url.path}: " \
                                      f"{response.status} {await response.text()}"
    return await response.json()


def idempotency() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def build_world(client: TestClient, dispatcher: Api, admin: Api) -> World:
    """A, B and C with keys, pledges, donations and webhooks; the shared incident's calls, shelters,
    resident, evacuation and alert; then C suspended."""
    w = World()
    for owner in "ABC":
        body = organization_body(0, name=f"矩阵救援队 {owner}{next(_serial)}", credit_code=credit_code())
        org = await made(await dispatcher.post("/v1/organizations", json=body))
        await made(await dispatcher.post(f"/v1/organizations/{org['id']}/approve"), 200)
        w.org[owner] = org["id"]
        keys = f"/v1/organizations/{org['id']}/keys"
        w.key[owner] = (await made(await admin.post(keys, json={"name": f"{owner} key"})))["key"]
        w.spare_key[owner] = (await made(await admin.post(keys, json={"name": f"{owner} spare"})))["id"]
    code = f"AUTHZ-{uuid.uuid4().hex[:12]}"
    w.incident = (await made(await dispatcher.post("/v1/incidents", json=incident_body(code=code))))["id"]
    calls = f"/v1/incidents/{w.incident}/calls"
    w.call = (await made(await dispatcher.post(calls, json=goods_call())))["id"]
    w.draft_call = (await made(await dispatcher.post(calls, json=goods_call(status="draft"))))["id"]
    money = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    w.money_call = (await made(await dispatcher.post(calls, json=money)))["id"]
    await made(await dispatcher.post(calls, json={"kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue",
                                                  "headcount": 30, "status": "open"}))
    for owner in "ABC":
        org = Api(client, w.key[owner])
        pledges = f"/v1/calls/{w.call}/pledges"
        body = {"quantity": "10", "estimated_value": "300.00"}
        w.pledge[owner] = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        w.spare_pledge[owner] = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        accepted = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        await made(await dispatcher.post(f"/v1/pledges/{accepted}/accept"), 200)
        w.accepted_pledge[owner] = accepted
        await made(await org.post(f"/v1/incidents/{w.incident}/offers", json=offer_body(w, owner)))
        donation = {"kind": "money", "amount": "500.00", "channel": "bank_transfer",
                    "receipt_no": f"R-{next(_serial)}", "donor": {"organization_id": w.org[owner]}}
        donations = f"/v1/incidents/{w.incident}/donations"
        w.donation[owner] = (await made(await dispatcher.post(donations, json=donation, headers=idempotency())))["id"]
    shelters = f"/v1/incidents/{w.incident}/shelters"
    w.shelter = (await made(await dispatcher.post(shelters, json=shelter_body(w, "A"))))["id"]
    w.shelter2 = (await made(await dispatcher.post(shelters, json=shelter_body(w, "A"))))["id"]
    residents = f"/v1/incidents/{w.incident}/residents"
    w.resident = (await made(await dispatcher.post(residents, json=resident_body())))["id"]
    await made(await dispatcher.post(f"/v1/incidents/{w.incident}/evacuations", json=evacuation_body(w, "A")))
    for owner in OWNERS:
        api = dispatcher if owner == "bureau" else Api(client, w.key[owner])
        w.webhook[owner] = (await made(await api.post("/v1/webhooks", json={"url": HOOK_URL})))["id"]
        w.delivery[owner] = (await made(await api.post(f"/v1/webhooks/{w.webhook[owner]}/test"), 202))["id"]
    w.alert = (await made(await dispatcher.post(f"/v1/incidents/{w.incident}/alerts", json=alert_body())))["id"]
    for owner in "AB":
        await made(await Api(client, w.key[owner]).post(f"/v1/alerts/{w.alert}/acks", json={"status": "received"}), 200)
    await made(await dispatcher.post(f"/v1/organizations/{w.org['C']}/suspend"), 200)
    return w


def offer_body(w: World, owner: str) -> dict[str, Any]:
    return {"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "100", "region": "320500"}


def shelter_body(w: World, owner: str) -> dict[str, Any]:
    return {"name": f"东山中学体育馆 {next(_serial)}", "address": "苏州市吴中区东山镇", "capacity": 300}


def evacuation_body(w: World, owner: str) -> dict[str, Any]:
    return {"count": 120, "from_region": "320505", "placement": "dispersed"}


Body = Callable[[World, str], dict[str, Any]]

# A valid body for every operation that needs one, from the world and the owner of the path's resource.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/keys"): lambda w, o: {"name": "matrix key", "role": "organization", "organization_id": w.org[o]},
    ("POST", "/v1/organizations"): lambda w, o: organization_body(
        0, name=f"新登记组织 {next(_serial)}", credit_code=credit_code()),
    ("PATCH", "/v1/organizations/{id}"): lambda w, o: {"name": f"矩阵救援队 {o} 改名 {next(_serial)}"},
    ("POST", "/v1/organizations/{id}/keys"): lambda w, o: {"name": "matrix key"},
    ("POST", "/v1/incidents"): lambda w, o: incident_body(code=f"AUTHZ-{uuid.uuid4().hex[:12]}"),
    ("PATCH", "/v1/incidents/{id}"): lambda w, o: {"title": "台风杜苏芮 苏州响应（更新）"},
    ("POST", "/v1/incidents/{id}/calls"): lambda w, o: goods_call(title="雨衣", item="raincoat"),
    ("PATCH", "/v1/calls/{id}"): lambda w, o: {"title": "救生衣（加急）"},
    ("POST", "/v1/calls/{id}/pledges"): lambda w, o: {"quantity": "5", "estimated_value": "150.00"},
    ("POST", "/v1/pledges/{id}/reject"): lambda w, o: {"reason": "重复认捐"},
    ("POST", "/v1/incidents/{id}/offers"): offer_body,
    ("POST", "/v1/incidents/{id}/donations"): lambda w, o: {
        "kind": "money", "amount": "20.00", "channel": "cash", "receipt_no": f"R-{next(_serial)}"},
    ("POST", "/v1/donations/{id}/reverse"): lambda w, o: {"reason": "录入错误"},
    ("POST", "/v1/incidents/{id}/shelters"): shelter_body,
    ("PATCH", "/v1/shelters/{id}"): lambda w, o: {"name": f"东山中学 {next(_serial)}"},
    ("POST", "/v1/incidents/{id}/residents"): lambda w, o: resident_body(),
    ("POST", "/v1/residents/{id}/checkin"): lambda w, o: {"shelter_id": w.shelter},
    ("POST", "/v1/residents/{id}/move"): lambda w, o: {"shelter_id": w.shelter2},
    ("POST", "/v1/incidents/{id}/evacuations"): evacuation_body,
    ("POST", "/v1/webhooks"): lambda w, o: {"url": HOOK_URL, "event_types": ["call.*"]},
    ("PATCH", "/v1/webhooks/{id}"): lambda w, o: {"description": "changed by the matrix"},
    ("POST", "/v1/incidents/{id}/alerts"): lambda w, o: alert_body(),
    ("POST", "/v1/alerts/{id}/acks"): lambda w, o: {"status": "responding"},
}


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


CALLERS: dict[tuple[str, str], Callable[[Call], Awaitable[tuple[int, str]]]] = {
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
