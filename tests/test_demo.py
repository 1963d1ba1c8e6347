"""The Doksuri demo: its figures, its consistency, loading it twice, and the `relief demo` command."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from uuid import UUID

from models.codes import check_credit_code
from relief import chain, demo, overdue, summary
from relief.demo_data import DONATIONS, DUPLICATE, HOUSEHOLDS, ORGANIZATIONS, PASSPORT_HOLDER
from relief.demo_field import ROSTERS
from tests.conftest import Api, incident_body
from tests.test_cli import relief
from tests.test_disbursements import payment, proposed

SECRET = b"test-secret"
KEY = r"rk_[A-Za-z0-9_-]{43}"
TABLES = ("incidents", "organizations", "calls", "pledges", "donations", "residents", "evacuations", "shelters",
          "sites", "stock_movements", "stock_levels", "disbursements", "funds", "ledger_entries", "roster_members",
          "tasks", "task_assignments", "deployments", "impacts", "sitreps")


async def _counts(conn) -> dict[str, int]:
    return {table: await conn.fetchval(f"select count(*) from {table}") for table in TABLES}


async def test_the_demo_shows_the_doksuri_figures_and_reconciles(conn):
    started = time.monotonic()
    result = await demo.load(conn, secret=SECRET)
    assert time.monotonic() - started < 10
    assert result.loaded

    figures = await summary.summary(conn, incident_id=result.incident_id)
    cny = {m.currency: m for m in figures.money}["CNY"]
    assert Decimal(5_700_000) <= cny.received < Decimal(5_800_000)
    assert Decimal(900_000) <= figures.goods.value_received["CNY"] <= Decimal(950_000)
    people = figures.residents
    assert people.evacuated >= 3900
    assert people.evacuated == people.individual + people.aggregate
    assert people.individual > 0 and people.aggregate > 0
    assert people.centralized > 0 and people.dispersed > 0 and people.returned > 0
    assert 18 <= figures.organizations_participating <= 22
    assert figures.personnel.delivered > 0
    assert figures.calls_by_status.get("open") and figures.calls_by_status.get("fulfilled")

    statuses = {r[0] for r in await conn.fetch("select distinct status from pledges")}
    assert statuses == {"pledged", "accepted", "rejected", "withdrawn", "dispatched", "delivered"}
    kinds = {r[0] for r in await conn.fetch("select distinct kind from calls")}
    assert kinds == {"money", "goods", "personnel"}
    assert await conn.fetchval("select count(*) from donations where reverses is not null") == 1
    placements = {r[0] for r in await conn.fetch("select distinct placement from evacuations")}
    assert placements == {"centralized", "dispersed"}
    assert await conn.fetchval("select count(distinct shelter_id) from residents where shelter_id is not null") >= 3
    assert await conn.fetchval("select count(*) from events where type = 'resident.moved'") > 0

    # Valid credit codes; ID numbers (checked by the service on registration) never stored in full.
    for (code,) in await conn.fetch("select credit_code from organizations"):
        assert check_credit_code(code) == code
    assert await conn.fetchval("select count(*) from residents where id_type = 'resident_id'") > 30
    assert await conn.fetchval("select count(*) from residents where length(id_last4) <> 4") == 0

    assert await summary.reconcile(conn, incident_id=result.incident_id) == []


def _people() -> set[str]:
    """The demo's residents and individual donors, by name (and the phones given with them)."""
    names = {name for household in HOUSEHOLDS for name, *_ in household[5]} | {h[4] for h in HOUSEHOLDS}
    names |= {part.strip("()") for part in PASSPORT_HOLDER[0].split(" ", 1)} | {PASSPORT_HOLDER[1]}
    donors = {d["donor"] for d in [*DONATIONS, DUPLICATE] if d["donor"] and d["donor"] not in ORGANIZATIONS}
    assert donors and len(names) > 40  # what is looked for below is really there to find
    return names | donors


