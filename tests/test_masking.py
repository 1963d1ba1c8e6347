"""One masking rule, every channel: REST, the live stream, webhooks, exports and the audit trail.

One fixture (a lead's phone, an organization's contact phone, a resident's phone) is driven through
each channel a viewer, another organization or the outside can read; the full numbers must appear in
none of them, and the masked forms must appear where the channel shows the field at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from relief.masking import OUTSIDE, Audience, mask_phone, shown
from tests.pledge_world import new_call, ok, personnel_call, personnel_pledge, pledge
from tests.test_shelters import register
from tests.webhook_world import subscribe

LEAD = "13900001111"
CONTACT = "13912345678"  # organization_body()'s contact phone
RESIDENT = "13855556666"
FULL = (LEAD, CONTACT, RESIDENT)


def _leaks(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    return [phone for phone in FULL if phone in text and phone not in allowed]


async def _read_stream(api: Any, incident_id: str, until: str, *, after: str) -> str:
    """The stream's text from position `after` until an event of type `until` arrives (5 s at most)."""
    response = await api.client.get(
        f"/v1/incidents/{incident_id}/stream",
        headers={"Authorization": f"Bearer {api.key}", "Last-Event-ID": after},
    )
    assert response.status == 200
    text = ""
    try:
        async with asyncio.timeout(5):
            while f"event: {until}" not in text:
                text += (await response.content.readany()).decode()
    finally:
        response.close()
    return text


async def test_no_channel_shows_a_viewer_or_another_organization_what_rest_hides(world, receiver, worker, conn):
    from relief import events

    head = await events.current_head(conn)
    bureau_hook = await subscribe(world.dispatcher, receiver.url("/bureau"), event_types=["*"])
    other_hook = await subscribe(world.other.api, receiver.url("/other"), event_types=["*"])
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    created = await ok(await pledge(world.owner.api, call_id, personnel_pledge(lead={"name": "李队长", "phone": LEAD})),
                       201)
    await register(world.dispatcher, world.incident_id, 1, phone=RESIDENT)
    await ok(await world.dispatcher.post(f"/v1/pledges/{created['id']}/accept"))

    # REST: the viewer and the other organization see masks; the owner and dispatchers see the number.
    viewer_pledge = await ok(await world.viewer.get(f"/v1/pledges/{created['id']}"))
    assert viewer_pledge["lead"]["phone"] == mask_phone(LEAD) == "139****1111"
    owner_pledge = await ok(await world.owner.api.get(f"/v1/pledges/{created['id']}"))
    assert owner_pledge["lead"]["phone"] == LEAD
    reads = {
        "viewer pledges": await world.viewer.get(f"/v1/calls/{call_id}/pledges"),
        "viewer pledge list": await world.viewer.get("/v1/pledges"),
        "viewer organizations": await world.viewer.get("/v1/organizations"),
        "viewer organization": await world.viewer.get(f"/v1/organizations/{world.owner.id}"),
        "viewer residents": await world.viewer.get(f"/v1/incidents/{world.incident_id}/residents"),
        "dispatcher residents": await world.dispatcher.get(f"/v1/incidents/{world.incident_id}/residents"),
        "other's pledges": await world.other.api.get("/v1/pledges"),
        "public": await world.viewer.get(f"/v1/public/incidents/{world.incident_id}"),
    }
    for name in ("pledges.csv", "donations.csv", "evacuations.csv"):
        reads[f"viewer {name}"] = await world.viewer.get(f"/v1/incidents/{world.incident_id}/exports/{name}")
    for where, response in reads.items():
        text = await response.text()
        assert response.status == 200, (where, text)
        assert not _leaks(text), f"{where} shows {_leaks(text)}"
    assert "139****1111" in await reads["viewer pledges"].text()
    assert "139****5678" in await reads["viewer organization"].text()
    assert "138****6666" in await reads["viewer residents"].text()

    # The live stream: the viewer's is masked; the other organization's holds no lead at all.
    viewer_stream = await _read_stream(world.viewer, world.incident_id, "pledge.accepted", after=head)
    assert "pledge.created" in viewer_stream and "139****1111" in viewer_stream
    assert not _leaks(viewer_stream), f"the viewer's stream shows {_leaks(viewer_stream)}"
    owner_stream = await _read_stream(world.owner.api, world.incident_id, "pledge.accepted", after=head)
    assert LEAD in owner_stream and not _leaks(owner_stream, allowed=(LEAD,))
    other_stream = await _read_stream(world.other.api, world.incident_id, "call.published", after=head)
    assert "李队长" not in other_stream and not _leaks(other_stream)

    # Webhooks leave the building: masked for every subscriber, the bureau's included.
    await worker.tick()
    bureau = [r for r in receiver.received if r.path == "/bureau"]
    other = [r for r in receiver.received if r.path == "/other"]
    assert {"pledge.created", "pledge.accepted", "resident.registered"} <= {r.event["type"] for r in bureau}
    assert bureau and other
    for received in bureau + other:
        assert not _leaks(received.body), f"{received.path} got {_leaks(received.body)} in {received.event['type']}"
    assert not any(r.event["type"].startswith("pledge.") for r in other)
    assert bureau_hook["id"] and other_hook["id"]

    # The audit trail is the dispatchers' own: it shows what they may read through REST.
    trail = await ok(await world.dispatcher.get(f"/v1/incidents/{world.incident_id}/events?type=pledge.created"))
    assert trail["items"][0]["after"]["lead"]["phone"] == LEAD
    assert RESIDENT not in str(await ok(await world.dispatcher.get("/v1/events?type=resident.*")))


def test_the_rule_itself() -> None:
    """Who sees what, on the documents every channel passes through it."""
    import uuid

    org = uuid.uuid4()
    pledge_doc = {"organization_id": str(org), "lead": {"name": "李", "phone": LEAD}}
    assert shown("pledge", pledge_doc, OUTSIDE)["lead"]["phone"] == "139****1111"
    assert shown("pledge", pledge_doc, Audience(organization_id=org)) is pledge_doc
    assert shown("pledge", pledge_doc, Audience(organization_id=uuid.uuid4()))["lead"]["phone"] == "139****1111"
    assert shown("pledge", pledge_doc, Audience(sees_contacts=True)) is pledge_doc
    assert pledge_doc["lead"]["phone"] == LEAD  # the stored document is never changed
    resident_doc = {"phone": RESIDENT}
    assert shown("resident", resident_doc, Audience(sees_contacts=True)) == {"phone": "138****6666"}
    assert shown("organization", {"id": str(org), "contact": {"phone": CONTACT}}, OUTSIDE) == {
        "id": str(org), "contact": {"phone": "139****5678"}}
    assert shown("incident", {"phone": LEAD}, OUTSIDE) == {"phone": LEAD}  # no personal field there
