"""Money disbursed: four eyes, earmarks drawn only as the donor designated, funds' balances, reversals."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import pytest

from models.keys import Role
from relief import chain, counters, summary
from relief.auth import hash_key
from tests.conftest import Api, _key, incident_body
from tests.test_reconcile_random import resident_id


async def open_incident(dispatcher: Api, code: str = "2023-DOKSURI-SZ") -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body(code=code))
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def second_dispatcher(dispatcher: Api, conn: asyncpg.Connection) -> Api:
    """Another person's dispatcher key: the one that approves what the first proposes."""
    return Api(dispatcher.client, await _key(conn, Role.dispatcher))


async def key_id(conn: asyncpg.Connection, api: Api) -> str:
    return str(await conn.fetchval("select id from api_keys where hash = $1", hash_key(api.key)))


async def donate(api: Api, incident_id: str, amount: str, **extra) -> dict:
    body = {"kind": "money", "amount": amount, **extra}
    response = await api.post(f"/v1/incidents/{incident_id}/donations", json=body,
                              headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, await response.text()
    return await response.json()


def propose(api: Api, incident_id: str, body: dict, key: str | None = None):
    return api.post(f"/v1/incidents/{incident_id}/disbursements", json=body,
                    headers={"Idempotency-Key": key or str(uuid.uuid4())})


def payment(amount: str = "300.00", voucher: str | None = None, **overrides) -> dict:
    body = {"amount": amount, "purpose": "emergency_living_aid", "voucher_no": voucher or f"V-{uuid.uuid4().hex[:8]}",
            "recipient": {"households": 20, "region": "320505"}}
    body.update(overrides)
    return body


async def proposed(api: Api, incident_id: str, body: dict) -> dict:
    response = await propose(api, incident_id, body)
    assert response.status == 201, await response.text()
    return await response.json()


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def fund_list(api: Api, incident_id: str) -> list[dict]:
    response = await api.get(f"/v1/incidents/{incident_id}/funds")
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def tally(conn, incident_id: str) -> dict:
    return await counters.read(conn, uuid.UUID(incident_id))


async def test_the_proposer_cannot_approve_but_a_second_dispatcher_can(dispatcher, viewer, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "1000.00")
    response = await propose(dispatcher, incident, payment(voucher="SZ-MZ-001", note="首批生活救助"))
    assert response.status == 201, await response.text()
    assert response.headers["Location"].startswith("/v1/disbursements/")
    d = await response.json()
    assert (d["status"], d["entry"], d["amount"], d["region"], d["fund"]) == ("proposed", "payment", "300.00",
                                                                             "320505", None)
    assert d["recipient"] == {"kind": "households", "households": 20, "organization_id": None,
                              "organization_name": None, "shelter_id": None, "shelter_name": None, "resident_id": None}
    assert d["proposed_by"] == await key_id(conn, dispatcher) and d["decided_by"] is None
    [cny] = await fund_list(viewer, incident)
    assert (cny["received"], cny["paid"], cny["balance"], cny["proposed"], cny["earmark"]) == (
        "1000.00", "0.00", "1000.00", "300.00", None)
    assert ("money_disbursed", "CNY") not in await tally(conn, incident)  # proposed is not paid

    for action, body in (("approve", None), ("reject", {"reason": "自己批自己"})):
        refused = await problem(await dispatcher.post(f"/v1/disbursements/{d['id']}/{action}", json=body), 403)
        assert refused["type"] == "/docs#problem-forbidden" and "four eyes" in refused["detail"]
    await problem(await viewer.post(f"/v1/disbursements/{d['id']}/approve"), 403)
    assert (await (await viewer.get(f"/v1/disbursements/{d['id']}")).json())["status"] == "proposed"

    response = await approver.post(f"/v1/disbursements/{d['id']}/approve")
    assert response.status == 200, await response.text()
    approved = await response.json()
    assert (approved["status"], approved["version"], response.headers["ETag"]) == ("approved", 2, '"2"')
    assert approved["decided_by"] == await key_id(conn, approver) and approved["decided_at"]
    [cny] = await fund_list(viewer, incident)
    assert (cny["received"], cny["paid"], cny["balance"], cny["proposed"]) == ("1000.00", "300.00", "700.00", "0.00")
    totals = await tally(conn, incident)
    assert totals[("money_disbursed", "CNY")] == Decimal("300.00")
    assert totals[("disbursed_by_purpose", "CNY|emergency_living_aid")] == Decimal("300.00")
    assert totals[("disbursements", "")] == 1
    again = await problem(await approver.post(f"/v1/disbursements/{d['id']}/approve"), 409)
    assert again["state"] == "approved"
    types = [r["type"] for r in await conn.fetch(
        "select type from events where entity_type = 'disbursement' order by id")]
    assert types == ["disbursement.proposed", "disbursement.approved"]
    assert await conn.fetchval("select count(*) from ledger_entries where kind = 'disbursement'") == 1
    assert await chain.verify(conn, incident_id=uuid.UUID(incident)) == (2, None)
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_a_rejected_proposal_pays_nothing_and_frees_its_voucher(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "500")
    d = await proposed(dispatcher, incident, payment("50", voucher="V-7"))
    duplicate = await problem(await propose(dispatcher, incident, payment("60", voucher="V-7")), 409)
    assert duplicate["voucher_no"] == "V-7"
    missing = await problem(await approver.post(f"/v1/disbursements/{d['id']}/reject"), 422)
    assert missing["errors"][0]["pointer"] == "/reason"
    response = await approver.post(f"/v1/disbursements/{d['id']}/reject", json={"reason": "金额有误"})
    assert response.status == 200, await response.text()
    rejected = await response.json()
    assert (rejected["status"], rejected["reason"]) == ("rejected", "金额有误")
    assert (await problem(await approver.post(f"/v1/disbursements/{d['id']}/approve"), 409))["state"] == "rejected"
    assert (await problem(await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={"reason": "x"}),
                          409))["state"] == "rejected"
    assert await conn.fetchval("select count(*) from ledger_entries where kind = 'disbursement'") == 0
    assert ("disbursements", "") not in await tally(conn, incident)
    assert (await propose(dispatcher, incident, payment("60", voucher="V-7"))).status == 201
    other = await open_incident(dispatcher, "OTHER")
    assert (await propose(dispatcher, other, payment("60", voucher="V-7"))).status == 201  # per incident
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_an_earmark_is_drawn_only_for_its_purpose_within_its_region(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    earmarked = await donate(dispatcher, incident, "500.00", earmark={"purpose": "medical", "region": "320500"})
    # Suzhou as a whole holds its districts
    assert earmarked["earmark"] == {"purpose": "medical", "region": "3205", "region_name": "苏州市"}
    await donate(dispatcher, incident, "100.00")
    medical = {"purpose": "medical", "region": "3205"}

    cases = [
        (payment(purpose="shelter_operation", fund=medical), "/fund/purpose"),
        (payment(purpose="medical", fund=medical, recipient={"households": 3, "region": "110101"}), "/fund/region"),
        (payment(purpose="medical", fund=medical, recipient={"organization_id": str(uuid.uuid4())}),
         "/recipient/organization_id"),
        (payment(purpose="medical", fund={"purpose": "medical"}), "/fund"),  # no such earmark
        (payment(purpose="medical", fund={"purpose": "medical", "region": "3206"}), "/fund/region"),
        (payment(purpose="medical", fund={"purpose": "medical", "region": "325"}), "/fund/region"),
        (payment(fund={"purpose": "cars"}), "/fund/purpose"),
    ]
    for body, pointer in cases:
        refused = await problem(await propose(dispatcher, incident, body), 422)
        assert [e["pointer"] for e in refused["errors"]] == [pointer], (body, refused)

    # A regional earmark needs to know where the money goes: an organization's payment names it.
    org = await (await dispatcher.post("/v1/organizations", json={
        "name": "苏州红十字会", "credit_code": "91350100M000100Y43", "kind": "foundation", "region": "320500",
        "contact": {"name": "王", "phone": "13912345678"}})).json()
    to_org = payment(purpose="medical", fund=medical, recipient={"organization_id": org["id"]})
    assert [e["pointer"] for e in (await problem(await propose(dispatcher, incident, to_org), 422))["errors"]] == [
        "/region"]
    d = await proposed(dispatcher, incident, {**to_org, "amount": "200.00", "region": "320506"})
    assert d["recipient"]["organization_name"] == "苏州红十字会" and d["fund"] == {**medical, "region_name": "苏州市"}

    # Unearmarked money pays for anything, but never out of an earmark: 200 is more than its 100.
    plain = await proposed(dispatcher, incident, payment("200.00", purpose="medical"))
    short = await problem(await approver.post(f"/v1/disbursements/{plain['id']}/approve"), 409)
    assert short["available"] == "100.00" and short["type"] == "/docs#problem-insufficient"
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200
    funds = {(f["earmark"] or {}).get("purpose"): f for f in await fund_list(dispatcher, incident)}
    assert (funds["medical"]["paid"], funds["medical"]["balance"]) == ("200.00", "300.00")
    assert funds["medical"]["earmark"] == {**medical, "region_name": "苏州市"}
    assert (funds[None]["paid"], funds[None]["balance"], funds[None]["proposed"]) == ("0.00", "100.00", "200.00")
    assert (await (await dispatcher.get(f"/v1/disbursements/{plain['id']}")).json())["status"] == "proposed"

    # And the database itself refuses an earmark drawn for another purpose or elsewhere.
    for purpose, region in (("shelter_operation", "320506"), ("medical", "110101"), ("medical", None)):
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                """insert into disbursements (incident_id, amount, currency, purpose, fund_purpose, fund_region,
                                              recipient_households, region, voucher_no, proposed_by)
                   values ($1, 1, 'CNY', $2, 'medical', '3205', 1, $3, 'X', gen_random_uuid())""",
                uuid.UUID(incident), purpose, region)
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_a_donation_carries_its_earmark_into_its_fund(dispatcher, organization, conn):
    from tests.test_donations import accepted_pledge

    incident = await open_incident(dispatcher)
    plain = await donate(dispatcher, incident, "10")
    assert plain["earmark"] is None
    pledge = await accepted_pledge(dispatcher, organization, incident, {"kind": "money", "amount": "5000.00"},
                                   {"amount": "5000.00"})
    received = await donate(dispatcher, incident, "5000.00", pledge_id=pledge["id"],
                            earmark={"purpose": "rescue_operation", "region": "32"})
    assert received["earmark"] == {"purpose": "rescue_operation", "region": "32", "region_name": "江苏省"}
    assert (await (await dispatcher.get(f"/v1/pledges/{pledge['id']}")).json())["status"] == "delivered"
    goods = await dispatcher.post(f"/v1/incidents/{incident}/donations", headers={"Idempotency-Key": "g"}, json={
        "kind": "goods", "item": "tent", "unit": "piece", "quantity": "3", "earmark": {"purpose": "medical"}})
    assert (await problem(goods, 422))["errors"][0]["pointer"] == "/earmark"
    for earmark, pointer in (({"purpose": "cars"}, "/earmark/purpose"), ({"purpose": "medical", "region": "3"},
                                                                         "/earmark/region"), ({}, "/earmark/purpose")):
        response = await dispatcher.post(f"/v1/incidents/{incident}/donations", json={
            "kind": "money", "amount": "1", "earmark": earmark}, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert (await problem(response, 422))["errors"][0]["pointer"] == pointer, earmark
    funds = await fund_list(dispatcher, incident)
    assert [(f["earmark"], f["received"]) for f in funds] == [
        (None, "10.00"), ({"purpose": "rescue_operation", "region": "32", "region_name": "江苏省"}, "5000.00")]
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_a_reversal_returns_the_money_and_restores_the_counters(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "1000.00")
    before = await tally(conn, incident)
    d = await proposed(dispatcher, incident, payment("300.00", purpose="shelter_operation"))
    assert (await problem(await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={"reason": "x"}),
                          409))["state"] == "proposed"
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200

    missing = await problem(await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={}), 422)
    assert missing["errors"][0]["pointer"] == "/reason"
    # One dispatcher records a reversal (it pays nobody), even the one who proposed the payment.
    response = await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={"reason": "重复拨付"})
    assert response.status == 201, await response.text()
    reversal = await response.json()
    assert response.headers["Location"] == f"/v1/disbursements/{reversal['id']}"
    assert (reversal["entry"], reversal["amount"], reversal["reverses"], reversal["status"], reversal["reason"]) == (
        "reversal", "-300.00", d["id"], "approved", "重复拨付")
    assert reversal["voucher_no"] == d["voucher_no"] and reversal["recipient"] == d["recipient"]
    assert (await (await dispatcher.get(f"/v1/disbursements/{d['id']}")).json())["reversed_by"] == reversal["id"]
    [cny] = await fund_list(dispatcher, incident)
    assert (cny["paid"], cny["balance"]) == ("0.00", "1000.00")
    after = await tally(conn, incident)
    assert {k: v for k, v in after.items() if v} == {k: v for k, v in before.items() if v}
    assert after[("money_disbursed", "CNY")] == 0 and after[("disbursements", "")] == 0

    twice = await problem(await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={"reason": "x"}), 409)
    assert twice["state"] == "reversed"
    of_reversal = await dispatcher.post(f"/v1/disbursements/{reversal['id']}/reverse", json={"reason": "x"})
    assert (await problem(of_reversal, 409))["state"] == "reversal"
    event = await conn.fetchrow("select * from events where type = 'disbursement.reversed'")
    assert str(event["entity_id"]) == d["id"]
    listed = await (await dispatcher.get(f"/v1/incidents/{incident}/disbursements?entry=reversal")).json()
    assert [x["id"] for x in listed["items"]] == [reversal["id"]]
    assert await chain.verify(conn, incident_id=uuid.UUID(incident)) == (3, None)
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_a_donation_reversal_that_would_overdraw_its_fund_is_refused(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    donation = await donate(dispatcher, incident, "100.00", earmark={"purpose": "reconstruction"})
    d = await proposed(dispatcher, incident, payment("80.00", purpose="reconstruction",
                                                     fund={"purpose": "reconstruction"}))
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200
    refused = await problem(await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "退款"}),
                            409)
    assert (refused["available"], refused["type"]) == ("20.00", "/docs#problem-insufficient")
    assert await conn.fetchval("select count(*) from donations") == 1
    assert (await dispatcher.post(f"/v1/disbursements/{d['id']}/reverse", json={"reason": "追回"})).status == 201
    response = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "退款"})
    assert response.status == 201, await response.text()
    assert (await response.json())["earmark"] == {"purpose": "reconstruction", "region": None, "region_name": None}
    [fund] = await fund_list(dispatcher, incident)
    assert (fund["received"], fund["paid"], fund["balance"]) == ("0.00", "0.00", "0.00")
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_recipients_and_where_the_money_goes(dispatcher, conn):
    incident = await open_incident(dispatcher)
    await donate(dispatcher, incident, "1000")
    shelter = await (await dispatcher.post(f"/v1/incidents/{incident}/shelters", json={
        "name": "苏州中学安置点", "address": "苏州", "capacity": 300})).json()
    resident = await (await dispatcher.post(f"/v1/incidents/{incident}/residents", json={
        "name": "陈阿婆", "id_type": "resident_id", "id_number": resident_id(7), "phone": "13900001111",
        "origin_region": "320506"})).json()

    to_shelter = await proposed(dispatcher, incident, payment(recipient={"shelter_id": shelter["id"]}))
    assert (to_shelter["recipient"]["kind"], to_shelter["recipient"]["shelter_name"], to_shelter["region"]) == (
        "shelter", "苏州中学安置点", None)
    response = await propose(dispatcher, incident, payment(recipient={"resident_id": resident["id"]}))
    assert response.status == 201
    text = await response.text()
    to_person = await response.json()
    assert (to_person["recipient"]["resident_id"], to_person["region"]) == (resident["id"], "320506")
    assert "陈阿婆" not in text  # a resident is named by id only, never by name
    events = await conn.fetchval("select string_agg(after::text, ' ') from events where entity_type = 'disbursement'")
    assert "陈阿婆" not in events

    for recipient, pointer in (({"shelter_id": shelter["id"], "households": 2, "region": "320505"}, "/recipient"),
                               ({"households": 2}, "/recipient"), ({}, "/recipient"),
                               ({"shelter_id": str(uuid.uuid4())}, "/recipient/shelter_id"),
                               ({"resident_id": str(uuid.uuid4())}, "/recipient/resident_id")):
        refused = await problem(await propose(dispatcher, incident, payment(recipient=recipient)), 422)
        assert refused["errors"][0]["pointer"] == pointer, (recipient, refused)
    elsewhere = await problem(await propose(dispatcher, incident, payment(region="320506")), 422)
    assert elsewhere["errors"][0]["pointer"] == "/region"  # the households are in 320505
    for body, pointer in ((payment("0.001"), "/amount"), (payment("-5"), "/amount"), (payment("0"), "/amount"),
                          (payment(purpose="party"), "/purpose"), (payment(currency="XYZ"), "/currency"),
                          (payment(voucher=" "), "/voucher_no"), ({**payment(), "voucher_no": None}, "/voucher_no")):
        refused = await problem(await propose(dispatcher, incident, body), 422)
        assert refused["errors"][0]["pointer"] == pointer, (body, refused)