async def test_the_demo_shows_where_the_help_went_and_its_use_report_adds_up(conn, client, anonymous):
    result = await demo.load(conn, secret=SECRET)
    incident = result.incident_id
    response = await anonymous.get(f"/v1/public/incidents/{incident}/use")
    assert response.status == 200, await response.text()
    text = await response.text()
    report = await response.json()

    # Money: paid out for every kind of use, from the funds it came into, never beyond them.
    (cny,) = report["money"]
    paid = {purpose: Decimal(v) for purpose, v in cny["paid_by_purpose"].items()}
    assert {"emergency_living_aid", "shelter_operation", "rescue_operation"} <= paid.keys()
    assert all(v > 0 for v in paid.values())
    assert Decimal(cny["paid"]) == sum(paid.values()) > 0
    assert Decimal(cny["balance"]) == Decimal(cny["received"]) - Decimal(cny["paid"]) > 0
    funds = cny["funds"]
    assert sum(Decimal(f["received"]) for f in funds) == Decimal(cny["received"])
    assert sum(Decimal(f["paid"]) for f in funds) == Decimal(cny["paid"])
    for fund in funds:
        assert Decimal(fund["balance"]) == Decimal(fund["received"]) - Decimal(fund["paid"]) >= 0
    (earmarked,) = [f for f in funds if f["purpose"]]
    assert (earmarked["purpose"], earmarked["region"]) == ("emergency_living_aid", "3205")
    assert 0 < Decimal(earmarked["paid"]) <= Decimal(earmarked["received"])
    assert await conn.fetchval("select count(*) from disbursements where status = 'approved' and fund_region = '3205' "
                               "and purpose = 'emergency_living_aid' and region like '3205%'") >= 1
    statuses = dict(await conn.fetch("select status, count(*) from disbursements group by status"))
    assert statuses.get("proposed") and statuses.get("rejected") and statuses.get("approved", 0) >= 5
    assert await conn.fetchval("select count(*) from disbursements where status = 'rejected' and reason <> ''") >= 1
    # Four eyes: every decision by another key than the proposal's (both keys revoked once the load ended).
    assert await conn.fetchval("select count(*) from disbursements where decided_by = proposed_by") == 0
    assert await conn.fetchval("select count(distinct k.id) from disbursements d join api_keys k "
                               "on k.id in (d.proposed_by, d.decided_by) where k.revoked_at is not null") == 2

    # Goods: received at warehouses and the intake site, moved to shelters, handed out, some written off.
    goods = {g["item"]: g for g in report["goods"]}
    for g in goods.values():
        left = Decimal(g["received"]) - Decimal(g["distributed"]) - Decimal(g["written_off"])
        assert Decimal(g["on_hand"]) + Decimal(g["in_transit"]) == left and Decimal(g["on_hand"]) >= 0
    assert sum(Decimal(g["distributed"]) for g in goods.values()) > 0
    assert sum(Decimal(g["written_off"]) for g in goods.values()) > 0
    assert Decimal(report["people_reached"]) == sum(Decimal(g["people_reached"]) for g in goods.values()) > 0
    water = goods["drinking_water"]
    assert Decimal(water["distributed"]) > 0 and Decimal(water["written_off"]) > 0
    at_warehouses = await conn.fetchval("select count(*) from donations d join sites s on s.id = d.site_id "
                                        "where s.kind = 'warehouse'")
    assert at_warehouses >= 3 and await conn.fetchval("select count(*) from sites where kind = 'warehouse'") == 2
    assert await conn.fetchval("select count(*) from donations d join sites s on s.id = d.site_id where s.intake") > 0
    transfers = await conn.fetch("select t.to_shelter_id, a.quantity, a.lost, a.reason from stock_movements t "
                                 "left join stock_movements a on a.transfer_id = t.id where t.kind = 'transfer'")
    assert sum(1 for t in transfers if t["quantity"] is not None and t["lost"] == 0) >= 5
    (short,) = [t for t in transfers if t["lost"] and t["lost"] > 0]
    assert short["quantity"] > 0 and short["reason"] and short["to_shelter_id"] is not None
    recipients = {r[0] for r in await conn.fetch("select distinct recipient_kind from stock_movements "
                                                 "where kind = 'distribution'")}
    assert {"shelter_residents", "group"} <= recipients
    assert {r[0] for r in await conn.fetch("select reason from stock_movements where kind = 'write_off'")} >= {
        "damaged", "expired"}
    assert await conn.fetchval("select count(*) from events where type = 'stock.low'") == 1
    assert await conn.fetchval("select count(*) from stock_levels where low") == 1

    # The same figures as the summary's, the received totals among them; counters and chain intact.
    dispatcher = Api(client, result.dispatcher_key)
    figures = await (await dispatcher.get(f"/v1/incidents/{incident}/summary")).json()
    assert {k: report[k] for k in ("money", "goods", "people_reached")} == figures["use"]
    assert {m["currency"]: m["received"] for m in figures["money"]} == {"CNY": cny["received"]}
    assert await summary.reconcile(conn, incident_id=incident) == []
    checked, mismatch = await chain.verify(conn, incident_id=incident)
    assert mismatch is None
    assert checked == report["ledger"]["entries"] == await conn.fetchval(
        "select count(*) from ledger_entries where incident_id = $1", incident)

    # Organizations by name; nobody's name otherwise, in the report or in the public ledger.
    assert "吴中区蓝天救援队" in report["organizations"]
    entries = await anonymous.get(f"/v1/public/incidents/{incident}/ledger/entries?limit=5000")
    assert entries.status == 200, await entries.text()
    public = text + await entries.text() + await (await anonymous.get(f"/v1/public/incidents/{incident}")).text()
    assert sorted(name for name in _people() if name in public) == []


