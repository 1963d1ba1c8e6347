"""Subscriptions in the CAP format: alerts delivered as CAP 1.2 documents, signed like every delivery
(issue 15, item 6)."""

from __future__ import annotations

from lxml import etree
from standardwebhooks import Webhook as Verifier

from tests.test_alerts import SCHEMA, alert_body, broadcast, new_incident
from tests.webhook_world import subscribe

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


async def test_a_cap_subscription_receives_each_alert_as_a_signed_valid_cap_document(
    dispatcher, organization, receiver, worker
):
    hook = await subscribe(organization.api, receiver.url("/cap"), event_types=["alert.*"], format="cap")
    assert hook["format"] == "cap"
    json_hook = await subscribe(organization.api, receiver.url("/json"), event_types=["alert.*"])
    incident = await new_incident(dispatcher)
    alert = await broadcast(dispatcher, incident)
    cancel = await dispatcher.post(f"/v1/incidents/{incident}/alerts", json=alert_body(
        msg_type="Cancel", references=alert["id"], headline="转移令解除", urgency="Past", severity="Minor",
        response_type="AllClear"))
    assert cancel.status == 201, await cancel.text()
    ack = await organization.api.post(f"/v1/alerts/{alert['id']}/acks", json={"status": "received"})
    assert ack.status == 200, await ack.text()
    await worker.tick()

    documents = receiver.at("/cap")
    assert len(documents) == 2  # the alert and its cancel; an acknowledgement is no CAP message
    for received in documents:
        assert received.headers["Content-Type"] == "application/cap+xml"
        # The same Standard Webhooks signature, over the XML's bytes (json_parse=False: it is not JSON).
        Verifier(hook["secret"]).verify(received.body, received.headers, json_parse=False)
        SCHEMA.assertValid(etree.fromstring(received.body.encode()))
    kinds = sorted(etree.fromstring(r.body.encode()).findtext(f"{CAP}msgType") for r in documents)
    assert kinds == ["Alert", "Cancel"]
    # The JSON subscription beside it gets the envelope of all three events, as before.
    assert sorted(r.event["type"] for r in receiver.at("/json")) == [
        "alert.acknowledged", "alert.broadcast", "alert.broadcast"]
    assert json_hook["format"] == "json"


async def test_a_cap_subscription_takes_alerts_only(organization, receiver):
    for types in (["*"], ["incident.*"], ["alert.broadcast", "call.published"]):
        response = await organization.api.post("/v1/webhooks", json={
            "url": receiver.url(), "event_types": types, "format": "cap"})
        assert response.status == 422, (types, await response.text())
        assert "CAP" in (await response.json())["detail"] + str((await response.json()).get("errors"))
    hook = await subscribe(organization.api, receiver.url(), event_types=["alert.broadcast"], format="cap")
    path = f"/v1/webhooks/{hook['id']}"
    widened = await organization.api.patch(path, json={"event_types": ["incident.*"]},
                                           headers={"If-Match": f'"{hook["version"]}"'})
    assert widened.status == 422, await widened.text()
    assert (await widened.json())["errors"][0]["pointer"] == "/event_types"
    as_json = await organization.api.patch(path, json={"format": "json", "event_types": ["incident.*"]},
                                           headers={"If-Match": f'"{hook["version"]}"'})
    assert as_json.status == 200, await as_json.text()
    assert (await as_json.json())["format"] == "json"