async def test_idempotency_key_is_required_and_replays(dispatcher, conn):
    incident = await open_incident(dispatcher)
    body = payment("10")
    missing = await dispatcher.post(f"/v1/incidents/{incident}/disbursements", json=body)
    assert (await problem(missing, 400))["errors"][0]["parameter"] == "Idempotency-Key"
    key = str(uuid.uuid4())
    first, again = await propose(dispatcher, incident, body, key), await propose(dispatcher, incident, body, key)
    assert (first.status, again.status) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and await first.json() == await again.json()
    assert (await propose(dispatcher, incident, payment("11"), key)).status == 422
    assert await conn.fetchval("select count(*) from disbursements") == 1


async def test_who_writes_and_who_reads(dispatcher, viewer, organization, conn):
    incident = await open_incident(dispatcher)
    await donate(dispatcher, incident, "100")
    d = await proposed(dispatcher, incident, payment("10", recipient={"organization_id": organization.id}))
    for path in (f"/v1/incidents/{incident}/disbursements", f"/v1/disbursements/{d['id']}",
                 f"/v1/incidents/{incident}/funds"):
        assert (await viewer.get(path)).status == 200, path
        assert (await problem(await organization.api.get(path), 403))["type"] == "/docs#problem-forbidden", path
    for api in (viewer, organization.api):
        await problem(await propose(api, incident, payment("1")), 403)
        for action in ("approve", "reject", "reverse"):
            body = None if action == "approve" else {"reason": "x"}
            await problem(await api.post(f"/v1/disbursements/{d['id']}/{action}", json=body), 403)
    # The recipient organization does not see the event either (it reads the public use report).
    assert await conn.fetchval("select count(*) from events e where e.entity_type = 'disbursement' "
                               "and event_visible_to(e, $1)", uuid.UUID(organization.id)) == 0
    assert (await dispatcher.get(f"/v1/disbursements/{uuid.uuid4()}")).status == 404
    assert (await dispatcher.get(f"/v1/incidents/{uuid.uuid4()}/funds")).status == 404
    assert (await propose(dispatcher, str(uuid.uuid4()), payment("1"))).status == 404