async def test_the_demo_approver_key_is_the_second_pair_of_eyes(conn, client):
    result = await demo.load(conn, secret=SECRET)
    incident = str(result.incident_id)
    dispatcher, approver = Api(client, result.dispatcher_key), Api(client, result.approver_key)
    # The proposal the scenario left pending: either demo key may decide it (neither proposed it).
    response = await dispatcher.get(f"/v1/incidents/{incident}/disbursements?status=proposed")
    (pending,) = (await response.json())["items"]
    response = await approver.post(f"/v1/disbursements/{pending['id']}/approve")
    assert response.status == 200, await response.text()
    # What the demo dispatcher proposes, only the approver approves.
    mine = await proposed(dispatcher, incident, payment("5000.00", recipient={"households": 5, "region": "320506"}))
    assert (await dispatcher.post(f"/v1/disbursements/{mine['id']}/approve")).status == 403
    response = await approver.post(f"/v1/disbursements/{mine['id']}/approve")
    assert response.status == 200, await response.text()
    assert await summary.reconcile(conn, incident_id=result.incident_id) == []


async def test_loading_twice_adds_nothing_but_issues_fresh_working_keys(conn, client):
    first = await demo.load(conn, secret=SECRET)
    before = await _counts(conn)
    second = await demo.load(conn, secret=SECRET)
    assert not second.loaded
    assert second.incident_id == first.incident_id
    assert await _counts(conn) == before
    fresh, earlier = (
        {r.dispatcher_key, r.approver_key, r.organization_key} for r in (second, first))
    assert len(fresh) == 3 and fresh.isdisjoint(earlier)

    for key in (*fresh, *earlier):
        response = await Api(client, key).get("/v1/incidents")
        assert response.status == 200, await response.text()
    response = await Api(client, second.dispatcher_key).get(f"/v1/incidents/{first.incident_id}/summary")
    assert response.status == 200, await response.text()
    # The organization key acts as the demo organization, which has pledges of its own.
    response = await Api(client, second.organization_key).get("/v1/pledges")
    assert response.status == 200, await response.text()
    assert (await response.json())["items"]
    assert await summary.reconcile(conn, incident_id=first.incident_id) == []


async def test_serve_loads_the_demo_only_into_a_database_without_incidents(conn, dispatcher):
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    assert await demo.load_if_empty(conn, secret=SECRET) is None
    assert await conn.fetchval("select count(*) from incidents") == 1
    assert await conn.fetchval("select count(*) from organizations") == 0


