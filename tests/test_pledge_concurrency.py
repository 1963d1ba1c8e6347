"""Exactness under a surge: no over-commitment, and each pledge taken exactly once per Idempotency-Key."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from relief import db, idempotency
from relief.app import create_app
from tests.conftest import Api, incident_body

# A surge from one key is over the default per-key burst (100) on purpose; the tests that fire one
# raise the limit (parametrize "settings" with this), the others keep the defaults.
SURGE = {"rate_limit_burst": 10_000, "rate_limit_per_second": 10_000}



async def open_call(dispatcher: Api, **call) -> dict:
    code = f"T-{uuid.uuid4().hex[:8]}"
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body(code=code))).json()
    goods = {"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "100"}
    body = {"title": "救生衣", "status": "open", **({} if "kind" in call else goods), **call}
    response = await dispatcher.post(f"/v1/incidents/{incident['id']}/calls", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


def pledge(api: Api, call_id: str, body: dict, key: str | None = None):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return api.post(f"/v1/calls/{call_id}/pledges", json=body, headers=headers)


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_300_concurrent_pledges_never_overcommit(dispatcher, organization, conn):
    call = await open_call(dispatcher, quantity="100")
    responses = await asyncio.gather(*(pledge(organization.api, call["id"], {"quantity": "1"}) for _ in range(300)))
    statuses = Counter(r.status for r in responses)
    assert statuses == {201: 100, 409: 200}
    refused = [await r.json() for r in responses if r.status == 409]
    assert {p["remaining"] for p in refused} == {"0"}
    assert {p["type"] for p in refused} == {"/docs#problem-over-committed"}

    current = await (await dispatcher.get(f"/v1/calls/{call['id']}")).json()
    assert (current["committed"], current["remaining"]) == ("100", "0")
    assert await conn.fetchval("select count(*) from pledges where call_id = $1", uuid.UUID(call["id"])) == 100
    assert await conn.fetchval("select count(*) from events where type = 'pledge.created'") == 100


async def test_overpledge_is_refused_with_what_remains(dispatcher, organization):
    call = await open_call(dispatcher, quantity="100")
    assert (await pledge(organization.api, call["id"], {"quantity": "60"})).status == 201
    response = await pledge(organization.api, call["id"], {"quantity": "40.5"})
    assert response.status == 409
    problem = await response.json()
    assert problem["remaining"] == "40"
    assert "40" in problem["detail"]
    assert (await pledge(organization.api, call["id"], {"quantity": "40"})).status == 201


async def test_allow_overpledge_lets_pledges_pass_the_request(dispatcher, organization):
    call = await open_call(dispatcher, quantity="10", allow_overpledge=True)
    assert (await pledge(organization.api, call["id"], {"quantity": "25"})).status == 201
    current = await (await dispatcher.get(f"/v1/calls/{call['id']}")).json()
    assert (current["committed"], current["remaining"]) == ("25", "-15")


async def test_the_database_refuses_overcommitment_even_without_the_guard(dispatcher, conn):
    """The check constraint is the last line: a bug in the guarded update could not slip past it."""
    import asyncpg

    call = await open_call(dispatcher, quantity="10")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("update calls set committed = 11 where id = $1", uuid.UUID(call["id"]))


async def test_fifty_concurrent_duplicates_create_one_pledge(dispatcher, organization, conn):
    call = await open_call(dispatcher, quantity="100")
    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(pledge(organization.api, call["id"], {"quantity": "7"}, key) for _ in range(50)))
    assert {r.status for r in responses} == {201}
    bodies = [await r.json() for r in responses]
    assert len({b["id"] for b in bodies}) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count(None) == 1 and replayed.count("true") == 49
    assert all(r.headers["Location"] == f"/v1/pledges/{bodies[0]['id']}" for r in responses)
    assert await conn.fetchval("select count(*) from pledges") == 1
    current = await (await dispatcher.get(f"/v1/calls/{call['id']}")).json()
    assert current["committed"] == "7"

    different = await pledge(organization.api, call["id"], {"quantity": "8"}, key)
    assert different.status == 422
    assert (await different.json())["errors"][0]["parameter"] == "Idempotency-Key"
    other_call = await open_call(dispatcher, quantity="5")
    elsewhere = await pledge(organization.api, other_call["id"], {"quantity": "7"}, key)
    assert elsewhere.status == 422  # same key, another path


async def test_same_body_spelled_differently_is_the_same_request(dispatcher, organization):
    call = await open_call(dispatcher, quantity="100")
    key = str(uuid.uuid4())
    first = await organization.api.post(
        f"/v1/calls/{call['id']}/pledges", data=b'{"quantity": 5}',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    again = await organization.api.post(
        f"/v1/calls/{call['id']}/pledges", data=b'{ "quantity" : "5" }',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert first.status == again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await first.read() == await again.read()


async def test_missing_or_malformed_key_is_400(dispatcher, organization):
    call = await open_call(dispatcher)
    response = await organization.api.post(f"/v1/calls/{call['id']}/pledges", json={"quantity": "1"})
    assert response.status == 400
    problem = await response.json()
    assert problem["errors"][0]["parameter"] == "Idempotency-Key"
    response = await pledge(organization.api, call["id"], {"quantity": "1"}, key="x" * 300)
    assert response.status == 400


async def test_keys_are_scoped_to_the_caller(dispatcher, organization, conn):
    from tests.conftest import make_organization

    other = await make_organization(dispatcher, conn, 1)
    call = await open_call(dispatcher, quantity="100")
    key = str(uuid.uuid4())
    mine = await pledge(organization.api, call["id"], {"quantity": "3"}, key)
    theirs = await pledge(other.api, call["id"], {"quantity": "3"}, key)
    assert mine.status == theirs.status == 201
    assert (await mine.json())["id"] != (await theirs.json())["id"]
    assert "Idempotent-Replayed" not in theirs.headers


async def test_a_failed_request_leaves_no_key_behind(dispatcher, organization):
    """A 409 is not acknowledged: the same key may run again once the call has room."""
    call = await open_call(dispatcher, quantity="10")
    key = str(uuid.uuid4())
    assert (await pledge(organization.api, call["id"], {"quantity": "11"}, key)).status == 409
    await dispatcher.patch(f"/v1/calls/{call['id']}", json={"quantity": "20"}, headers={"If-Match": '"1"'})
    retry = await pledge(organization.api, call["id"], {"quantity": "11"}, key)
    assert retry.status == 201
    assert "Idempotent-Replayed" not in retry.headers


async def test_duplicate_waits_then_gets_409_while_the_first_is_still_running(database_url, conn):
    """The bound on waiting: a first request that holds its key past the bound makes the duplicate 409."""
    holder = await db.connect(database_url)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(
            "insert into idempotency_keys (scope, key, fingerprint) values ('org:x', 'k', '\\x00')"
        )

        async def never(conn, store):  # pragma: no cover - must not run
            raise AssertionError("the duplicate ran its work")

        from relief.errors import InProgress

        with pytest.raises(InProgress):
            await idempotency.run_once(conn, scope="org:x", key="k", fingerprint=b"\0", work=never, wait_seconds=0.3)
        await transaction.rollback()
    finally:
        await holder.close()


async def test_expired_keys_are_purged(conn):
    await conn.execute(
        """
        insert into idempotency_keys (scope, key, fingerprint, status, body, created_at)
        values ('org:a', 'old', '\\x00', 201, '{}', now() - interval '25 hours'),
               ('org:a', 'new', '\\x00', 201, '{}', now() - interval '23 hours')
        """
    )
    assert await idempotency.purge(conn) == 1
    assert await conn.fetchval("select array_agg(key) from idempotency_keys") == ["new"]


async def test_maintenance_purges_in_the_background(database_url, conn, settings, aiohttp_client):
    await conn.execute(
        """
        insert into idempotency_keys (scope, key, fingerprint, status, body, created_at)
        values ('org:a', 'old', '\\x00', 201, '{}', now() - interval '2 days')
        """
    )
    app = create_app(settings.model_copy(update={"maintenance_interval": 0.05}), database_url=database_url)
    await aiohttp_client(app)
    for _ in range(100):
        if not await conn.fetchval("select count(*) from idempotency_keys"):
            break
        await asyncio.sleep(0.05)
    assert await conn.fetchval("select count(*) from idempotency_keys") == 0


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ({"kind": "goods", "item": "tent", "unit": "piece", "quantity": "10"},
         {"quantity": "2.5", "estimated_value": "3000.00", "note": "两顶半"}),
        ({"kind": "money", "amount": "1000.00"}, {"amount": "10.10", "currency": "CNY"}),
        ({"kind": "personnel", "skill": "boat_rescue", "headcount": 30},
         {"headcount": 3, "available_from": "2023-07-29T00:00:00Z", "available_until": "2023-08-02T00:00:00+08:00",
          "lead": {"name": "李", "phone": "13900001111"}}),
    ],
)
async def test_the_created_pledge_reads_back_exactly_as_answered(dispatcher, organization, conn, call, body):
    """The create answers with a pledge built before the write; it must be what the rows say."""
    opened = await open_call(dispatcher, **call)
    response = await pledge(organization.api, opened["id"], body)
    assert response.status == 201, await response.text()
    answered = await response.json()
    assert answered == await (await organization.api.get(f"/v1/pledges/{answered['id']}")).json()
    [event] = await conn.fetch("select after from events where type = 'pledge.created'")
    assert event["after"] == answered
