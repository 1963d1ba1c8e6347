"""Cursors a client made up, tampered with or fuzzed: always a 422 problem, never a 500."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from relief import cursors
from relief.app import operations
from relief.errors import Invalid
from tests.conftest import incident_body
from tests.test_alerts import alert_body


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


STAMP = "2023-07-28T01:55:00+00:00"
UUID_TEXT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

# The shapes the probes sent (the first is the one that reached UUID(123)), and their neighbours.
TAMPERED = [
    _b64([STAMP, 123]),
    _b64([STAMP, None]),
    _b64([STAMP, [UUID_TEXT]]),
    _b64([STAMP, {"id": UUID_TEXT}]),
    _b64([123, UUID_TEXT]),
    _b64([None, UUID_TEXT]),
    _b64([STAMP, UUID_TEXT, 1]),
    _b64([STAMP]),
    _b64([]),
    _b64({"created_at": STAMP, "id": UUID_TEXT}),
    _b64([STAMP, "not-a-uuid"]),
    _b64([STAMP, "{" + UUID_TEXT + "}"]),  # UUID() takes braces; ours never have them
    _b64(["2023-07-28T01:55:00", UUID_TEXT]),  # no zone
    _b64(["0001-01-01T00:00:00+00:00", UUID_TEXT]),
    _b64(["9999-12-31T23:59:59-23:59", UUID_TEXT]),
    _b64(["２０２３-07-28T01:55:00+00:00", UUID_TEXT]),
    _b64([True, False]),
    _b64(1.5),
    _b64(-1),
    _b64(2**64),
    _b64("text"),
    _b64(None),
    "%%%",
    "=",
    "",
    "a" * 501,
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    _b64(json.loads("[" * 100 + "]" * 100)),  # deep nesting
]


def _fuzzed(count: int, seed: int = 10) -> list[str]:
    """Random bytes and random JSON, base64url-encoded the way ours are."""
    rng = random.Random(seed)
    atoms: list[Any] = [0, -1, 2**63, 1e308, "", STAMP, UUID_TEXT, None, True, [], {}]
    out = []
    for _ in range(count):
        if rng.random() < 0.5:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
            out.append(base64.urlsafe_b64encode(raw).decode().rstrip("="))
        else:
            out.append(_b64([rng.choice(atoms) for _ in range(rng.randrange(0, 4))]))
    return out


@pytest.mark.parametrize("cursor", TAMPERED + _fuzzed(300))
def test_a_cursor_that_is_not_ours_is_invalid_input(cursor: str) -> None:
    for decode in (cursors.decode_position, cursors.decode_id):
        with pytest.raises(Invalid):
            decode(cursor)


def test_our_own_cursors_still_decode() -> None:
    from datetime import datetime
    from uuid import UUID

    when, id = datetime.fromisoformat(STAMP), UUID(UUID_TEXT)
    assert cursors.decode_position(cursors.encode_position(when, id)) == (when, id)
    assert cursors.decode_id(cursors.encode_id(42)) == 42



# 12 cursors × every list route from one admin key is over the default burst of 100 on purpose.
@pytest.mark.parametrize("settings", [{"rate_limit_burst": 10_000}], indirect=True)
async def test_every_list_route_answers_a_tampered_cursor_with_422(admin, conn) -> None:
    """Each list route that takes ?cursor=, on a real resource, with the probes' cursors."""
    incident = await (await admin.post("/v1/incidents", json=incident_body())).json()
    call = await admin.post(f"/v1/incidents/{incident['id']}/calls", json={
        "kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "10",
        "status": "open",
    })
    call_id = (await call.json())["id"]
    hook = await admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]})
    alert = await admin.post(f"/v1/incidents/{incident['id']}/alerts", json=alert_body())
    task = await admin.post(f"/v1/incidents/{incident['id']}/tasks", json={
        "title": "搜救", "headcount": 5, "area": {"description": "东山镇", "point": "31.07,120.36"}})
    ids = {"incidents": incident["id"], "calls": call_id, "webhooks": (await hook.json())["id"],
           "alerts": (await alert.json())["id"], "tasks": (await task.json())["id"]}
    routes = [op for op in operations() if op.query is not None and "cursor" in op.query.model_fields]
    assert len(routes) >= 17  # the test must not pass by finding no route
    failures = []
    for op in routes:
        path = op.path
        if "{id}" in path:
            path = path.replace("{id}", ids[path.split("/")[2]])
        for cursor in TAMPERED[:12]:
            response = await admin.get(path, params={"cursor": cursor})
            body = await response.json()
            if response.status != 422 or response.content_type != "application/problem+json" \
                    or body.get("errors", [{}])[0].get("parameter") != "cursor":
                failures.append((op.path, cursor, response.status, body.get("detail")))
    assert not failures, failures