async def test_load_if_empty_loads_an_empty_database(conn):
    result = await demo.load_if_empty(conn, secret=SECRET)
    assert result is not None and result.loaded
    assert await demo.load_if_empty(conn, secret=SECRET) is None


async def test_relief_demo_prints_the_keys_and_reconcile_finds_nothing(database_url, conn, client):
    result = await relief(database_url, "demo")
    assert result.returncode == 0, result.stderr
    dispatcher_key = re.search(f"^demo dispatcher key: ({KEY})$", result.stdout, re.M)
    organization_key = re.search(f"^demo organization key: ({KEY})", result.stdout, re.M)
    approver_key = re.search(f"^demo approver key: ({KEY})", result.stdout, re.M)
    assert dispatcher_key and organization_key and approver_key, result.stdout
    assert approver_key[1] not in result.stderr
    incident_id = await conn.fetchval("select id from incidents where code = $1", demo.INCIDENT_CODE)
    assert f"/v1/incidents/{incident_id}" in result.stdout
    assert dispatcher_key[1] not in result.stderr and organization_key[1] not in result.stderr

    response = await Api(client, dispatcher_key[1]).get(f"/v1/incidents/{incident_id}")
    assert response.status == 200, await response.text()

    again = await relief(database_url, "demo")
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    assert dispatcher_key[1] not in again.stdout
    assert await conn.fetchval("select count(*) from incidents") == 1

    checked = await relief(database_url, "reconcile")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 difference(s)" in checked.stdout


async def test_the_demo_has_teams_in_the_field_and_one_member_overdue(conn, client, anonymous, viewer):
    result = await demo.load(conn, secret=SECRET)
    incident = result.incident_id

    # Three volunteer teams with named rosters, one lead each, every member with an emergency contact.
    teams = await conn.fetch(
        """
        select o.kind, p.status, count(*) as members, count(*) filter (where m.role = 'lead') as leads,
               count(m.emergency_phone) as contacts
          from roster_members m join pledges p on p.id = m.pledge_id join organizations o on o.id = p.organization_id
         where m.incident_id = $1 and m.removed_at is null group by o.kind, p.id, p.status
        """,
        incident,
    )
    assert len(teams) == 3
    assert {t["kind"] for t in teams} == {"volunteer_team"}
    assert {t["status"] for t in teams} == {"accepted", "dispatched", "delivered"}
    assert all(t["leads"] == 1 and t["contacts"] == t["members"] > 0 for t in teams)

    # Tasks in several states; the done one with its outcome figures.
    statuses = dict(await conn.fetch("select status, count(*) from tasks where incident_id = $1 group by status",
                                     incident))
    assert {"open", "assigned", "in_progress", "done"} <= statuses.keys()
    figures = await summary.summary(conn, incident_id=incident)
    assert figures.tasks.people_transferred > 0

    # Someone on site, and exactly one member overdue: the muster shows it at once, and the watch the
    # service runs (the test app's included, which may have got there first) raises exactly one
    # deployment.overdue for it: a round by the same function raises nothing more.
    muster = await (await Api(client, result.dispatcher_key).get(f"/v1/incidents/{incident}/field")).json()
    assert muster["on_site"] >= 5
    assert muster["overdue"] == 1 and len(muster["alarms"]) == 1
    assert muster["tasks"][0]["overdue"] == 1  # overdue first
    await overdue.raise_due(conn, grace=900.0)
    assert await overdue.raise_due(conn, grace=900.0) == []
    assert await conn.fetchval("select count(*) from events where type = 'deployment.overdue'") == 1
    assert await conn.fetchval("select count(*) from deployments where checked_out_at is not null") > 0

    assert await summary.reconcile(conn, incident_id=incident) == []

    # Members' phones and emergency contacts: masked for a viewer, nowhere on the public pages.
    phones = {m[1] for members in ROSTERS.values() for m in members} | {
        m[5][1] for members in ROSTERS.values() for m in members}
    shown = await (await viewer.get(f"/v1/incidents/{incident}/field")).text()
    assert [p for p in phones if p in shown] == []
    public = ""
    for path in (f"/v1/public/incidents/{incident}", f"/v1/public/incidents/{incident}/use"):
        response = await anonymous.get(path)
        assert response.status == 200, await response.text()
        public += await response.text()
    assert [p for p in phones if p in public] == []