async def test_lists_page_and_filter(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "100")
    made = [await proposed(dispatcher, incident, payment("1", purpose=p)) for p in ("medical", "other", "medical")]
    assert (await approver.post(f"/v1/disbursements/{made[0]['id']}/approve")).status == 200
    base = f"/v1/incidents/{incident}/disbursements"
    first = await (await dispatcher.get(f"{base}?limit=2")).json()
    rest = await (await dispatcher.get(f"{base}?limit=2&cursor={first['next_cursor']}")).json()
    assert [x["id"] for x in first["items"] + rest["items"]] == [m["id"] for m in reversed(made)]
    assert rest["next_cursor"] is None
    medical = await (await dispatcher.get(f"{base}?purpose=medical&status=proposed")).json()
    assert [x["id"] for x in medical["items"]] == [made[2]["id"]]
    assert (await dispatcher.get(f"{base}?status=paid")).status == 422


async def test_the_database_keeps_funds_and_decided_rows_honest(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "10.00")
    d = await proposed(dispatcher, incident, payment("10.00"))
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("update funds set paid = paid + 1")  # never beyond what came in
    with pytest.raises(asyncpg.RaiseError, match="decided"):
        await conn.execute("update disbursements set amount = 1")
    with pytest.raises(asyncpg.CheckViolationError):  # four eyes, down to the row
        await conn.execute("insert into disbursements (incident_id, amount, currency, purpose, recipient_households, "
                           "voucher_no, status, proposed_by, decided_by, decided_at) "
                           "values ($1, 1, 'CNY', 'other', 1, 'Y', 'approved', $2, $2, now())",
                           uuid.UUID(incident), uuid.uuid4())


