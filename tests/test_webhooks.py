"""The subscription API: who subscribes, validation, ownership, If-Match, pause/resume, rotate, delete,
the webhook.* events, and secrets kept out of the logs."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import Api, incident_body, make_organization
from tests.personal_data import WATCH
from tests.webhook_world import subscribe, verify


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def problem(response, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def ok(response, status: int = 200) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incident(dispatcher: Api, code: str = "2023-DOKSURI-SZ") -> dict[str, Any]:
    return await ok(await dispatcher.post("/v1/incidents", json=incident_body(code=code)), 201)


async def deliveries(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    return (await ok(await api.get(f"/v1/webhooks/{webhook_id}/deliveries")))["items"]


# --- create ----------------------------------------------------------------------------------------


async def test_an_approved_organization_and_a_dispatcher_subscribe(dispatcher, organization, receiver):
    for api, owner in ((organization.api, organization.id), (dispatcher, None)):
        response = await api.post("/v1/webhooks", json={
            "url": receiver.url(), "event_types": ["call.*", "incident.opened"], "regions": ["3205"],
            "skills": ["boat_rescue"], "description": "蓝天救援队 值班",
        })
        created = await ok(response, 201)
        assert response.headers["Location"] == f"/v1/webhooks/{created['id']}"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["ETag"] == '"1"'
        assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
        assert (created["organization_id"], created["status"], created["version"]) == (owner, "active", 1)
        assert (created["event_types"], created["regions"], created["skills"]) == (
            ["call.*", "incident.opened"], ["3205"], ["boat_rescue"])

        read = await ok(await api.get(f"/v1/webhooks/{created['id']}"))
        assert "secret" not in read and created["secret"] not in str(read)
        assert read == {k: v for k, v in created.items() if k != "secret"}
        listed = await ok(await api.get("/v1/webhooks"))
        assert all("secret" not in item for item in listed["items"])
        assert created["secret"] not in str(listed)


async def test_viewers_and_unapproved_organizations_cannot_subscribe(dispatcher, viewer, conn, receiver):
    response = await viewer.post("/v1/webhooks", json={"url": receiver.url()})
    await problem(response, 403)
    pending = await make_organization(dispatcher, conn, 1, approve=False)
    body = await problem(await pending.api.post("/v1/webhooks", json={"url": receiver.url()}), 403)
    assert "approved" in body["detail"]
    assert await conn.fetchval("select count(*) from webhooks") == 0


@pytest.mark.parametrize(("body", "pointer"), [
    ({"event_types": ["pledges.*"]}, "/event_types/0"),
    ({"event_types": ["call.*", "weather"]}, "/event_types/1"),
    ({"event_types": []}, "/event_types"),
    ({"regions": ["3x05"]}, "/regions/0"),
    ({"regions": ["320500", "1"]}, "/regions/1"),
    ({"skills": ["juggling"]}, "/skills/0"),
    ({"url": "ftp://example.org/hook"}, "/url"),
    ({"url": "not a url"}, "/url"),
    ({"url": "http://user:pw@127.0.0.1/h"}, "/url"),
])
async def test_invalid_subscriptions_name_the_field(organization, receiver, conn, body, pointer):
    response = await organization.api.post("/v1/webhooks", json={"url": receiver.url(), **body})
    problem_body = await problem(response, 422)
    assert problem_body["errors"][0]["pointer"] == pointer, problem_body
    assert await conn.fetchval("select count(*) from webhooks") == 0


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/h", "http://10.0.0.1/h", "http://[::1]/h", "http://localhost/h", "http://192.168.1.20:8080/h",
])
async def test_development_with_private_addresses_allowed_accepts_local_receivers(organization, url):
    created = await subscribe(organization.api, url)
    assert created["url"] == url


async def test_cloud_metadata_is_refused_even_when_private_addresses_are_allowed(organization, receiver):
    for url in ("http://169.254.169.254/latest/meta-data", "http://[::ffff:169.254.169.254]/x"):
        body = await problem(await organization.api.post("/v1/webhooks", json={"url": url}), 422)
        assert body["errors"][0]["pointer"] == "/url"
        assert "metadata" in body["errors"][0]["detail"]
    hook = await subscribe(organization.api, receiver.url())
    response = await organization.api.patch(
        f"/v1/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/latest/meta-data"},
        headers={"If-Match": '"1"'})
    assert (await problem(response, 422))["errors"][0]["pointer"] == "/url"
    assert (await ok(await organization.api.get(f"/v1/webhooks/{hook['id']}")))["url"] == receiver.url()


# --- ownership -------------------------------------------------------------------------------------


async def test_an_organization_sees_and_changes_only_its_own(dispatcher, viewer, organization, conn, receiver):
    other = await make_organization(dispatcher, conn, 1)
    mine = await subscribe(organization.api, receiver.url("/mine"))
    theirs = await subscribe(other.api, receiver.url("/theirs"))
    bureau = await subscribe(dispatcher, receiver.url("/bureau"))

    path = f"/v1/webhooks/{theirs['id']}"
    await problem(await organization.api.get(path), 404)
    await problem(await organization.api.patch(path, json={"description": "x"}, headers={"If-Match": '"1"'}), 404)
    await problem(await organization.api.post(f"{path}/rotate"), 404)
    await problem(await organization.api.post(f"{path}/pause"), 404)
    await problem(await organization.api.post(f"{path}/test"), 404)
    await problem(await organization.api.get(f"{path}/deliveries"), 404)
    await problem(await organization.api.delete(path), 404)
    await problem(await organization.api.get(f"/v1/webhooks/{bureau['id']}"), 404)
    await problem(await organization.api.get(f"/v1/webhooks/{uuid.uuid4()}"), 404)
    row = await conn.fetchrow("select status, version from webhooks where id = $1", uuid.UUID(theirs["id"]))
    assert (row["status"], row["version"]) == ("active", 1)

    own = await ok(await organization.api.get("/v1/webhooks"))
    assert [w["id"] for w in own["items"]] == [mine["id"]]
    forced = await ok(await organization.api.get(f"/v1/webhooks?organization_id={other.id}"))
    assert [w["id"] for w in forced["items"]] == [mine["id"]]
    for staff in (dispatcher, viewer):
        everything = await ok(await staff.get("/v1/webhooks"))
        assert [w["id"] for w in everything["items"]] == [bureau["id"], theirs["id"], mine["id"]]
        filtered = await ok(await staff.get(f"/v1/webhooks?organization_id={other.id}"))
        assert [w["id"] for w in filtered["items"]] == [theirs["id"]]
    page = await ok(await dispatcher.get("/v1/webhooks?limit=2"))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await ok(await dispatcher.get(f"/v1/webhooks?limit=2&cursor={page['next_cursor']}"))
    assert [w["id"] for w in rest["items"]] == [mine["id"]] and rest["next_cursor"] is None


async def test_a_dispatcher_operates_but_does_not_edit_an_organizations_subscription(dispatcher, viewer, organization,
                                                                                      receiver, conn):
    hook = await subscribe(organization.api, receiver.url())
    path = f"/v1/webhooks/{hook['id']}"
    await problem(await dispatcher.patch(path, json={"description": "x"}, headers={"If-Match": '"1"'}), 403)
    await problem(await dispatcher.post(f"{path}/rotate"), 403)
    await problem(await viewer.post(f"{path}/pause"), 403)
    await problem(await viewer.delete(path), 403)
    assert (await ok(await dispatcher.post(f"{path}/pause")))["status"] == "paused"
    assert (await ok(await dispatcher.post(f"{path}/resume")))["status"] == "active"
    assert (await dispatcher.delete(path)).status == 204
    await problem(await organization.api.get(path), 404)
    assert await conn.fetchval("select count(*) from webhooks") == 0


# --- PATCH -----------------------------------------------------------------------------------------


async def test_patch_needs_if_match_changes_filters_and_bumps_the_version(organization, receiver):
    hook = await subscribe(organization.api, receiver.url(), event_types=["call.*"])
    path = f"/v1/webhooks/{hook['id']}"
    await problem(await organization.api.patch(path, json={"event_types": ["pledge.*"]}), 428)
    await problem(await organization.api.patch(path, json={"event_types": ["pledge.*"]},
                                               headers={"If-Match": '"7"'}), 412)
    incident_id = str(uuid.uuid4())
    response = await organization.api.patch(path, json={
        "event_types": ["pledge.*", "call.published", "pledge.*"], "regions": ["32"], "incidents": [incident_id],
        "description": "only pledges"}, headers={"If-Match": '"1"'})
    changed = await ok(response)
    assert response.headers["ETag"] == '"2"'
    assert {k: changed[k] for k in ("event_types", "regions", "incidents", "description", "version", "url")} == {
        "event_types": ["pledge.*", "call.published"], "regions": ["32"], "incidents": [incident_id],
        "description": "only pledges", "version": 2, "url": receiver.url()}
    assert "secret" not in changed
    await problem(await organization.api.patch(path, json={"description": "late"}, headers={"If-Match": '"1"'}), 412)
    await problem(await organization.api.patch(path, json={"event_types": ["nope"]}, headers={"If-Match": '"2"'}), 422)
    await problem(await organization.api.patch(path, json={"url": "gopher://x/"}, headers={"If-Match": '"2"'}), 422)
    assert (await ok(await organization.api.get(path)))["version"] == 2


# --- pause / resume --------------------------------------------------------------------------------


async def test_paused_deliveries_wait_and_go_out_on_resume(dispatcher, organization, receiver, worker):
    hook = await subscribe(organization.api, receiver.url(), event_types=["incident.*"])
    path = f"/v1/webhooks/{hook['id']}"
    paused = await ok(await organization.api.post(f"{path}/pause"))
    assert (paused["status"], paused["version"]) == ("paused", 2)
    body = await problem(await organization.api.post(f"{path}/pause"), 409)
    assert "paused" in body["detail"]

    incident = await open_incident(dispatcher)
    await dispatcher.post(f"/v1/incidents/{incident['id']}/close")
    assert await worker.tick() == 0
    assert receiver.received == []
    waiting = await deliveries(organization.api, hook["id"])
    assert sorted(d["event_type"] for d in waiting) == ["incident.closed", "incident.opened"]
    assert {(d["status"], d["attempt_count"]) for d in waiting} == {("pending", 0)}
    assert all(d["attempts"] == [] for d in waiting)

    resumed = await ok(await organization.api.post(f"{path}/resume"))
    assert (resumed["status"], resumed["version"]) == ("active", 3)
    await problem(await organization.api.post(f"{path}/resume"), 409)
    assert await worker.tick() == 2
    assert sorted(r.event["type"] for r in receiver.received) == ["incident.closed", "incident.opened"]
    for received in receiver.received:
        verify(hook["secret"], received)
    sent = await deliveries(organization.api, hook["id"])
    assert {(d["status"], d["attempt_count"]) for d in sent} == {("delivered", 1)}


async def test_deliveries_held_by_a_pause_do_not_keep_the_worker_polling(dispatcher, receiver, worker, settings):
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.*"])
    await ok(await dispatcher.post(f"/v1/webhooks/{hook['id']}/pause"))
    await open_incident(dispatcher)
    assert await worker.tick() == 0
    # Nothing can be sent until someone resumes: the worker should sleep its poll interval, not 50 ms.
    assert await worker._idle_wait() == settings.webhook_poll_interval


# --- rotate ----------------------------------------------------------------------------------------


async def test_rotation_signs_with_both_secrets_for_a_day(dispatcher, organization, receiver, worker, conn):
    hook = await subscribe(organization.api, receiver.url(), event_types=["incident.*"])
    response = await organization.api.post(f"/v1/webhooks/{hook['id']}/rotate")
    rotated = await ok(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    assert rotated["version"] == 2
    expires = when(rotated["previous_secret_expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(seconds=30)
    read = await ok(await organization.api.get(f"/v1/webhooks/{hook['id']}"))
    assert "secret" not in read and read["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]

    await open_incident(dispatcher)
    assert await worker.tick() == 1
    (received,) = receiver.received
    signatures = received.headers["webhook-signature"].split()
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verify(hook["secret"], received)["type"] == "incident.opened"
    assert verify(rotated["secret"], received)["type"] == "incident.opened"

    # Once the grace period is over only the new secret signs.
    await conn.execute("update webhooks set previous_secret_expires_at = now() - interval '1 second'")
    await open_incident(dispatcher, "2023-DOKSURI-BJ")
    assert await worker.tick() == 1
    latest = receiver.received[-1]
    assert len(latest.headers["webhook-signature"].split()) == 1
    verify(rotated["secret"], latest)
    with pytest.raises(WebhookVerificationError):
        verify(hook["secret"], latest)


# --- delete ----------------------------------------------------------------------------------------


async def test_delete_unsubscribes(organization, receiver, conn):
    hook = await subscribe(organization.api, receiver.url())
    response = await organization.api.delete(f"/v1/webhooks/{hook['id']}")
    assert response.status == 204
    await problem(await organization.api.get(f"/v1/webhooks/{hook['id']}"), 404)
    await problem(await organization.api.delete(f"/v1/webhooks/{hook['id']}"), 404)
    assert (await ok(await organization.api.get("/v1/webhooks")))["items"] == []
    assert await conn.fetchval("select count(*) from webhooks") == 0


@pytest.mark.parametrize("answer", [200, 500, 410])
async def test_deleting_a_subscription_while_its_delivery_is_in_flight(dispatcher, receiver, worker, answer):
    doomed = await subscribe(dispatcher, receiver.url("/doomed"), event_types=["incident.*"])
    kept = await subscribe(dispatcher, receiver.url("/kept"), event_types=["incident.*"])
    receiver.answers["/doomed"] = [answer]
    await open_incident(dispatcher)
    await worker.step()  # both deliveries claimed and on their way
    assert len(worker.in_flight) == 2
    assert (await dispatcher.delete(f"/v1/webhooks/{doomed['id']}")).status == 204
    await asyncio.gather(*worker.in_flight)
    await worker.flush()  # the attempt of a delivery that is gone is dropped, the others recorded
    (delivery,) = await deliveries(dispatcher, kept["id"])
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 1)
    await open_incident(dispatcher, "2023-DOKSURI-BJ")
    assert await worker.tick() == 1
    assert sorted(d["status"] for d in await deliveries(dispatcher, kept["id"])) == ["delivered", "delivered"]
    assert len(receiver.at("/doomed")) == 1 and len(receiver.at("/kept")) == 2


# --- events ----------------------------------------------------------------------------------------


async def test_every_change_is_a_webhook_event(dispatcher, organization, receiver):
    hook = await subscribe(organization.api, receiver.url())
    path = f"/v1/webhooks/{hook['id']}"
    await ok(await organization.api.patch(path, json={"description": "d"}, headers={"If-Match": '"1"'}))
    rotated = await ok(await organization.api.post(f"{path}/rotate"))
    await ok(await organization.api.post(f"{path}/pause"))
    await ok(await dispatcher.post(f"{path}/resume"))
    assert (await organization.api.delete(path)).status == 204

    page = await ok(await dispatcher.get(f"/v1/events?entity_id={hook['id']}"))
    events = list(reversed(page["items"]))
    assert [e["type"] for e in events] == [
        "webhook.created", "webhook.updated", "webhook.rotated", "webhook.paused", "webhook.resumed",
        "webhook.deleted"]
    assert {e["entity"]["type"] for e in events} == {"webhook"}
    assert [e["actor"]["role"] for e in events] == ["organization"] * 4 + ["dispatcher", "organization"]
    assert events[1]["before"]["description"] == "" and events[1]["after"]["description"] == "d"
    assert events[-1]["after"] is None and events[-1]["before"]["id"] == hook["id"]
    for secret in (hook["secret"], rotated["secret"]):
        assert secret not in str(page)
    family = await ok(await dispatcher.get("/v1/events?type=webhook.*"))
    assert len(family["items"]) == 6
    await problem(await organization.api.get("/v1/events"), 403)


# --- secrets stay out of the logs ------------------------------------------------------------------


async def test_webhook_secrets_never_reach_the_logs(organization, dispatcher, receiver, worker, caplog):
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    rendered = io.StringIO()
    handler = logging.StreamHandler(rendered)
    handler.setFormatter(root.handlers[0].formatter)  # the JSON lines the service writes
    root.addHandler(handler)
    try:
        hook = await subscribe(organization.api, receiver.url("/a"), event_types=["incident.*"])
        rotated = await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/rotate"))
        receiver.answers["/a"] = [500]
        await open_incident(dispatcher)
        await worker.tick()
        worker.clock.advance(seconds=10)
        await worker.tick()
        await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/test"), 202)
        worker.clock.advance(seconds=10)
        await worker.tick()
    finally:
        root.removeHandler(handler)
    assert [r.event["type"] for r in receiver.received] == ["incident.opened", "incident.opened", "webhook.test"]
    logged = "\n".join([rendered.getvalue(), caplog.text, *WATCH.log])
    assert '"event": "request"' in rendered.getvalue()  # the capture works: request lines were logged
    for secret in (hook["secret"], rotated["secret"]):
        assert secret not in logged
        assert secret.removeprefix("whsec_") not in logged
        assert secret.removeprefix("whsec_")[:16] not in logged


async def test_an_organization_cannot_read_anothers_deliveries_or_retry_them(dispatcher, organization, receiver,
                                                                            worker, conn):
    other = await make_organization(dispatcher, conn, 1)
    hook = await subscribe(other.api, receiver.url(), event_types=["incident.*"])
    await open_incident(dispatcher)
    await worker.tick()
    (delivery,) = await deliveries(other.api, hook["id"])
    await problem(await organization.api.post(f"/v1/deliveries/{delivery['id']}/retry"), 404)
    await problem(await organization.api.post(f"/v1/deliveries/{uuid.uuid4()}/retry"), 404)
    assert len(await deliveries(dispatcher, hook["id"])) == 1
