"""Signed delivery: what receivers get, and what they do with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import incident_body
from tests.webhook_world import subscribe, verify


async def test_a_receiver_verifying_with_standardwebhooks_accepts_every_delivery(dispatcher, receiver, worker):
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.*"])
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    incident = await response.json()
    await dispatcher.post(f"/v1/incidents/{incident['id']}/close")

    assert await worker.tick() == 2
    assert sorted(r.event["type"] for r in receiver.received) == ["incident.closed", "incident.opened"]
    for received in receiver.received:
        event = verify(hook["secret"], received)
        assert event["incident_id"] == incident["id"]
        assert event["data"]["id"] == incident["id"]
        assert set(event) == {"id", "type", "timestamp", "incident_id", "data"}
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 2


async def test_a_tampered_body_or_an_old_timestamp_is_rejected(dispatcher, receiver, worker):
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    await dispatcher.post("/v1/incidents", json=incident_body())
    await worker.tick()
    (received,) = receiver.received
    verify(hook["secret"], received)

    tampered = type(received)(received.path, received.headers, received.body.replace("II", "I"))
    with pytest.raises(WebhookVerificationError):
        verify(hook["secret"], tampered)
    old = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
    replayed = type(received)(received.path, {**received.headers, "webhook-timestamp": str(old)}, received.body)
    with pytest.raises(WebhookVerificationError):
        verify(hook["secret"], replayed)
    other = await subscribe(dispatcher, receiver.url("/other"), event_types=["call.*"])
    with pytest.raises(WebhookVerificationError):
        verify(other["secret"], received)
