"""The pledge tests' shared world: the lifecycle rules as the issue states them, one incident and call
with two organizations, and helpers that drive pledges through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.conftest import Api, Org, incident_body, make_organization

ACTIONS = ("accept", "reject", "withdraw", "dispatch", "deliver")
STATES = ("pledged", "accepted", "rejected", "withdrawn", "dispatched", "delivered")
ACTORS = ("dispatcher", "admin", "viewer", "owner", "other_organization")

PAST = {
    "accept": "accepted",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "dispatch": "dispatched",
    "deliver": "delivered",
}
# action → (who may do it, the states it starts from)
STAFF = frozenset({"dispatcher", "admin"})
ALLOWED = {
    "accept": (STAFF, {"pledged"}),
    "reject": (STAFF, {"pledged"}),
    "withdraw": (frozenset({"owner"}), {"pledged", "accepted"}),
    "dispatch": (frozenset({"owner"}), {"accepted"}),
    "deliver": (STAFF, {"accepted", "dispatched"}),
}
# How to reach each starting state from `pledged`: (action, who does it).
PATHS = {
    "pledged": [],
    "accepted": [("accept", "dispatcher")],
    "rejected": [("reject", "dispatcher")],
    "withdrawn": [("withdraw", "owner")],
    "dispatched": [("accept", "dispatcher"), ("dispatch", "owner")],
    "delivered": [("accept", "dispatcher"), ("dispatch", "owner"), ("deliver", "dispatcher")],
}

REQUESTED = Decimal(1000)
PLEDGED = Decimal(100)


def expected_status(action: str, state: str, actor: str) -> int:
    if actor == "other_organization":
        return 404
    roles, starts = ALLOWED[action]
    if actor not in roles:
        return 403
    if state not in starts:
        return 409
    return 200


def expected_counters(status: str, quantity: Decimal = PLEDGED, delivered: Decimal | None = None) -> dict[str, Decimal]:
    """The call's counters with one pledge of `quantity` in `status` (delivered in full by default)."""
    arrived = quantity if delivered is None else delivered
    committed = {
        "pledged": quantity,
        "accepted": quantity,
        "dispatched": quantity,
        "delivered": arrived,
        "rejected": Decimal(0),
        "withdrawn": Decimal(0),
    }[status]
    return {
        "requested": REQUESTED,
        "committed": committed,
        "in_transit": quantity if status == "dispatched" else Decimal(0),
        "delivered": arrived if status == "delivered" else Decimal(0),
        "remaining": REQUESTED - committed,
    }


def goods_call(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "goods",
        "title": "救生衣",
        "item": "life_jacket",
        "unit": "piece",
        "quantity": "500",
        "status": "open",
    }
    body.update(overrides)
    return body


def money_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    body.update(overrides)
    return body


def personnel_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue", "headcount": 30, "status": "open"}
    body.update(overrides)
    return body


def personnel_pledge(**overrides: Any) -> dict[str, Any]:
    body = {
        "headcount": 10,
        "available_from": "2023-07-29T00:00:00Z",
        "available_until": "2023-08-05T00:00:00Z",
        "lead": {"name": "李队长", "phone": "13900001111"},
    }
    body.update(overrides)
    return body


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def ok(response, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incident(dispatcher: Api, code: str = "2023-DOKSURI-SZ") -> str:
    return (await ok(await dispatcher.post("/v1/incidents", json=incident_body(code=code)), 201))["id"]


async def new_call(dispatcher: Api, incident_id: str, body: dict[str, Any] | None = None) -> dict:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=body or goods_call())
    return await ok(response, 201)


async def pledge(api: Api, call_id: str, body: dict[str, Any] | None = None, *, key: str | None = None):
    return await api.post(
        f"/v1/calls/{call_id}/pledges",
        json={"quantity": str(PLEDGED), "estimated_value": "3000.00"} if body is None else body,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def act(api: Api, pledge_id: str, action: str, body: dict[str, Any] | None = None):
    if body is None and action == "reject":
        body = {"reason": "重复认捐"}
    if body is None:
        return await api.post(f"/v1/pledges/{pledge_id}/{action}")
    return await api.post(f"/v1/pledges/{pledge_id}/{action}", json=body)


async def read_call(api: Api, call_id: str) -> dict:
    return await ok(await api.get(f"/v1/calls/{call_id}"))


async def read_pledge(api: Api, pledge_id: str) -> dict:
    return await ok(await api.get(f"/v1/pledges/{pledge_id}"))


def counters(call: dict) -> dict[str, Decimal]:
    out = {}
    for name in ("requested", "committed", "in_transit", "delivered", "remaining"):
        assert isinstance(call[name], str), (name, call[name])
        out[name] = Decimal(call[name])
    return out


async def last_event_id(conn) -> int:
    return await conn.fetchval("select coalesce(max(id), 0) from events")


async def events_since(conn, after_id: int) -> list:
    return await conn.fetch(
        "select type, entity_type, entity_id, actor_role, before, after from events where id > $1 order by id",
        after_id,
    )


async def pledge_count(conn) -> int:
    return await conn.fetchval("select count(*) from pledges")




@dataclass
class World:
    dispatcher: Api
    admin: Api
    viewer: Api
    owner: Org
    other: Org
    incident_id: str
    call_id: str

    def api(self, actor: str) -> Api:
        return {
            "dispatcher": self.dispatcher,
            "admin": self.admin,
            "viewer": self.viewer,
            "owner": self.owner.api,
            "other_organization": self.other.api,
        }[actor]


async def make_world(dispatcher: Api, admin: Api, viewer: Api, conn) -> World:
    """Two approved organizations and one open goods call for 1000, in a fresh incident."""
    owner = await make_organization(dispatcher, conn, 0)
    other = await make_organization(dispatcher, conn, 1)
    incident_id = await open_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, goods_call(quantity=str(REQUESTED)))
    return World(dispatcher, admin, viewer, owner, other, incident_id, call["id"])


async def pledge_in_state(world: World, state: str) -> str:
    """A fresh pledge of 100 by the owner, driven to `state` through the API."""
    created = await ok(await pledge(world.owner.api, world.call_id), 201)
    assert created["status"] == "pledged"
    for action, who in PATHS[state]:
        moved = await ok(await act(world.api(who), created["id"], action))
        assert moved["status"] == PAST[action]
    assert (await read_pledge(world.dispatcher, created["id"]))["status"] == state
    return created["id"]
