"""A suspended organization's subscriptions are held: nothing is sent, nothing changes, nothing is lost."""

from __future__ import annotations

from tests.conftest import incident_body
from tests.webhook_world import subscribe, verify


async def test_suspension_holds_deliveries_and_changes_until_approval(dispatcher, organization, receiver, worker):
    team = organization.api
    active = await subscribe(team, receiver.url("/active"), event_types=["incident.*"])
    paused = await subscribe(team, receiver.url("/paused"), event_types=["incident.*"])
    assert (await team.post(f"/v1/webhooks/{paused['id']}/pause")).status == 200
    response = await dispatcher.post(f"/v1/organizations/{organization.id}/suspend")
    assert response.status == 200, await response.text()

    # Events that match while suspended are fanned out and kept, but not sent.
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    await dispatcher.post(f"/v1/incidents/{incident['id']}/close")
    await worker.tick()
    assert [r.path for r in receiver.received] == []
    held = await (await dispatcher.get(f"/v1/webhooks/{active['id']}")).json()
    assert held["held"] is True and held["status"] == "active"
    deliveries = await (await dispatcher.get(f"/v1/webhooks/{active['id']}/deliveries")).json()
    assert sorted(d["status"] for d in deliveries["items"]) == ["pending", "pending"]
    # Held is not late: /metrics' delivery lag (a stalled worker's alarm) does not count them.
    metrics = await (await dispatcher.get("/metrics")).text()
    assert "relief_webhook_delivery_lag_seconds 0.0" in metrics
    assert "relief_webhook_pending_deliveries 4.0" in metrics

    # The organization may read its subscriptions but change none of them, nor make one send.
    version = held["version"]
    refused = [
        await team.patch(f"/v1/webhooks/{active['id']}", json={"description": "x"},
                         headers={"If-Match": f'"{version}"'}),
        await team.post(f"/v1/webhooks/{active['id']}/test"),
        await team.post(f"/v1/webhooks/{active['id']}/rotate"),
        await team.post(f"/v1/webhooks/{active['id']}/pause"),
        await team.post(f"/v1/webhooks/{paused['id']}/resume"),
        await team.delete(f"/v1/webhooks/{active['id']}"),
        await team.post(f"/v1/deliveries/{deliveries['items'][0]['id']}/retry"),
        await team.post("/v1/webhooks", json={"url": receiver.url("/new"), "event_types": ["*"]}),
    ]
    assert [r.status for r in refused] == [403] * len(refused)
    assert (await team.get(f"/v1/webhooks/{active['id']}")).status == 200
    await worker.tick()
    assert receiver.received == []

    # Approval restores each subscription to the status it had: the active one gets what it missed,
    # in full and signed; the paused one stays paused, its deliveries still waiting.
    assert (await dispatcher.post(f"/v1/organizations/{organization.id}/approve")).status == 200
    await worker.tick()
    got = sorted((r.path, r.event["type"]) for r in receiver.received)
    assert got == [("/active", "incident.closed"), ("/active", "incident.opened")]
    for received in receiver.received:
        verify(active["secret"], received)
    after = await (await team.get(f"/v1/webhooks/{paused['id']}")).json()
    assert after["status"] == "paused" and after["held"] is False
    assert (await team.post(f"/v1/webhooks/{paused['id']}/resume")).status == 200
    await worker.tick()
    assert sorted(r.path for r in receiver.received).count("/paused") == 2