async def test_the_demo_has_impact_figures_from_the_government_and_from_organizations(conn, client):
    result = await demo.load(conn, secret=SECRET)
    incident = result.incident_id
    sources = dict(await conn.fetch("select source, count(*) from impacts where incident_id = $1 group by source",
                                    incident))
    assert sources.keys() == {"government", "organization", "media"}
    assert sources["government"] > sources["organization"] > 0
    regions = {r[0] for r in await conn.fetch("select distinct region from impacts where incident_id = $1", incident)}
    assert len(regions) >= 3 and regions <= {"320505", "320506", "320507", "320508", "320583", "320585"}
    started = await conn.fetchval("select started_at from incidents where id = $1", incident)
    assert await conn.fetchval("select count(*) from impacts where as_of < $1 or as_of > now()", started) == 0

    # Current values: the government's later, higher count; beside it an organization's own, which differs.
    response = await Api(client, result.dispatcher_key).get(
        f"/v1/incidents/{incident}/impacts/current?region=320506&figure=affected")
    assert response.status == 200, await response.text()
    items = (await response.json())["items"]
    government = [i for i in items if i["source"] == "government"]
    organization = [i for i in items if i["source"] == "organization"]
    assert len(government) == 1 and len(organization) == 1
    assert organization[0]["organization_name"] and organization[0]["value"] != government[0]["value"]
    first = await conn.fetchval("select min(value) from impacts where incident_id = $1 and region = '320506' "
                                "and figure = 'affected' and source = 'government'", incident)
    assert Decimal(government[0]["value"]) > first
    assert await conn.fetchval("select count(*) from impacts where incident_id = $1 and figure in ('dead', 'missing') "
                               "and value <> 0", incident) == 0
    assert await conn.fetchval("select count(*) from events where type = 'impact.recorded'") == sum(sources.values())


async def test_the_demo_has_an_initial_report_and_an_update_that_name_no_one(conn, client, anonymous):
    result = await demo.load(conn, secret=SECRET)
    incident = result.incident_id
    dispatcher = Api(client, result.dispatcher_key)
    listed = await (await dispatcher.get(f"/v1/incidents/{incident}/sitreps")).json()
    assert [(r["number"], r["kind"]) for r in listed["items"]] == [(2, "update"), (1, "initial")]
    update, initial = [await (await dispatcher.get(f"/v1/sitreps/{r['id']}")).json() for r in listed["items"]]

    # Dated inside the incident, the first before the districts' verified count, the second after it.
    assert initial["issued_at"].startswith("2023-07-29T12:00") and update["issued_at"].startswith("2023-07-31T10:00")
    assert initial["narrative"] and update["narrative"] and initial["figures"]["time_zone"] == "Asia/Shanghai"
    assert update["figures"]["previous"]["number"] == 1
    changes = {c["figure"]: c for c in update["figures"]["changes"]}
    assert changes, "the update says what moved since the initial report"
    wuzhong = changes["impacts.320506.affected.government"]
    assert (wuzhong["previous"], wuzhong["current"], wuzhong["delta"]) == ("8600", "12400", "3800")
    assert "money.paid.CNY" in changes  # the disbursements came after the initial report
    assert any(c.startswith("impacts.") and ".organization." in c for c in changes)  # a new source appeared

    # Nobody's name or phone (residents, donors, team members and their contacts) in either report, in any form.
    phones = {m[1] for members in ROSTERS.values() for m in members} | {
        m[5][1] for members in ROSTERS.values() for m in members}  # residents' phones are among _people()
    text = ""
    for report in (initial, update):
        for path in (f"/v1/sitreps/{report['id']}", f"/v1/sitreps/{report['id']}.csv",
                     f"/v1/sitreps/{report['id']}.html?lang=zh", f"/v1/sitreps/{report['id']}.html?lang=en"):
            response = await dispatcher.get(path)
            assert response.status == 200, await response.text()
            text += await response.text()
        for path in (f"/v1/public/sitreps/{report['id']}", f"/v1/public/sitreps/{report['id']}.html?lang=zh"):
            response = await anonymous.get(path)
            assert response.status == 200, await response.text()
            text += await response.text()
    assert sorted(name for name in _people() if name in text) == []
    assert sorted(p for p in phones if p in text) == []


