"""Disbursements under a surge: never paid beyond a fund's balance, reversed once, and the counters equal the rows."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from relief import chain, summary
from tests.test_disbursements import (
    donate,
    fund_list,
    open_incident,
    payment,
    propose,
    proposed,
    second_dispatcher,
)

# A surge from one key is over the default per-key burst (100) on purpose.
SURGE = {"rate_limit_burst": 10_000, "rate_limit_per_second": 10_000}



@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_300_concurrent_approvals_never_pay_beyond_the_fund(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "100.00")
    made = await asyncio.gather(*(proposed(dispatcher, incident, payment("1.00", voucher=f"V-{i:03d}"))
                                  for i in range(300)))
    [fund] = await fund_list(dispatcher, incident)
    assert (fund["balance"], fund["proposed"]) == ("100.00", "300.00")

    # Watch the balance from outside while the approvals run: it never reads below zero.
    lowest: list[Decimal] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            lowest.append(await conn.fetchval("select min(received - paid) from funds"))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        responses = await asyncio.gather(*(approver.post(f"/v1/disbursements/{d['id']}/approve") for d in made))
    finally:
        done.set()
        await watcher
    assert Counter(r.status for r in responses) == {200: 100, 409: 200}
    refused = [await r.json() for r in responses if r.status == 409]
    assert {p["available"] for p in refused} == {"0.00"}
    assert {p["type"] for p in refused} == {"/docs#problem-insufficient"}
    assert lowest and min(lowest) >= 0

    [fund] = await fund_list(dispatcher, incident)
    assert (fund["received"], fund["paid"], fund["balance"], fund["proposed"]) == (
        "100.00", "100.00", "0.00", "200.00")
    assert await conn.fetchval("select count(*) from disbursements where status = 'approved'") == 100
    assert await conn.fetchval("select count(*) from events where type = 'disbursement.approved'") == 100
    assert await conn.fetchval("select count(*) from ledger_entries where kind = 'disbursement'") == 100
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
    assert (await chain.verify(conn, incident_id=uuid.UUID(incident)))[1] is None


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_concurrent_reversals_reverse_once(dispatcher, conn):
    incident = await open_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await donate(dispatcher, incident, "50.00")
    d = await proposed(dispatcher, incident, payment("50.00"))
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200
    path = f"/v1/disbursements/{d['id']}/reverse"
    responses = await asyncio.gather(*(api.post(path, json={"reason": "重复"}) for api in [dispatcher, approver] * 15))
    assert Counter(r.status for r in responses) == {201: 1, 409: 29}
    [fund] = await fund_list(dispatcher, incident)
    assert (fund["paid"], fund["balance"]) == ("0.00", "50.00")
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_a_donation_reversal_racing_an_approval_leaves_the_fund_whole(dispatcher, conn):
    """One fund of 100, one approval of 100 and the reversal of the donation at once: exactly one wins."""
    for round in range(5):
        incident = await open_incident(dispatcher, f"RACE-{round}")
        approver = await second_dispatcher(dispatcher, conn)
        donation = await donate(dispatcher, incident, "100.00")
        d = await proposed(dispatcher, incident, payment("100.00"))
        approve, reverse = await asyncio.gather(
            approver.post(f"/v1/disbursements/{d['id']}/approve"),
            dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "退回"}),
        )
        assert {approve.status, reverse.status} in ({200, 409}, {201, 409}), (approve.status, reverse.status)
        loser = approve if approve.status == 409 else reverse
        assert (await loser.json())["available"] == "0.00"
        [fund] = await fund_list(dispatcher, incident)
        assert Decimal(fund["balance"]) == 0
        assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_random_concurrent_money_operations_leave_no_difference(dispatcher, organization, conn):
    rng = random.Random(20230801)
    incident = await open_incident(dispatcher)
    approvers = [dispatcher, await second_dispatcher(dispatcher, conn), await second_dispatcher(dispatcher, conn)]
    earmarks = [None, {"purpose": "medical", "region": "3205"}, {"purpose": "emergency_living_aid"}]
    donations: list[dict] = []
    proposals: list[dict] = []
    approved: list[dict] = []
    done: Counter[str] = Counter()

    async def give() -> None:
        earmark = rng.choice(earmarks)
        body = {"kind": "money", "amount": f"{rng.randint(1, 300)}.{rng.randint(0, 99):02d}",
                "currency": rng.choice(["CNY", "CNY", "HKD"])}
        if earmark:
            body["earmark"] = earmark
        response = await dispatcher.post(f"/v1/incidents/{incident}/donations", json=body,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        if response.status == 201:
            donations.append(await response.json())
            done["donate"] += 1

    async def take_back() -> None:
        if donations:
            response = await dispatcher.post(f"/v1/donations/{rng.choice(donations)['id']}/reverse",
                                             json={"reason": "退回"})
            done[f"donation reversal {response.status}"] += 1

    async def ask() -> None:
        earmark = rng.choice(earmarks)
        purpose = earmark["purpose"] if earmark else rng.choice(["medical", "shelter_operation", "other"])
        body = payment(f"{rng.randint(1, 200)}.{rng.randint(0, 99):02d}", purpose=purpose, fund=earmark,
                       currency=rng.choice(["CNY", "CNY", "HKD"]), recipient=rng.choice([
                           {"households": rng.randint(1, 30), "region": "320505"},
                           {"organization_id": organization.id}]))
        if body["recipient"].get("organization_id"):
            body["region"] = "320506"
        proposer = rng.choice(approvers)
        response = await propose(proposer, incident, body)
        if response.status == 201:
            proposals.append({**await response.json(), "by": proposer})
            done["propose"] += 1

    async def decide() -> None:
        if not proposals:
            return
        d = rng.choice(proposals)
        api = rng.choice(approvers)  # sometimes the proposer's own key: a 403, part of the storm
        action = rng.choice(["approve", "approve", "approve", "reject"])
        body = {"reason": "不符合条件"} if action == "reject" else None
        response = await api.post(f"/v1/disbursements/{d['id']}/{action}", json=body)
        if response.status == 200 and action == "approve":
            approved.append(await response.json())
        done[f"{action} {response.status}"] += 1

    async def undo() -> None:
        if approved:
            response = await rng.choice(approvers).post(f"/v1/disbursements/{rng.choice(approved)['id']}/reverse",
                                                        json={"reason": "追回"})
            done[f"disbursement reversal {response.status}"] += 1

    await asyncio.gather(*(give() for _ in range(30)))
    await asyncio.gather(*(ask() for _ in range(30)))
    for d in proposals[:15]:  # approved payments, so that the storm has some to reverse
        response = await next(a for a in approvers if a is not d["by"]).post(f"/v1/disbursements/{d['id']}/approve")
        if response.status == 200:
            approved.append(await response.json())
    assert approved
    operations = [give() for _ in range(30)] + [take_back() for _ in range(25)] + [ask() for _ in range(40)]
    operations += [decide() for _ in range(80)] + [undo() for _ in range(25)]
    rng.shuffle(operations)
    await asyncio.gather(*operations)

    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
    assert (await chain.verify(conn, incident_id=uuid.UUID(incident)))[1] is None
    assert all(Decimal(f["balance"]) >= 0 for f in await fund_list(dispatcher, incident))
    assert not [k for k in done if k.endswith(" 500")], done
    for happened in ("approve 200", "approve 409", "disbursement reversal 201", "donation reversal 201"):
        assert done[happened] > 0, done
