"""Webhooks that recover: a circuit breaker per destination, Retry-After for a whole host, and a
subscription's recovery of what it missed (issue 15, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from relief import deliveries
from relief.auth import SYSTEM
from tests.conftest import Api, incident_body
from tests.webhook_world import start_receiver, subscribe


async def ok(response, status: int = 200) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return await response.json()


async def open_incidents(dispatcher: Api, n: int, prefix: str) -> list[str]:
    made = []
    for i in range(n):
        made.append((await ok(await dispatcher.post(
            "/v1/incidents", json=incident_body(code=f"{prefix}-{i}")), 201))["id"])
    return made


async def test_a_destination_failing_ten_times_gets_only_probes_until_one_succeeds(
    dispatcher, receiver, worker, clock, aiohttp_server
):
    healthy = await start_receiver(aiohttp_server)  # another destination, with a breaker of its own
    down = await subscribe(dispatcher, receiver.url("/down"), event_types=["incident.opened"])
    up = await subscribe(dispatcher, healthy.url("/up"), event_types=["incident.opened"])
    receiver.answers["/down"] = [503] * 12  # then 200

    await open_incidents(dispatcher, 10, "DOWN")
    assert await worker.tick() == 20
    assert (len(receiver.received), len(healthy.received)) == (10, 10)
    read = await ok(await dispatcher.get(f"/v1/webhooks/{down['id']}"))
    assert read["breaker"]["state"] == "open"
    assert read["breaker"]["consecutive_failures"] == 10
    assert (await ok(await dispatcher.get(f"/v1/webhooks/{up['id']}")))["breaker"]["state"] == "closed"
    metrics = await (await dispatcher.get("/metrics")).text()
    assert "relief_webhook_destinations_open 1.0" in metrics

    # Open: the retries falling due and new events get no attempt; the healthy destination goes on.
    await open_incidents(dispatcher, 3, "MORE")
    clock.advance(seconds=30)
    assert await worker.tick() == 3
    assert (len(receiver.received), len(healthy.received)) == (10, 13)

    # One probe per interval, whatever is due; a failed probe waits for the next interval.
    clock.advance(seconds=31)
    assert await worker.tick() == 1
    assert await worker.tick() == 0
    clock.advance(seconds=30)
    assert await worker.tick() == 0
    clock.advance(seconds=31)
    assert await worker.tick() == 1
    assert len(receiver.received) == 12
    assert (await ok(await dispatcher.get(f"/v1/webhooks/{down['id']}")))["breaker"]["consecutive_failures"] == 12

    # The next probe is answered: the breaker closes and everything waiting goes out.
    clock.advance(seconds=61)
    assert await worker.tick() == 1
    assert (await ok(await dispatcher.get(f"/v1/webhooks/{down['id']}")))["breaker"]["state"] == "closed"
    assert await worker.tick() == 10  # the two failed probes wait for their own schedule (5 min)
    clock.advance(minutes=6)
    assert await worker.tick() == 2
    sent = await ok(await dispatcher.get(f"/v1/webhooks/{down['id']}/deliveries?limit=100"))
    assert {d["status"] for d in sent["items"]} == {"delivered"}
    assert len(sent["items"]) == 13
    assert len(healthy.received) == 13  # never held back
    metrics = await (await dispatcher.get("/metrics")).text()
    assert "relief_webhook_destinations_open 0.0" in metrics


async def test_a_probe_of_a_dead_destination_spends_no_deliverys_last_attempt(dispatcher, receiver, worker, clock,
                                                                              conn):
    hook = await subscribe(dispatcher, receiver.url("/dead"), event_types=["incident.opened"])
    receiver.answers["/dead"] = [502] * 100
    await open_incidents(dispatcher, 10, "DEAD")
    assert await worker.tick() == 10
    for _ in range(12):  # more probes than a delivery has attempts
        clock.advance(seconds=61)
        assert await worker.tick() == 1
    statuses = await conn.fetch("select status, count(*) from webhook_deliveries where webhook_id = $1 group by 1",
                                hook["id"])
    assert {r["status"]: r["count"] for r in statuses} == {"pending": 10}


async def test_retry_after_holds_the_whole_destination(dispatcher, receiver, worker, clock):
    await subscribe(dispatcher, receiver.url("/busy"), event_types=["incident.opened"])
    await subscribe(dispatcher, receiver.url("/other"), event_types=["incident.closed"])
    receiver.answers["/busy"] = [(429, {"Retry-After": "120"})]
    incident = (await open_incidents(dispatcher, 1, "BUSY"))[0]
    assert await worker.tick() == 1

    await ok(await dispatcher.post(f"/v1/incidents/{incident}/close"))
    clock.advance(seconds=60)
    assert await worker.tick() == 0  # another subscription, the same host: it asked for two minutes
    clock.advance(seconds=61)
    assert await worker.tick() == 2
    assert sorted(r.path for r in receiver.received) == ["/busy", "/busy", "/other"]


async def test_a_subscription_disabled_for_a_day_recovers_every_event_it_missed_once(
    organization, dispatcher, receiver, worker, clock, conn
):
    hook = await subscribe(organization.api, receiver.url("/team"), event_types=["incident.*"])
    receiver.answers["/team"] = [500] * 9
    first = (await open_incidents(dispatcher, 1, "FIRST"))[0]
    # Failing for days: retried on the schedule (the clock moved a day at a time) until it is disabled.
    assert await worker.tick() == 1
    for _ in range(8):
        clock.advance(hours=25)
        await worker.tick()
    read = await ok(await organization.api.get(f"/v1/webhooks/{hook['id']}"))
    assert read["status"] == "disabled"
    failed = await deliveries.list_deliveries(conn, actor=SYSTEM, webhook_id=hook["id"], limit=10)
    first_id = next(d.id for d in failed.items if d.event_type == "incident.opened")

    # While disabled, nothing is fanned out to it.
    missed = await open_incidents(dispatcher, 4, "MISSED")
    await ok(await dispatcher.post(f"/v1/incidents/{first}/close"))
    assert await worker.tick() == 0
    attempts_before = len(receiver.received)

    await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/resume"))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recovery = await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": since}),
                        202)
    # Disabled after five days of failures, before its last attempt: the first event's delivery is
    # still pending and goes out on resume by itself; the five events it missed are made now.
    assert (recovery["resent"], recovery["created"], recovery["more"]) == (0, 5, False)
    again = await ok(await organization.api.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": since}), 202)
    assert (again["resent"], again["created"]) == (0, 0)  # nothing queued twice

    assert await worker.tick() >= 6
    await worker.tick()
    got = receiver.received[attempts_before:]
    ids = [r.headers["webhook-id"] for r in got]
    assert len(ids) == len(set(ids))  # each once per webhook-id
    opened = {r.event["data"]["id"] for r in got if r.event["type"] == "incident.opened"}
    assert opened == {first, *missed}
    assert [r.event["type"] for r in got].count("incident.closed") == 1
    assert str(first_id) in ids  # the delivery kept its webhook-id


async def test_recovery_sends_failed_deliveries_again_with_their_webhook_id(dispatcher, receiver, worker, clock,
                                                                          conn):
    hook = await subscribe(dispatcher, receiver.url("/failed"), event_types=["incident.opened"])
    receiver.answers["/failed"] = [500]
    await open_incidents(dispatcher, 2, "FAILED")
    assert await worker.tick() == 2
    # As after its tenth attempt (driving ten attempts is test_webhook_delivery's business).
    failed_id = await conn.fetchval(
        "update webhook_deliveries set status = 'failed', next_attempt_at = null"
        " where webhook_id = $1 and status = 'pending' returning id", hook["id"])
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    recovery = await ok(await dispatcher.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": since}), 202)
    assert (recovery["resent"], recovery["created"]) == (1, 0)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)  # due at the database's now(): the clock catches up
    assert await worker.tick() == 1
    assert receiver.received[-1].headers["webhook-id"] == str(failed_id)
    again = await ok(await dispatcher.post(f"/v1/webhooks/{hook['id']}/recover", json={"since": since}), 202)
    assert (again["resent"], again["created"]) == (0, 0)  # delivered now: nothing to send again


async def test_recovery_is_bounded_and_says_where_it_stopped(dispatcher, receiver, conn):
    hook = await subscribe(dispatcher, receiver.url("/bounded"), event_types=["incident.opened"])
    await conn.execute("update webhooks set status = 'disabled', disabled_reason = 'a test' where id = $1", hook["id"])
    await open_incidents(dispatcher, 5, "BOUND")
    await conn.execute("delete from webhook_outbox")  # as if fanned out while disabled
    await conn.execute("update webhooks set status = 'active', disabled_reason = null where id = $1", hook["id"])
    since = datetime.now(UTC) - timedelta(hours=1)
    first = await deliveries.recover(conn, actor=SYSTEM, webhook_id=hook["id"], since=since, until=None,
                                     retention_days=30, limit=3)
    assert (first.created, first.more) == (3, True)
    assert first.handled_until is not None
    second = await deliveries.recover(conn, actor=SYSTEM, webhook_id=hook["id"], since=since, until=None,
                                      retention_days=30, limit=3)
    assert (second.created, second.more, second.handled_until) == (2, False, None)
    count = await conn.fetchval("select count(*) from webhook_deliveries where webhook_id = $1", hook["id"])
    assert count == 5


async def test_recovery_refuses_what_it_cannot_do(organization, dispatcher, receiver, conn):
    hook = await subscribe(organization.api, receiver.url("/refused"), event_types=["incident.*"])
    path = f"/v1/webhooks/{hook['id']}/recover"
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    body = await (await organization.api.post(path, json={"since": old})).json()
    assert body["status"] == 422 and "retention" in body["detail"]
    assert body["errors"][0]["pointer"] == "/since"
    now = datetime.now(UTC)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    assert (await organization.api.post(path, json=backwards)).status == 422
    assert (await organization.api.post(path, json={})).status == 422
    await conn.execute("update webhooks set status = 'disabled', disabled_reason = 'a test' where id = $1", hook["id"])
    refused = await organization.api.post(path, json={"since": now.isoformat()})
    assert refused.status == 409
    assert "resume it first" in (await refused.json())["detail"]
    # A dispatcher operates an organization's subscription, as for pause.
    await conn.execute("update webhooks set status = 'active', disabled_reason = null where id = $1", hook["id"])
    done = await ok(await dispatcher.post(path, json={"since": now.isoformat()}), 202)
    assert done["webhook_id"] == hook["id"]
    events = await conn.fetch("select type, actor_role from events where type = 'webhook.recovered'")
    assert len(events) == 1