async def test_the_demo_has_an_alert_two_teams_answered_and_one_escalated(conn, client):
    result = await demo.load(conn, secret=SECRET)
    dispatcher = Api(client, result.dispatcher_key)
    listed = await (await dispatcher.get(f"/v1/incidents/{result.incident_id}/alerts")).json()
    alert, = listed["items"]
    reach = (await (await dispatcher.get(f"/v1/alerts/{alert['id']}/targets")).json())["items"]
    answered = {t["organization"]["name"]: (t["ack_status"], t["escalated_at"] is not None) for t in reach}
    assert answered == {"吴中区蓝天救援队": ("responding", False), "相城区应急救援志愿服务队": ("received", False),
                        "吴中区东山镇水上救援队": (None, True)}
    acks = await (await dispatcher.get(f"/v1/alerts/{alert['id']}/acks")).json()
    assert [o["name"] for o in acks["not_acknowledged"]] == ["吴中区东山镇水上救援队"]
    assert await conn.fetchval("select count(*) from events where type = 'alert.escalated'") == 1


def _in_story(stamp: str) -> bool:
    """An API time within the demo's July–August 2023 (UTC)."""
    return "2023-07-27" <= stamp[:10] <= "2023-08-31"


async def test_the_demo_is_dated_in_july_and_august_2023_except_its_event_log_and_ledger(conn, client):
    result = await demo.load(conn, secret=SECRET)
    dispatcher = Api(client, result.dispatcher_key)
    incident = f"/v1/incidents/{result.incident_id}"
    for path in ("/calls", "/shelters", "/residents", "/evacuations", "/alerts", "/sites"):
        items = (await (await dispatcher.get(f"{incident}{path}?limit=100")).json())["items"]
        late = [i["created_at"] for i in items if not _in_story(i["created_at"])]
        assert items and not late, (path, late[:3])
    pledges = (await (await dispatcher.get(f"/v1/pledges?incident_id={result.incident_id}&limit=100")).json())["items"]
    assert pledges and all(_in_story(p["created_at"]) and _in_story(p["updated_at"]) for p in pledges)
    # In load order: the first pledge the scenario made reads as the earliest.
    first = await conn.fetchval("select entity_id from events where type = 'pledge.created' order by id limit 1")
    assert min(pledges, key=lambda p: p["created_at"])["id"] == str(first)
    sheltered = [r for r in (await (await dispatcher.get(f"{incident}/residents?limit=100")).json())["items"]
                 if r["sheltered_at"]]
    assert sheltered and all(_in_story(r["sheltered_at"]) and r["sheltered_at"] > r["created_at"] for r in sheltered)
    organization = await (await dispatcher.get(f"/v1/organizations/{result.organization_id}")).json()
    assert _in_story(organization["created_at"])
    # The one still awaiting approval registered in the story too; a call closed in it was closed then.
    registered = (await (await dispatcher.get("/v1/organizations?limit=100")).json())["items"]
    assert registered and all(_in_story(o["created_at"]) for o in registered), [o["created_at"] for o in registered]
    calls = (await (await dispatcher.get(f"{incident}/calls?limit=100")).json())["items"]
    closed = [c for c in calls if c["closed_at"]]
    assert closed and all(_in_story(c["closed_at"]) and c["closed_at"] > c["created_at"] for c in closed)
    # The event log is append-only and the ledger's times are in its signed chain: both stay at load time.
    assert await conn.fetchval("select count(*) from events where created_at < '2024-01-01'") == 0
    assert await conn.fetchval("select count(*) from donations where created_at < '2024-01-01'") == 0
    assert (await chain.verify(conn, incident_id=result.incident_id))[1] is None
    # …but a donation says when it was received in the story (received_at is not hashed); only the
    # reversal of the duplicate, a correction made at load time, is received when it was recorded.
    donations = (await (await dispatcher.get(f"{incident}/donations?limit=100")).json())["items"]
    late = [(d["receipt_no"], d["received_at"]) for d in donations
            if d["entry"] == "receipt" and not _in_story(d["received_at"])]
    assert donations and not late, late
    online, = [d for d in donations if d["receipt_no"] == "NET-20230802-02"]
    assert online["received_at"] == "2023-08-02T10:00:00Z"  # 18:00 in Beijing
    reversal, = [d for d in donations if d["entry"] == "reversal"]
    assert reversal["received_at"] == reversal["created_at"]
    # …and a stock movement when the goods moved, a disbursement when it was paid (neither hashed).
    movements = (await (await dispatcher.get(f"{incident}/stock-movements?limit=100")).json())["items"]
    late = [(m["kind"], m["item"], m["moved_at"]) for m in movements if not _in_story(m["moved_at"])]
    assert len(movements) > 30 and not late, late
    assert all(m["created_at"] > "2024" for m in movements)
    first_day, = [m for m in movements if m["note"] == "7月29日首日发放"]
    assert first_day["moved_at"] == "2023-07-29T13:00:00Z"  # 21:00 in Beijing
    arrivals = {m["transfer_id"]: m["moved_at"] for m in movements if m["kind"] == "arrival"}
    sent = {m["id"]: m["moved_at"] for m in movements if m["kind"] == "transfer"}
    assert arrivals and all(sent[t] < arrived for t, arrived in arrivals.items())
    payments = (await (await dispatcher.get(f"{incident}/disbursements?limit=100")).json())["items"]
    late = [(d["voucher_no"], d["disbursed_at"]) for d in payments if not _in_story(d["disbursed_at"])]
    assert payments and not late, late
    for d in payments:  # on its voucher's date (SZMZ-2023-MMDD-…), Beijing time
        assert d["disbursed_at"][5:10].replace("-", "") == d["voucher_no"][10:14], d
    first, = [d for d in payments if d["voucher_no"] == "SZMZ-2023-0801-001"]
    assert first["disbursed_at"] == "2023-08-01T02:00:00Z" and first["status"] == "approved"
    assert (await chain.verify(conn, incident_id=result.incident_id))[1] is None


