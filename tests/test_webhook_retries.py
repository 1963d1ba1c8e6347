"""The retry schedule, driven by the worker's `clock`: Standard Webhooks waits with jitter, Retry-After,
giving up, manual retries, disabling on 410 or days of failures, redirects, tests and refused connections."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from notifications import schedule
from tests.conftest import Api, incident_body, make_organization
from tests.webhook_world import subscribe, verify


def when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def ok(response, status: int = 200) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incident(dispatcher: Api) -> dict[str, Any]:
    body = incident_body(code=f"T-{uuid.uuid4().hex[:10]}")
    return await ok(await dispatcher.post("/v1/incidents", json=body), 201)


async def the_delivery(api: Api, webhook_id: str) -> dict[str, Any]:
    page = await ok(await api.get(f"/v1/webhooks/{webhook_id}/deliveries"))
    (delivery,) = page["items"]
    return delivery


async def read(api: Api, webhook_id: str) -> dict[str, Any]:
    return await ok(await api.get(f"/v1/webhooks/{webhook_id}"))


def assert_waited(delivery: dict[str, Any], now: datetime, step: timedelta) -> None:
    """next_attempt_at is `step` after `now`, stretched by the jitter and no more."""
    due = when(delivery["next_attempt_at"])
    assert now + step <= due <= now + step * (1 + schedule.JITTER) + timedelta(milliseconds=1), (due - now, step)


async def test_three_failures_then_success_follows_the_schedule(dispatcher, receiver, worker, clock):
    """ACCEPTANCE: 500, 500, 500, then 200: four requests, one webhook-id, waits of 5 s, 5 min, 30 min."""
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    receiver.answers["/hook"] = [500, 500, 500]
    await open_incident(dispatcher)

    assert await worker.tick() == 1
    for failures, step in enumerate((timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30)), start=1):
        delivery = await the_delivery(dispatcher, hook["id"])
        assert (delivery["status"], delivery["attempt_count"], delivery["last_status_code"]) == (
            "pending", failures, 500)
        assert_waited(delivery, clock.now, step)
        due = when(delivery["next_attempt_at"])
        clock.now = due - timedelta(milliseconds=1)
        assert await worker.tick() == 0
        assert len(receiver.received) == failures
        clock.now = due
        assert await worker.tick() == 1
        assert len(receiver.received) == failures + 1

    assert len(receiver.received) == 4
    assert {r.path for r in receiver.received} == {"/hook"}
    delivery = await the_delivery(dispatcher, hook["id"])
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["id"]}
    for received in receiver.received:
        assert verify(hook["secret"], received)["type"] == "incident.opened"
        # Signed with the real time, not the fake clock (which is half an hour ahead by now).
        assert abs(int(received.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 10
    assert (delivery["status"], delivery["attempt_count"], delivery["next_attempt_at"]) == ("delivered", 4, None)
    assert delivery["delivered_at"] is not None and delivery["last_status_code"] == 200
    attempts = delivery["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4]
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    assert [a["response_body"] for a in attempts] == ["answer 500"] * 3 + ["answer 200"]
    assert [a["error"] for a in attempts] == ["HTTP 500"] * 3 + [None]
    assert all(a["latency_ms"] >= 0 for a in attempts)
    assert (await read(dispatcher, hook["id"]))["failing_since"] is None
    assert await worker.tick() == 0
    assert len(receiver.received) == 4


async def test_ten_failures_mark_it_failed_and_a_manual_retry_sends_it_again(dispatcher, organization, receiver,
                                                                              worker, clock):
    hook = await subscribe(organization.api, receiver.url(), event_types=["incident.opened"])
    receiver.answers["/hook"] = [500] * schedule.ATTEMPTS
    incident = await open_incident(dispatcher)
    for number in range(1, schedule.ATTEMPTS + 1):
        assert await worker.tick() == 1, number
        delivery = await the_delivery(organization.api, hook["id"])
        assert delivery["attempt_count"] == number
        if number < schedule.ATTEMPTS:
            assert delivery["status"] == "pending"
            assert_waited(delivery, clock.now, schedule.SCHEDULE[number])
            clock.now = when(delivery["next_attempt_at"])
    assert (delivery["status"], delivery["next_attempt_at"], delivery["last_status_code"]) == ("failed", None, 500)
    assert len(delivery["attempts"]) == schedule.ATTEMPTS == 10
    clock.advance(days=1)
    assert await worker.tick() == 0
    assert len(receiver.received) == 10
    assert (await read(organization.api, hook["id"]))["status"] == "active"  # about 3.5 days < 5 days

    response = await dispatcher.post(f"/v1/deliveries/{delivery['id']}/retry")
    assert response.status == 403  # an organization's delivery log is its own to drive
    retried = await ok(await organization.api.post(f"/v1/deliveries/{delivery['id']}/retry"), 202)
    assert (retried["id"], retried["status"], retried["attempt_count"]) == (delivery["id"], "pending", 10)
    assert await worker.tick() == 1
    assert len(receiver.received) == 11
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["id"]}
    verify(hook["secret"], receiver.received[-1])
    assert receiver.received[-1].event["incident_id"] == incident["id"]
    delivery = await the_delivery(organization.api, hook["id"])
    assert (delivery["status"], delivery["attempt_count"], delivery["last_status_code"]) == ("delivered", 11, 200)
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * 10 + [200]
    assert await worker.tick() == 0


async def test_410_gone_disables_the_subscription_and_tells_its_owner(dispatcher, organization, receiver, worker,
                                                                      clock, conn):
    gone = await subscribe(organization.api, receiver.url("/gone"), event_types=["incident.*"])
    owner = await subscribe(organization.api, receiver.url("/owner"), event_types=["webhook.*"])
    bureau = await subscribe(dispatcher, receiver.url("/bureau"), event_types=["webhook.disabled"])
    stranger = await make_organization(dispatcher, conn, 1)
    await subscribe(stranger.api, receiver.url("/stranger"), event_types=["webhook.*"])
    receiver.answers["/gone"] = [410]
    await open_incident(dispatcher)

    await worker.tick()
    await worker.tick()
    disabled = await read(organization.api, gone["id"])
    assert disabled["status"] == "disabled"
    assert "410" in disabled["disabled_reason"]
    events = (await ok(await dispatcher.get("/v1/events?type=webhook.disabled")))["items"]
    assert [(e["entity"]["id"], e["actor"]["role"]) for e in events] == [(gone["id"], "system")]
    assert events[0]["after"]["status"] == "disabled"

    # (A subscription to webhook.* also gets its own webhook.created.)
    told = [r for r in receiver.at("/owner") if r.event["data"]["id"] != owner["id"]]
    assert [r.event["type"] for r in told] == ["webhook.disabled"]
    event = verify(owner["secret"], told[0])
    assert event["data"]["id"] == gone["id"] and "410" in event["data"]["disabled_reason"]
    assert [r.event["type"] for r in receiver.at("/bureau")] == ["webhook.disabled"]
    verify(bureau["secret"], receiver.at("/bureau")[0])
    assert [r.event["type"] for r in receiver.at("/stranger") if r.event["data"]["id"] == gone["id"]] == []

    # Disabled: new events are not even queued for it.
    second = await open_incident(dispatcher)
    clock.advance(minutes=1)
    await worker.tick()
    assert len(receiver.at("/gone")) == 1
    resumed = await ok(await organization.api.post(f"/v1/webhooks/{gone['id']}/resume"))
    assert (resumed["status"], resumed["disabled_reason"]) == ("active", None)
    third = await open_incident(dispatcher)
    clock.advance(minutes=1)
    await worker.tick()
    # The delivery that got the 410 goes out again (same webhook-id), and the new event; not the one from
    # while it was disabled.
    first, *after_resume = receiver.at("/gone")
    again = {r.event["incident_id"]: r.headers["webhook-id"] for r in after_resume}
    assert len(after_resume) == 2 and second["id"] not in again
    assert again[first.event["incident_id"]] == first.headers["webhook-id"]
    assert third["id"] in again
    assert (await read(organization.api, gone["id"]))["status"] == "active"


@pytest.mark.parametrize(("status", "retry_after", "wait"), [
    (429, "120", timedelta(seconds=120)),
    (503, "date+180", timedelta(seconds=180)),
    (429, "999999", schedule.MAX_RETRY_AFTER),
    (429, "1", timedelta(seconds=5)),  # shorter than the schedule: the schedule wins
    (429, "99999999999999999999", schedule.MAX_RETRY_AFTER),  # a receiver's nonsense is capped
    (503, "²", timedelta(seconds=5)),  # str.isdigit() but not a number: unreadable, so the schedule
    (503, "soon", timedelta(seconds=5)),
], ids=["seconds", "http-date", "capped", "schedule-wins", "huge", "superscript-digit", "unreadable"])
async def test_retry_after_is_honoured(dispatcher, receiver, worker, clock, status, retry_after, wait):
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    if retry_after.startswith("date+"):
        retry_after = format_datetime(clock.now + timedelta(seconds=int(retry_after[5:])), usegmt=True)
    receiver.answers["/hook"] = [(status, {"Retry-After": retry_after})]
    await open_incident(dispatcher)
    assert await worker.tick() == 1
    delivery = await the_delivery(dispatcher, hook["id"])
    due = when(delivery["next_attempt_at"])
    assert due >= clock.now + wait - timedelta(seconds=1), due - clock.now  # an HTTP date has whole seconds
    assert due <= clock.now + max(wait, timedelta(seconds=5.5)), due - clock.now
    clock.now = due - timedelta(milliseconds=1)
    assert await worker.tick() == 0
    clock.now = due
    assert await worker.tick() == 1
    assert (await the_delivery(dispatcher, hook["id"]))["status"] == "delivered"


async def test_an_absurd_retry_after_loses_no_other_result(dispatcher, receiver, worker, clock):
    odd = await subscribe(dispatcher, receiver.url("/odd"), event_types=["incident.opened"])
    fine = await subscribe(dispatcher, receiver.url("/fine"), event_types=["incident.opened"])
    receiver.answers["/odd"] = [(429, {"Retry-After": "1" + "0" * 30})]
    await open_incident(dispatcher)
    assert await worker.tick() == 2
    assert (await the_delivery(dispatcher, fine["id"]))["status"] == "delivered"
    delivery = await the_delivery(dispatcher, odd["id"])
    assert (delivery["status"], delivery["attempt_count"], delivery["last_status_code"]) == ("pending", 1, 429)
    assert when(delivery["next_attempt_at"]) == clock.now + schedule.MAX_RETRY_AFTER
    clock.advance(minutes=5)
    assert await worker.tick() == 0  # the delivered one is not sent again
    assert [len(receiver.at(p)) for p in ("/odd", "/fine")] == [1, 1]


@pytest.mark.parametrize("answer", [
    gzip.compress(b"received " * 50),  # what a gzip-on proxy answers the worker's Accept-Encoding: gzip
    b"ok\x00\x00 binary",
], ids=["gzip", "nul-bytes"])
async def test_a_compressed_or_binary_answer_is_logged_and_loses_nothing(dispatcher, receiver, worker,
                                                                        aiohttp_server, answer):
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        headers = {"Content-Encoding": "gzip"} if answer.startswith(b"\x1f\x8b") else {}
        return web.Response(body=answer, headers=headers, content_type="text/plain")

    app = web.Application()
    app.router.add_post("/gz", handle)
    server = await aiohttp_server(app)
    odd = await subscribe(dispatcher, f"http://127.0.0.1:{server.port}/gz", event_types=["incident.opened"])
    fine = await subscribe(dispatcher, receiver.url("/fine"), event_types=["incident.opened"])
    await open_incident(dispatcher)
    assert await worker.tick() == 2
    for hook in (odd, fine):
        delivery = await the_delivery(dispatcher, hook["id"])
        assert (delivery["status"], delivery["attempt_count"], delivery["last_status_code"]) == ("delivered", 1, 200)
    (attempt,) = (await the_delivery(dispatcher, odd["id"]))["attempts"]
    assert attempt["response_body"] is not None and "\x00" not in attempt["response_body"]
    assert await worker.tick() == 0
    assert len(receiver.at("/fine")) == 1


async def test_a_receiver_failing_for_days_is_disabled(settings, dispatcher, organization, receiver, worker, clock):
    assert settings.webhook_disable_after_hours == 120
    hook = await subscribe(organization.api, receiver.url(), event_types=["incident.opened"])
    told = await subscribe(organization.api, receiver.url("/told"), event_types=["webhook.disabled"])
    receiver.answers["/hook"] = [500] * 100
    started = clock.now
    await open_incident(dispatcher)
    await worker.tick()
    failing = await read(organization.api, hook["id"])
    assert when(failing["failing_since"]) == started
    # The first delivery runs through its ten attempts (about 3.5 days): still not disabled.
    while (delivery := await the_delivery(organization.api, hook["id"]))["status"] == "pending":
        clock.now = when(delivery["next_attempt_at"])
        await worker.tick()
    assert delivery["status"] == "failed"
    assert clock.now - started < timedelta(hours=120)
    assert (await read(organization.api, hook["id"]))["status"] == "active"

    # Another event, failing just before the five days are up: still active.
    clock.now = started + timedelta(hours=119)
    await open_incident(dispatcher)
    await worker.tick()
    assert (await read(organization.api, hook["id"]))["status"] == "active"
    clock.now = started + timedelta(hours=121)
    await worker.tick()  # its retry, due long ago, fails past the limit
    disabled = await read(organization.api, hook["id"])
    assert disabled["status"] == "disabled"
    assert "failed since" in disabled["disabled_reason"]
    await worker.tick()
    assert [r.event["type"] for r in receiver.at("/told")] == ["webhook.disabled"]
    assert verify(told["secret"], receiver.at("/told")[0])["data"]["id"] == hook["id"]
    events = (await ok(await dispatcher.get(f"/v1/events?type=webhook.disabled&entity_id={hook['id']}")))["items"]
    assert len(events) == 1


async def test_a_redirect_is_a_failure_and_is_not_followed(dispatcher, receiver, worker):
    hook = await subscribe(dispatcher, receiver.url("/moved"), event_types=["incident.opened"])
    receiver.answers["/moved"] = [(302, {"Location": receiver.url("/elsewhere")})]
    await open_incident(dispatcher)
    assert await worker.tick() == 1
    assert [r.path for r in receiver.received] == ["/moved"]
    delivery = await the_delivery(dispatcher, hook["id"])
    assert (delivery["status"], delivery["last_status_code"], delivery["attempt_count"]) == ("pending", 302, 1)
    assert delivery["attempts"][0]["error"] == "HTTP 302"


async def test_a_test_delivery_goes_to_that_subscription_alone_even_paused(organization, receiver, worker, clock):
    hook = await subscribe(organization.api, receiver.url("/tested"), event_types=["webhook.*"])
    other = await subscribe(organization.api, receiver.url("/other"), event_types=["*"])
    await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/pause"))
    response = await organization.api.post(f"/v1/webhooks/{hook['id']}/test")
    delivery = await ok(response, 202)
    assert (delivery["event_type"], delivery["status"]) == ("webhook.test", "pending")
    assert delivery["webhook_id"] == hook["id"]
    clock.advance(seconds=2)  # the fixture's clock was read before the request stamped next_attempt_at
    await worker.tick()
    (received,) = receiver.at("/tested")
    assert received.path == "/tested"
    event = verify(hook["secret"], received)
    assert event["type"] == "webhook.test" and event["data"]["webhook_id"] == hook["id"]
    assert received.headers["webhook-id"] == delivery["id"]
    page = await ok(await organization.api.get(f"/v1/webhooks/{hook['id']}/deliveries?event_type=webhook.test"))
    assert [(d["id"], d["status"]) for d in page["items"]] == [(delivery["id"], "delivered")]
    # Its webhook.* deliveries (its own and the other's creation, its pause) wait for the resume.
    page = await ok(await organization.api.get(f"/v1/webhooks/{hook['id']}/deliveries?status=pending"))
    assert sorted(d["event_type"] for d in page["items"]) == ["webhook.created", "webhook.created", "webhook.paused"]
    others = (await ok(await organization.api.get(f"/v1/webhooks/{other['id']}/deliveries")))["items"]
    assert sorted(d["event_type"] for d in others) == ["webhook.created", "webhook.paused"]  # no webhook.test
    assert sorted(r.event["type"] for r in receiver.at("/other")) == ["webhook.created", "webhook.paused"]
    assert (await read(organization.api, hook["id"]))["status"] == "paused"


async def test_a_refused_connection_is_recorded_without_a_status(dispatcher, worker):
    hook = await subscribe(dispatcher, "http://127.0.0.1:1/x", event_types=["incident.opened"])
    await open_incident(dispatcher)
    assert await worker.tick() == 1
    delivery = await the_delivery(dispatcher, hook["id"])
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["response_body"] is None
    assert attempt["error"] and "refused" in attempt["error"].lower()
    assert (delivery["status"], delivery["last_status_code"], delivery["last_error"]) == (
        "pending", None, attempt["error"])
    assert (await read(dispatcher, hook["id"]))["failing_since"] is not None