async def test_openapi_says_what_the_server_does(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    paths = document["paths"]
    approve = paths["/v1/disbursements/{id}/approve"]["post"]
    assert {"403", "404", "409"} <= approve["responses"].keys()
    create = paths["/v1/incidents/{id}/disbursements"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in create["parameters"])
    assert {"201", "400", "403", "409", "422"} <= create["responses"].keys()
    assert "Location" in paths["/v1/disbursements/{id}/reverse"]["post"]["responses"]["201"]["headers"]
    assert "get" in paths["/v1/incidents/{id}/funds"]
    schemas = document["components"]["schemas"]
    assert set(schemas["Purpose"]["enum"]) == {"emergency_living_aid", "shelter_operation", "rescue_operation",
                                               "medical", "reconstruction", "other"}
    assert "earmark" in schemas["MoneyDonationCreate"]["properties"]


async def test_disbursed_at_is_when_the_money_was_paid_out(dispatcher, viewer, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "1000.00")
    # Paid on the voucher's date, recorded later: the proposal says when, and the approval keeps it.
    late = await proposed(dispatcher, incident, payment(voucher="SZMZ-2023-0801-001",
                                                        disbursed_at="2023-08-01T10:00:00+08:00"))
    assert late["disbursed_at"] == "2023-08-01T02:00:00Z" and late["created_at"] > "2024"
    approved = await (await approver.post(f"/v1/disbursements/{late['id']}/approve")).json()
    assert approved["status"] == "approved" and approved["disbursed_at"] == "2023-08-01T02:00:00Z"
    # Left out: a proposal reads its proposal time until it is approved, then it is paid when approved.
    now = await proposed(dispatcher, incident, payment())
    assert now["disbursed_at"] == now["created_at"]
    paid = await (await approver.post(f"/v1/disbursements/{now['id']}/approve")).json()
    assert paid["disbursed_at"] == paid["decided_at"] > now["created_at"]
    # A reversal is disbursed (given back) when it is recorded; the original keeps its time.
    response = await dispatcher.post(f"/v1/disbursements/{late['id']}/reverse", json={"reason": "重复拨付"})
    reversal = await response.json()
    assert response.status == 201 and reversal["disbursed_at"] == reversal["created_at"] > "2024"
    assert (await (await viewer.get(f"/v1/disbursements/{late['id']}")).json())["disbursed_at"] == late["disbursed_at"]
    listed = (await (await viewer.get(f"/v1/incidents/{incident}/disbursements?entry=payment")).json())["items"]
    assert sorted(d["disbursed_at"] for d in listed) == sorted([paid["disbursed_at"], "2023-08-01T02:00:00Z"])
    recorded = await conn.fetchval("select after->>'disbursed_at' from events where type = 'disbursement.approved' "
                                   "order by id limit 1")
    assert recorded == "2023-08-01T02:00:00Z"  # the event carries the read model
    # Not hashed: the chain verifies, and its encoding has no disbursed_at.
    assert "disbursed_at" not in chain.KINDS["disbursement"].public + chain.KINDS["disbursement"].digested
    assert (await chain.verify(conn, incident_id=uuid.UUID(incident)))[1] is None


async def test_disbursed_at_may_not_be_in_the_future(dispatcher, conn):
    from datetime import UTC, datetime, timedelta

    incident = await open_incident(dispatcher)
    await donate(dispatcher, incident, "1000.00")
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert (await propose(dispatcher, incident, payment(disbursed_at=soon))).status == 201
    for bad in ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "1899-12-31T00:00:00Z", "2023-08-01", 1690680600):
        error, = (await problem(await propose(dispatcher, incident, payment(disbursed_at=bad)), 422))["errors"]
        assert error["pointer"] == "/disbursed_at", (bad, error)
    assert await conn.fetchval("select count(*) from disbursements") == 1