async def test_the_demo_team_subscription_shows_deliveries_delivered_and_failed(conn, client):
    from notifications import fanout

    result = await demo.load(conn, secret=SECRET)
    team = Api(client, result.organization_key, str(result.organization_id))
    hooks = (await (await team.get("/v1/webhooks")).json())["items"]
    hook, = hooks
    assert hook["url"] == "http://127.0.0.1:9/pager" and hook["status"] == "active"
    assert "演示" in hook["description"] and _in_story(hook["created_at"])
    log = (await (await team.get(f"/v1/webhooks/{hook['id']}/deliveries?limit=100")).json())["items"]
    statuses = [d["status"] for d in log]
    assert statuses.count("failed") == 2 and statuses.count("delivered") == len(log) - 2 > 10, statuses
    retried = [d for d in log if d["status"] == "delivered" and d["attempt_count"] == 2]
    assert len(retried) == 2 and retried[0]["attempts"][0]["status_code"] == 503
    attempts = [a for d in log for a in d["attempts"]]
    assert all(_in_story(a["attempted_at"]) for a in attempts)
    # Each seeded delivery is the one the fan-out would make: after the load's fan-out it has none more.
    while (await fanout.fan_out(conn, now=await conn.fetchval("select now()")))[0]:
        pass
    assert await conn.fetchval("select count(*) from webhook_deliveries where webhook_id = $1",
                               UUID(hook["id"])) == len(log)
    # The demo leaves the counters equal to the rows.
    assert await summary.reconcile(conn, incident_id=result.incident_id) == []
