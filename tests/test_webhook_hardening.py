"""What a review of the webhook code found, kept found (receivers that answer badly, URLs that only one
parser accepts, a manual retry racing a worker, inputs that must be 4xx rather than 500), and upkeep."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

from tests.conftest import incident_body, make_organization
from tests.test_webhook_retries import open_incident, the_delivery
from tests.webhook_world import subscribe


async def test_an_unreadable_answer_is_an_attempt_on_record_not_a_silent_loop(aiohttp_server, dispatcher, worker):
    async def oversized(request: web.Request) -> web.Response:
        return web.Response(status=200, headers={"X-Padding": "x" * 20_000})  # over aiohttp's 8,190-byte limit

    app = web.Application()
    app.router.add_post("/hook", oversized)
    server = await aiohttp_server(app)
    hook = await subscribe(dispatcher, f"http://127.0.0.1:{server.port}/hook", event_types=["incident.opened"])
    await open_incident(dispatcher)

    assert await worker.tick() == 1
    delivery = await the_delivery(dispatcher, hook["id"])
    assert (delivery["status"], delivery["attempt_count"], delivery["last_status_code"]) == ("pending", 1, None)
    assert delivery["attempts"][0]["error"]  # says what went wrong
    assert delivery["next_attempt_at"] is not None  # on the schedule, not stuck behind a 60 s claim


async def test_urls_only_one_parser_accepts_are_refused_with_422(organization):
    for url in ("https://☃.example/hook", "https://xn--.com/hook"):
        response = await organization.api.post("/v1/webhooks", json={"url": url})
        assert response.status == 422, (url, await response.text())
        assert (await response.json())["errors"][0]["pointer"] == "/url"


async def test_strangers_learn_nothing_from_the_url_check(dispatcher, organization, conn, receiver):
    hook = await subscribe(organization.api, receiver.url())
    other = await make_organization(dispatcher, conn, 1)
    # Another organization probing internal names through PATCH: 404 before any lookup, not a 422
    # telling what the name resolves to.
    response = await other.api.patch(
        f"/v1/webhooks/{hook['id']}", json={"url": "http://localhost/x"}, headers={"If-Match": "*"}
    )
    assert response.status == 404
    response = await other.api.patch(
        f"/v1/webhooks/{uuid.uuid4()}", json={"url": "http://localhost/x"}, headers={"If-Match": "*"}
    )
    assert response.status == 404


async def test_a_manual_retry_leaves_a_claim_in_flight_alone(dispatcher, conn, receiver, worker):
    hook = await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    await open_incident(dispatcher)
    await worker.step()  # claimed, being sent
    delivery_id = await conn.fetchval("select id from webhook_deliveries where webhook_id = $1", uuid.UUID(hook["id"]))
    claimed = await conn.fetchval("select claimed_by from webhook_deliveries where id = $1", delivery_id)
    assert claimed == worker.number
    assert (await dispatcher.post(f"/v1/deliveries/{delivery_id}/retry")).status == 202
    assert await conn.fetchval("select claimed_by from webhook_deliveries where id = $1", delivery_id) == claimed
    await asyncio.gather(*worker.in_flight)
    await worker.flush()
    assert len(receiver.received) == 1
    assert (await the_delivery(dispatcher, hook["id"]))["attempt_count"] == 1


async def test_bodies_forgotten_by_the_cache_still_go_out(dispatcher, receiver, worker):
    await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    await open_incident(dispatcher)
    await worker.step()
    worker.bodies.clear()  # what a full cache does between a claim and the send
    await asyncio.gather(*worker.in_flight)
    assert len(receiver.received) == 1 and receiver.received[0].event["type"] == "incident.opened"


async def test_a_reconnected_worker_keeps_its_number_and_its_claims(worker):
    number = worker.number
    assert worker.listener is not None
    await worker.listener.close()  # the database restarted, say
    await worker._keep_listening()
    assert worker.number == number and worker.former_numbers == []


async def test_odd_positions_cursors_and_long_titles_are_client_errors(dispatcher, organization):
    incident = await open_incident(dispatcher)
    huge = await dispatcher.get(f"/v1/incidents/{incident['id']}/stream",
                                headers={"Last-Event-ID": "99999999999999999999-1"})
    assert huge.status == 400
    cursor = "W" * 6700
    assert (await organization.api.get(f"/v1/webhooks?cursor={cursor}")).status == 422

    long = await dispatcher.post("/v1/incidents", json=incident_body(code="LONG-TITLE", title="台" * 250))
    assert long.status == 201, await long.text()
    alert = {
        "headline": "漫堤", "category": "Met", "urgency": "Immediate", "severity": "Severe",
        "certainty": "Observed", "area": {"description": "太湖沿岸", "circle": "31.2,120.4 5"},
    }
    response = await dispatcher.post(f"/v1/incidents/{(await long.json())['id']}/alerts", json=alert)
    assert response.status == 201, await response.text()
    assert len((await response.json())["event"]) == 200


async def test_old_finished_deliveries_are_purged_and_pending_ones_kept(dispatcher, conn, receiver, worker, clock):
    from relief import deliveries

    receiver.answers["/failing"] = [500]
    await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    await subscribe(dispatcher, receiver.url("/failing"), event_types=["incident.opened"])
    await open_incident(dispatcher)
    await worker.tick()  # one delivered, one pending a retry
    assert await conn.fetchval("select count(*) from webhook_attempts") == 2
    await conn.execute("update webhook_deliveries set updated_at = now() - interval '31 days'")

    assert await deliveries.purge(conn, older_than_days=30) == 1
    assert await conn.fetchval("select status from webhook_deliveries") == "pending"
    assert await conn.fetchval("select count(*) from webhook_attempts") == 1  # the delivered one's went too


async def test_metrics_show_the_webhook_backlog(anonymous, dispatcher, conn, receiver, worker):
    await subscribe(dispatcher, receiver.url(), event_types=["incident.opened"])
    await open_incident(dispatcher)

    def gauge(text: str, name: str) -> float:
        (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
        return float(line.split()[1])

    text = await (await anonymous.get("/metrics")).text()
    queued = await conn.fetchval("select count(*) from webhook_outbox")  # keys, webhook.created, incident.opened
    assert queued >= 3 and gauge(text, "relief_webhook_outbox_events") == queued  # no worker has run yet
    assert gauge(text, "relief_webhook_pending_deliveries") == 0
    await worker.step()  # fanned out and claimed, not yet sent
    text = await (await anonymous.get("/metrics")).text()
    assert gauge(text, "relief_webhook_outbox_events") == 0
    assert gauge(text, "relief_webhook_pending_deliveries") == 1
    assert gauge(text, "relief_webhook_delivery_lag_seconds") >= 0
    await asyncio.gather(*worker.in_flight)
    await worker.flush()
    text = await (await anonymous.get("/metrics")).text()
    assert gauge(text, "relief_webhook_pending_deliveries") == 0
