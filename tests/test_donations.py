"""The donation ledger: money and goods received, one act with a pledge's delivery, append-only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from relief import chain, counters, ledger
from tests.conftest import Api, incident_body, make_organization


async def open_incident(dispatcher: Api, code: str = "2023-DOKSURI-SZ") -> str:
    return (await (await dispatcher.post("/v1/incidents", json=incident_body(code=code))).json())["id"]


def donate(api: Api, incident_id: str, body: dict, key: str | None = None):
    return api.post(f"/v1/incidents/{incident_id}/donations", json=body,
                    headers={"Idempotency-Key": key or str(uuid.uuid4())})


async def incident_counters(conn, incident_id: str) -> dict:
    return await counters.read(conn, uuid.UUID(incident_id))


async def accepted_pledge(dispatcher: Api, org, incident_id: str, call: dict, body: dict) -> dict:
    call = {"title": "需求", "status": "open", **call}
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=call)
    assert response.status == 201, await response.text()
    call_id = (await response.json())["id"]
    response = await org.api.post(f"/v1/calls/{call_id}/pledges", json=body,
                                  headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, await response.text()
    pledge = await response.json()
    assert (await dispatcher.post(f"/v1/pledges/{pledge['id']}/accept")).status == 200
    return pledge


async def test_money_from_an_organization_a_person_and_nobody(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    bodies = [
        {"kind": "money", "amount": "50000.00", "channel": "bank_transfer", "receipt_no": "R-1",
         "donor": {"organization_id": organization.id}},
        {"kind": "money", "amount": "200.50", "channel": "online_platform", "donor": {"name": "张先生"}},
        {"kind": "money", "amount": "0.5", "channel": "cash"},
        {"kind": "money", "amount": "100", "currency": "HKD", "donor": {"anonymous": True}},
    ]
    for body in bodies:
        response = await donate(dispatcher, incident, body)
        assert response.status == 201, await response.text()
        assert response.headers["Location"].startswith("/v1/donations/")
    donation = await (await dispatcher.get(response.headers["Location"])).json()
    assert (donation["entry"], donation["amount"], donation["currency"]) == ("receipt", "100", "HKD")
    assert donation["donor"] == {"organization_id": None, "organization_name": None, "name": None, "anonymous": True}
    totals = await incident_counters(conn, incident)
    assert totals[("money_received", "CNY")] == Decimal("50201.00")
    assert totals[("money_received", "HKD")] == 100
    assert totals[("donations", "")] == 4 and totals[("participants", "")] == 1
    assert totals == {**totals, **await ledger.expected_counters(conn, uuid.UUID(incident))}
    assert await conn.fetchval("select count(*) from events where type = 'donation.recorded'") == 4


async def test_donor_takes_exactly_one_form(dispatcher):
    incident = await open_incident(dispatcher)
    for donor in ({"name": "x", "anonymous": True}, {}, {"organization_id": str(uuid.uuid4())}):
        response = await donate(dispatcher, incident, {"kind": "money", "amount": "1", "donor": donor})
        assert response.status == 422, (donor, await response.text())
        assert (await response.json())["errors"][0]["pointer"].startswith("/donor")


async def test_receipt_numbers_are_unique_per_incident(dispatcher):
    first, second = await open_incident(dispatcher), await open_incident(dispatcher, "OTHER")
    body = {"kind": "money", "amount": "10", "receipt_no": "SZ-0001"}
    assert (await donate(dispatcher, first, body)).status == 201
    response = await donate(dispatcher, first, body)
    assert response.status == 409 and (await response.json())["receipt_no"] == "SZ-0001"
    assert (await donate(dispatcher, second, body)).status == 201


async def test_idempotency_key_is_required_and_replays(dispatcher, conn):
    incident = await open_incident(dispatcher)
    body = {"kind": "money", "amount": "10"}
    missing = await dispatcher.post(f"/v1/incidents/{incident}/donations", json=body)
    assert missing.status == 400
    key = str(uuid.uuid4())
    first, again = await donate(dispatcher, incident, body, key), await donate(dispatcher, incident, body, key)
    assert (first.status, again.status) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await conn.fetchval("select count(*) from donations") == 1


async def test_goods_count_by_item_and_value(dispatcher, conn):
    incident = await open_incident(dispatcher)
    body = {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "200", "estimated_value": "6000.00"}
    assert (await donate(dispatcher, incident, body)).status == 201
    assert (await donate(dispatcher, incident, {**body, "quantity": "50", "estimated_value": None})).status == 201
    totals = await incident_counters(conn, incident)
    assert totals[("goods_received", "drinking_water|box")] == 250
    assert totals[("goods_received_value", "CNY")] == Decimal("6000.00")


async def test_a_donation_against_a_pledge_delivers_it_once(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    pledge = await accepted_pledge(dispatcher, organization, incident, {"kind": "money", "amount": "100000.00"},
                                   {"amount": "50000.00"})
    response = await donate(dispatcher, incident, {"kind": "money", "amount": "50000.00", "pledge_id": pledge["id"],
                                                   "channel": "bank_transfer", "receipt_no": "B-77"})
    assert response.status == 201, await response.text()
    donation = await response.json()
    assert donation["donor"]["organization_id"] == organization.id and donation["call_id"] == pledge["call_id"]
    after = await (await dispatcher.get(f"/v1/pledges/{pledge['id']}")).json()
    assert (after["status"], after["delivered_quantity"]) == ("delivered", "50000.00")
    call = await (await dispatcher.get(f"/v1/calls/{pledge['call_id']}")).json()
    assert (call["committed"], call["delivered"]) == ("50000.00", "50000.00")
    assert await conn.fetchval("select count(*) from donations") == 1
    assert (await incident_counters(conn, incident))[("money_received", "CNY")] == Decimal("50000.00")
    again = await donate(dispatcher, incident, {"kind": "money", "amount": "1.00", "pledge_id": pledge["id"]})
    assert again.status == 409 and (await again.json())["state"] == "delivered"


async def test_delivering_a_goods_pledge_writes_its_ledger_row(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    pledge = await accepted_pledge(
        dispatcher, organization, incident, {"kind": "goods", "item": "tent", "unit": "piece", "quantity": "50"},
        {"quantity": "20", "estimated_value": "30000.00"},
    )
    response = await dispatcher.post(f"/v1/pledges/{pledge['id']}/deliver", json={"quantity": "15"})
    assert response.status == 200, await response.text()
    [row] = await conn.fetch("select * from donations where pledge_id = $1", uuid.UUID(pledge["id"]))
    assert (row["quantity"], row["estimated_value"], row["item"]) == (15, Decimal("22500.00"), "tent")
    totals = await incident_counters(conn, incident)
    assert totals[("goods_received", "tent|piece")] == 15
    assert totals[("goods_received_value", "CNY")] == Decimal("22500.00")


async def test_a_reversal_moves_everything_back(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    pledge = await accepted_pledge(dispatcher, organization, incident, {"kind": "money", "amount": "100.00"},
                                   {"amount": "100.00"})
    donation = await (await donate(dispatcher, incident, {"kind": "money", "amount": "80.00",
                                                          "pledge_id": pledge["id"]})).json()
    call = await (await dispatcher.get(f"/v1/calls/{pledge['call_id']}")).json()
    assert (call["committed"], call["delivered"], call["remaining"]) == ("80.00", "80.00", "20.00")

    missing = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={})
    assert missing.status == 422 and (await missing.json())["errors"][0]["pointer"] == "/reason"
    response = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "录错金额"})
    assert response.status == 201, await response.text()
    reversal = await response.json()
    assert (reversal["entry"], reversal["amount"], reversal["reverses"]) == ("reversal", "-80.00", donation["id"])
    assert (await (await dispatcher.get(f"/v1/donations/{donation['id']}")).json())["reversed_by"] == reversal["id"]
    pledge_now = await (await dispatcher.get(f"/v1/pledges/{pledge['id']}")).json()
    assert (pledge_now["status"], pledge_now["quantity"]) == ("accepted", "80.00")
    call = await (await dispatcher.get(f"/v1/calls/{pledge['call_id']}")).json()
    assert (call["committed"], call["delivered"]) == ("80.00", "0.00")
    totals = await incident_counters(conn, incident)
    assert totals[("money_received", "CNY")] == 0 and totals[("donations", "")] == 0
    assert totals == {**totals, **await ledger.expected_counters(conn, uuid.UUID(incident))}
    assert await conn.fetchval("select count(*) from events where type = 'donation.reversed'") == 1

    twice = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "again"})
    assert twice.status == 409 and (await twice.json())["state"] == "reversed"
    of_reversal = await dispatcher.post(f"/v1/donations/{reversal['id']}/reverse", json={"reason": "x"})
    assert of_reversal.status == 409
    redelivered = await donate(dispatcher, incident, {"kind": "money", "amount": "80.00", "pledge_id": pledge["id"]})
    assert redelivered.status == 201


async def test_the_ledger_refuses_update_and_delete_in_the_database(dispatcher, conn):
    incident = await open_incident(dispatcher)
    assert (await donate(dispatcher, incident, {"kind": "money", "amount": "10"})).status == 201
    for statement in ("update donations set quantity = 1", "delete from donations", "truncate donations cascade"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement)
    assert await conn.fetchval("select quantity from donations") == 10


async def test_who_records_and_who_reads(dispatcher, viewer, organization, conn):
    incident = await open_incident(dispatcher)
    other = await make_organization(dispatcher, conn, 1)
    for api in (viewer, organization.api):
        assert (await donate(api, incident, {"kind": "money", "amount": "1"})).status == 403
    mine = await (await donate(dispatcher, incident, {"kind": "money", "amount": "5",
                                                      "donor": {"organization_id": organization.id}})).json()
    theirs = await (await donate(dispatcher, incident, {"kind": "money", "amount": "6",
                                                        "donor": {"organization_id": other.id}})).json()
    listed = await (await organization.api.get(f"/v1/incidents/{incident}/donations")).json()
    assert [d["id"] for d in listed["items"]] == [mine["id"]]
    assert (await organization.api.get(f"/v1/donations/{theirs['id']}")).status == 404
    everything = await (await viewer.get(f"/v1/incidents/{incident}/donations?kind=money")).json()
    assert {d["id"] for d in everything["items"]} == {mine["id"], theirs["id"]}


async def test_concurrent_reversals_reverse_once(dispatcher, conn, caplog):
    incident = await open_incident(dispatcher)
    donation = await (await donate(dispatcher, incident, {"kind": "money", "amount": "99.00"})).json()
    import asyncio

    responses = await asyncio.gather(*(
        dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "并发"}) for _ in range(10)
    ))
    assert sorted(r.status for r in responses) == [201] + [409] * 9
    assert await conn.fetchval("select count(*) from donations where reverses is not null") == 1
    assert (await incident_counters(conn, incident))[("money_received", "CNY")] == 0
    assert "unhandled_error" not in caplog.text


async def test_a_reversal_under_a_closed_incident_closes_the_call(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    pledge = await accepted_pledge(dispatcher, organization, incident, {"kind": "money", "amount": "100.00"},
                                   {"amount": "100.00"})
    donation = await (await donate(dispatcher, incident, {"kind": "money", "amount": "100.00",
                                                          "pledge_id": pledge["id"]})).json()
    assert (await (await dispatcher.get(f"/v1/calls/{pledge['call_id']}")).json())["status"] == "fulfilled"
    assert (await dispatcher.post(f"/v1/incidents/{incident}/close")).status == 200
    assert (await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "退回"})).status == 201
    call = await (await dispatcher.get(f"/v1/calls/{pledge['call_id']}")).json()
    assert (call["status"], call["delivered"]) == ("closed", "0.00")
    response = await organization.api.post(f"/v1/calls/{pledge['call_id']}/pledges", json={"amount": "1.00"},
                                           headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 409


async def test_goods_received_against_a_pledge_keep_their_currency_and_donor(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    pledge = await accepted_pledge(dispatcher, organization, incident,
                                   {"kind": "goods", "item": "tent", "unit": "piece", "quantity": "10"},
                                   {"quantity": "10"})
    body = {"kind": "goods", "item": "tent", "unit": "piece", "quantity": "10", "pledge_id": pledge["id"],
            "estimated_value": "700.00", "currency": "USD"}
    wrong_donor = await donate(dispatcher, incident, {**body, "donor": {"name": "someone else"}})
    assert wrong_donor.status == 422 and (await wrong_donor.json())["errors"][0]["pointer"] == "/donor"
    received = await (await donate(dispatcher, incident, body)).json()
    assert (received["currency"], received["estimated_value"]) == ("USD", "700.00")
    assert (await incident_counters(conn, incident))[("goods_received_value", "USD")] == Decimal("700.00")


async def test_item_and_unit_may_not_hold_the_counter_separator(dispatcher):
    incident = await open_incident(dispatcher)
    response = await donate(dispatcher, incident, {"kind": "goods", "item": "rice|bag", "unit": "kg", "quantity": "1"})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/item"


async def test_received_at_is_when_it_arrived_and_created_at_when_it_was_recorded(dispatcher, organization, conn):
    incident = await open_incident(dispatcher)
    response = await donate(dispatcher, incident, {"kind": "money", "amount": "300", "receipt_no": "R-LATE",
                                                   "received_at": "2023-07-30T09:30:00+08:00"})
    assert response.status == 201, await response.text()
    late = await response.json()
    assert late["received_at"] == "2023-07-30T01:30:00Z" and late["created_at"] > "2024"
    listed = (await (await dispatcher.get(f"/v1/incidents/{incident}/donations")).json())["items"]
    assert [d["received_at"] for d in listed] == ["2023-07-30T01:30:00Z"]
    # Left out: received when it is recorded (the same instant, to the microsecond).
    now = await (await donate(dispatcher, incident, {"kind": "money", "amount": "1"})).json()
    assert now["received_at"] == now["created_at"]
    # Against a pledge, the receipt's time is the donation's.
    pledge = await accepted_pledge(dispatcher, organization, incident, {"kind": "money", "amount": "1000"},
                                   {"amount": "500"})
    delivered = await (await donate(dispatcher, incident, {"kind": "money", "amount": "500", "pledge_id": pledge["id"],
                                                           "received_at": "2023-07-31T10:00:00Z"})).json()
    assert delivered["received_at"] == "2023-07-31T10:00:00Z"
    # A reversal is received when it is recorded; the original keeps its time.
    reversal = await (await dispatcher.post(f"/v1/donations/{late['id']}/reverse", json={"reason": "录错"})).json()
    assert reversal["received_at"] == reversal["created_at"] > "2024"
    assert (await (await dispatcher.get(f"/v1/donations/{late['id']}")).json())["received_at"] == late["received_at"]
    recorded = await conn.fetchval("select after->>'received_at' from events where type = 'donation.recorded' "
                                   "order by id limit 1")
    assert recorded == "2023-07-30T01:30:00Z"  # the event carries the read model
    # Not hashed: the chain verifies, and its encoding has no received_at.
    checked, mismatch = await chain.verify(conn, incident_id=uuid.UUID(incident))
    assert (checked, mismatch) == (4, None)
    assert "received_at" not in chain.KINDS["donation"].public + chain.KINDS["donation"].digested


async def test_received_at_may_not_be_in_the_future_or_before_1900(dispatcher, conn):
    incident = await open_incident(dispatcher)
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    response = await donate(dispatcher, incident, {"kind": "money", "amount": "1", "received_at": soon})
    assert response.status == 201, await response.text()  # a clock a little ahead is no error
    for bad in ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "1899-12-31T00:00:00Z", "2023-07-30 09:30",
                1690680600):
        response = await donate(dispatcher, incident, {"kind": "goods", "item": "tent", "unit": "piece",
                                                       "quantity": "1", "received_at": bad})
        assert response.status == 422, (bad, await response.text())
        error, = (await response.json())["errors"]
        assert error["pointer"] == "/received_at", error
    assert await conn.fetchval("select count(*) from donations") == 1


async def test_a_pledge_delivered_with_its_received_time_records_it(dispatcher, conn, organization):
    """POST /v1/pledges/{id}/deliver takes received_at too: the donation it records carries it."""
    from tests.pledge_world import goods_call, new_call, open_incident, pledge

    incident = await open_incident(dispatcher)
    call = await new_call(dispatcher, incident, goods_call())
    made = await pledge(organization.api, call["id"])
    assert made.status == 201, await made.text()
    pledge_id = (await made.json())["id"]
    assert (await dispatcher.post(f"/v1/pledges/{pledge_id}/accept")).status == 200
    ahead = await dispatcher.post(f"/v1/pledges/{pledge_id}/deliver", json={"received_at": "2999-01-01T00:00:00Z"})
    assert ahead.status == 422 and (await ahead.json())["errors"][0]["pointer"] == "/received_at"
    done = await dispatcher.post(f"/v1/pledges/{pledge_id}/deliver", json={"received_at": "2023-07-30T08:00:00+08:00"})
    assert done.status == 200, await done.text()
    row = await conn.fetchrow("select received_at, created_at from donations where pledge_id = $1",
                              uuid.UUID(pledge_id))
    assert row["received_at"].isoformat() == "2023-07-30T00:00:00+00:00" and row["created_at"] > row["received_at"]
