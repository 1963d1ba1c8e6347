"""What the money tests share: exact request bodies, readers of the counters, and a setting of two
organizations and an open incident.

Bodies are sent as raw bytes so that a JSON number really is a JSON number on the wire (aiohttp's
json= would go through Python floats first).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.conftest import Api, incident_body, make_organization

DECIMAL_STRING = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
MONEY_FIELDS = {
    "requested",
    "committed",
    "in_transit",
    "delivered",
    "remaining",
    "amount",
    "quantity",
    "estimated_value",
    "delivered_quantity",
}


def money_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    body.update(overrides)
    return body


def goods_call(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "goods",
        "title": "饮用水",
        "item": "drinking_water",
        "unit": "box",
        "quantity": "500",
        "status": "open",
    }
    body.update(overrides)
    return body


async def ok(response, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def open_incident(dispatcher: Api) -> str:
    return (await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201))["id"]


async def new_call(dispatcher: Api, incident_id: str, body: dict[str, Any] | bytes) -> dict:
    path = f"/v1/incidents/{incident_id}/calls"
    if isinstance(body, bytes):
        response = await dispatcher.post(path, data=body, headers={"Content-Type": "application/json"})
    else:
        response = await dispatcher.post(path, json=body)
    return await ok(response, 201)


async def pledge_raw(api: Api, call_id: str, raw: bytes, *, key: str | None = None):
    """Pledge with `raw` as the exact body bytes."""
    return await api.post(
        f"/v1/calls/{call_id}/pledges",
        data=raw,
        headers={"Content-Type": "application/json", "Idempotency-Key": key or str(uuid.uuid4())},
    )


def amount_body(amount: bytes, extra: bytes = b"") -> bytes:
    return b'{"amount": ' + amount + extra + b"}"


async def read_call(api: Api, call_id: str) -> dict:
    return await ok(await api.get(f"/v1/calls/{call_id}"))


async def db_counters(conn, call_id: str):
    return await conn.fetchrow(
        "select requested, committed, in_transit, delivered, requested - committed as remaining"
        " from calls where id = $1",
        uuid.UUID(call_id),
    )


async def pledge_count(conn) -> int:
    return await conn.fetchval("select count(*) from pledges")


def _float_found(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction or exponent in a response: {text}")


def strictly_parsed(text: str) -> Any:
    """Parse a response, failing on any JSON number that is not an integer."""
    return json.loads(text, parse_float=_float_found)


def money_values(document: Any) -> list[tuple[str, Any]]:
    """Every (name, value) of a money or quantity field anywhere in `document`."""
    found: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for name, value in document.items():
            if name in MONEY_FIELDS and not isinstance(value, dict | list):
                found.append((name, value))
            found.extend(money_values(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(money_values(value))
    return found


async def make_setup(dispatcher: Api, conn) -> tuple[Any, Any, str]:
    """Two approved organizations (owner, other) and an open incident."""
    owner = await make_organization(dispatcher, conn, 0)
    other = await make_organization(dispatcher, conn, 1)
    incident_id = await open_incident(dispatcher)
    return owner, other, incident_id
