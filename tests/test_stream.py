"""GET /v1/incidents/{id}/stream: live, resumable without losing or repeating an event, and only
what the reader may see."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from relief import db, events
from relief.auth import SYSTEM
from tests.conftest import incident_body


class Stream:
    """A Server-Sent Events reader over an aiohttp response."""

    def __init__(self, response: Any, floor: int = 0) -> None:
        self.response = response
        self.floor = floor  # events up to this id committed before the stream opened

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        message: dict[str, Any] = {}
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.response.content.readline()).decode().rstrip("\n")
                if line == "":
                    if "data" in message:
                        message["data"] = json.loads(message["data"])
                        if message["data"]["id"] > self.floor:
                            return message
                    message = {}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(": ")
                message[field] = value

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]

    def close(self) -> None:
        self.response.close()


async def _open(api, incident_id: str, last_event_id: str | None = None, *, database_url: str | None = None) -> Stream:
    """The stream from its head, or after `last_event_id`.

    A stream's head is the last position whose every event has committed; a transaction elsewhere on
    the server (another test's CREATE DATABASE, say) holds it back, so a stream opened at the head may
    begin with events that committed just before it opened. That is at-least-once, as designed; a test
    that asserts what arrives after opening passes `database_url` to skip those.
    """
    floor = 0
    if database_url is not None and last_event_id is None:
        conn = await db.connect(database_url)
        try:
            floor = await conn.fetchval("select coalesce(max(id), 0) from events")
        finally:
            await conn.close()
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = await api.client.get(
        f"/v1/incidents/{incident_id}/stream", headers={"Authorization": f"Bearer {api.key}", **headers}
    )
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return Stream(response, floor)


async def _incident(dispatcher) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201
    return (await response.json())["id"]


async def _update(dispatcher, incident_id: str, title: str) -> None:
    current = await dispatcher.get(f"/v1/incidents/{incident_id}")
    response = await dispatcher.patch(
        f"/v1/incidents/{incident_id}", json={"title": title}, headers={"If-Match": current.headers["ETag"]}
    )
    assert response.status == 200, await response.text()


@pytest.mark.synthetic_events
async def test_changes_arrive_live_and_resume_without_loss_or_repeat(dispatcher, database_url):
    incident_id = await _incident(dispatcher)
    stream = await _open(dispatcher, incident_id, database_url=database_url)
    await _update(dispatcher, incident_id, "one")
    await _update(dispatcher, incident_id, "two")
    first = await stream.take(2)
    assert [m["data"]["data"]["title"] for m in first] == ["one", "two"]
    assert all(m["event"] == "incident.updated" for m in first)
    assert first[0]["data"]["entity"] == {"type": "incident", "id": incident_id}
    stream.close()

    # While nobody listens: an event that takes the smaller id but commits last, and two that commit
    # before it. A reader resuming from "the highest id I saw" would skip the slow one.
    slow = await db.connect(database_url)
    try:
        transaction = slow.transaction()
        await transaction.start()
        await events.emit(slow, type="incident.updated", actor=SYSTEM, entity_type="incident",
                          entity_id=uuid.UUID(incident_id), incident_id=uuid.UUID(incident_id),
                          after={"title": "slow"})
        await _update(dispatcher, incident_id, "three")
        await _update(dispatcher, incident_id, "four")
        resumed = await _open(dispatcher, incident_id, last_event_id=first[-1]["id"])
        await asyncio.sleep(0.5)
        await transaction.commit()
    finally:
        await slow.close()
    rest = await resumed.take(3)
    assert [m["data"]["data"]["title"] for m in rest] == ["slow", "three", "four"]
    ids = [m["id"] for m in first + rest]
    assert len(set(ids)) == len(ids)
    await _update(dispatcher, incident_id, "five")
    assert (await resumed.next())["data"]["data"]["title"] == "five"  # nothing repeated before it
    resumed.close()


async def test_an_organization_streams_only_what_it_may_read(world, database_url):
    from tests.pledge_world import pledge

    stream = await _open(world.owner.api, world.incident_id, database_url=database_url)
    assert (await pledge(world.other.api, world.call_id)).status == 201  # another organization's: never shown
    assert (await pledge(world.owner.api, world.call_id)).status == 201
    message = await stream.next()
    assert message["event"] == "pledge.created"
    assert message["data"]["data"]["organization_id"] == world.owner.id
    stream.close()


async def test_a_bad_position_is_a_400_and_an_unknown_incident_a_404(dispatcher):
    incident_id = await _incident(dispatcher)
    bad = await dispatcher.get(f"/v1/incidents/{incident_id}/stream", headers={"Last-Event-ID": "nope"})
    assert bad.status == 400
    missing = await dispatcher.get(f"/v1/incidents/{uuid.uuid4()}/stream")
    assert missing.status == 404
