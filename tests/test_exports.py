"""CSV exports: they parse as HXL, their totals equal the summary's, staff only, no personal data."""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from decimal import Decimal

import hxl
import hxl.validation
import pytest

from relief import exports
from tests.conftest import Api, incident_body
from tests.test_shelters import new_shelter, register, resident_body
from tests.test_summary import post, scenario

NAMES = ("pledges", "donations", "evacuations")

# Core hashtags of the HXL dictionary (https://hxlstandard.org/standard/dictionary/) that the exports use;
# a typo or an invented tag would not be in it.
HXL_CORE = {"#activity", "#adm3", "#affected", "#currency", "#date", "#item", "#loc", "#meta", "#modality",
            "#org", "#output", "#status", "#value"}

RESIDENTS = range(20, 24)  # indices for tests.test_shelters.resident_body
ORIGIN_ADDRESS = "吴中区东山镇太湖村 17 号"


async def evacuations(dispatcher: Api, organization, incident: str) -> None:
    """Four residents (one checked in, one moved, one returned home, one only registered) and two head counts."""
    gym = await new_shelter(dispatcher, incident, name="东山中学体育馆", capacity=100)
    hotel = await new_shelter(dispatcher, incident, name="东山宾馆", capacity=40)
    people = [await register(dispatcher, incident, i, origin_address=ORIGIN_ADDRESS, assisted_by=organization.id)
              for i in RESIDENTS]
    await post(dispatcher, f"/v1/residents/{people[0]['id']}/checkin", {"shelter_id": gym["id"]})
    await post(dispatcher, f"/v1/residents/{people[1]['id']}/checkin", {"shelter_id": gym["id"]})
    await post(dispatcher, f"/v1/residents/{people[1]['id']}/move", {"shelter_id": hotel["id"]})
    await post(dispatcher, f"/v1/residents/{people[2]['id']}/checkin", {"shelter_id": hotel["id"]})
    await post(dispatcher, f"/v1/residents/{people[2]['id']}/return")
    await post(dispatcher, f"/v1/incidents/{incident}/evacuations",
               {"count": 25, "from_region": "320506", "placement": "centralized", "shelter_id": gym["id"],
                "assisted_by": organization.id, "occurred_at": "2023-07-29T02:00:00Z"})
    await post(dispatcher, f"/v1/incidents/{incident}/evacuations",
               {"count": 40, "from_region": "320507", "placement": "dispersed"})


async def download(api: Api, incident: str, name: str) -> tuple[str, hxl.model.Dataset]:
    response = await api.get(f"/v1/incidents/{incident}/exports/{name}.csv")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="2023-DOKSURI-SZ-{name}.csv"'
    raw = await response.read()
    return raw.decode("utf-8"), hxl.data(io.BytesIO(raw))


def check_hashtags(name: str, dataset: hxl.model.Dataset, raw: str) -> None:
    columns = dataset.columns
    assert [c.display_tag for c in columns] == exports.EXPORTS[name].hashtags
    assert [c.header for c in columns] == exports.EXPORTS[name].headers
    assert {c.tag for c in columns} <= HXL_CORE
    # libhxl's default schema: #date columns hold dates, #value and #affected columns hold numbers.
    assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw.encode()))), name


def total(rows, column: str, *, key: str | None = None, where=lambda row: True) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if where(row) and row.get(column) not in (None, ""):
            sums[row.get(key) if key else ""] += Decimal(row.get(column))
    return dict(sums)


async def test_exports_parse_as_hxl_and_total_the_summary(dispatcher, viewer, organization, conn):
    incident = await scenario(dispatcher, organization, conn)
    await evacuations(dispatcher, organization, incident)
    figures = await (await viewer.get(f"/v1/incidents/{incident}/summary")).json()
    parsed = {}
    for name in NAMES:
        raw, dataset = await download(viewer, incident, name)
        check_hashtags(name, dataset, raw)
        parsed[name] = list(dataset)

    pledges = parsed["pledges"]
    assert len(pledges) == 5
    live = {"pledged", "accepted", "dispatched", "delivered"}  # the summary leaves out rejected and withdrawn

    def committed(row) -> str:  # a delivered pledge counts for what arrived
        return row.get("#output+delivered") if row.get("#status") == "delivered" else row.get("#meta+quantity")

    money_pledged: dict[str, Decimal] = defaultdict(Decimal)
    for row in pledges:
        if row.get("#activity+type") == "money" and row.get("#status") in live:
            money_pledged[row.get("#currency")] += Decimal(committed(row))
    assert money_pledged == {m["currency"]: Decimal(m["pledged"]) for m in figures["money"]}
    goods_value = total(pledges, "#value", where=lambda r: r.get("#activity+type") == "goods"
                        and r.get("#status") in live)
    assert goods_value == {"": Decimal(figures["goods"]["value_pledged"])}
    personnel = sum(Decimal(committed(r)) for r in pledges
                    if r.get("#activity+type") == "personnel" and r.get("#status") in live)
    assert personnel == Decimal(figures["personnel"]["pledged"])
    assert {r.get("#status") for r in pledges} == {"delivered", "withdrawn", "rejected", "pledged"}
    assert {r.get("#org+code") for r in pledges} == {"91350100M000100Y43", "9144030071526726XG"}

    donations = parsed["donations"]
    money = lambda row: row.get("#modality") == "money"  # noqa: E731
    goods = lambda row: row.get("#modality") == "goods"  # noqa: E731
    assert total(donations, "#value", key="#currency", where=money) == {
        m["currency"]: Decimal(m["received"]) for m in figures["money"]}
    assert total(donations, "#value", key="#currency", where=goods) == {
        c: Decimal(v) for c, v in figures["goods"]["value_received"].items()}
    assert total(donations, "#meta+quantity", key="#item+name", where=goods) == {
        i["item"]: Decimal(i["received"]) for i in figures["goods"]["items"]}
    reversals = [r for r in donations if r.get("#meta+entry") == "reversal"]
    assert len(reversals) == 1 and Decimal(reversals[0].get("#value")) == Decimal("-300000.00")
    assert reversals[0].get("#meta+reason") == "bank returned it"
    assert {(r.get("#org+donor+name"), r.get("#org+donor+type")) for r in donations} == {
        ("苏州蓝天救援队 0", "organization"), ("王女士", "individual"), ("anonymous", "anonymous")}
    # Recorded without a received time: received when recorded (a reversal always is).
    assert donations and all(r.get("#date+received") == r.get("#date+reported") for r in donations)

    people = parsed["evacuations"]
    residents = figures["residents"]
    assert total(people, "#affected+displaced") == {"": Decimal(residents["evacuated"])}
    assert total(people, "#affected+displaced", key="#meta+type") == {
        "individual": Decimal(residents["individual"]), "aggregate": Decimal(residents["aggregate"])}
    by_placement = total(people, "#affected+displaced", key="#meta+placement")
    assert by_placement["centralized"] == Decimal(residents["centralized"])
    assert by_placement["dispersed"] == Decimal(residents["dispersed"])
    assert by_placement["registered"] == 1  # the resident never checked in
    assert total(people, "#affected+displaced", where=lambda r: r.get("#status") == "returned") == {
        "": Decimal(residents["returned"])}
    assert {(r.get("#status"), r.get("#loc+name")) for r in people if r.get("#meta+type") == "individual"} == {
        ("sheltered", "东山中学体育馆"), ("sheltered", "东山宾馆"), ("returned", None), ("registered", None)}
    assert {r.get("#adm3+code") for r in people} == {"320506", "320507"}


async def test_exports_carry_no_personal_data(dispatcher, admin, organization, conn):
    incident = await scenario(dispatcher, organization, conn)
    await evacuations(dispatcher, organization, incident)
    secrets = ["13800000000", "13912345678", "王队长", "李", ORIGIN_ADDRESS]  # team lead, org contact, address
    for i in RESIDENTS:
        body = resident_body(i)
        secrets += [body["id_number"], body["phone"], body["name"]]
    for api in (dispatcher, admin):
        for name in NAMES:
            raw, _ = await download(api, incident, name)
            for secret in secrets:
                assert secret not in raw, f"{name}.csv holds {secret!r}"


async def test_only_staff_may_export(dispatcher, admin, viewer, organization, anonymous, conn):
    incident = await scenario(dispatcher, organization, conn)
    for name in NAMES:
        path = f"/v1/incidents/{incident}/exports/{name}.csv"
        for api in (admin, dispatcher, viewer):
            assert (await api.get(path)).status == 200
        response = await organization.api.get(path)
        assert response.status == 403
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert (await anonymous.get(path)).status == 401
        assert (await viewer.get(f"/v1/incidents/{uuid.uuid4()}/exports/{name}.csv")).status == 404
        assert (await viewer.get(f"/v1/incidents/not-an-id/exports/{name}.csv")).status == 404
    assert (await viewer.get(f"/v1/incidents/{incident}/exports/residents.csv")).status == 404


@pytest.mark.parametrize("name", NAMES)
async def test_an_empty_incident_exports_the_two_header_rows(dispatcher, viewer, name):
    incident = await post(dispatcher, "/v1/incidents", {
        "code": "2023-DOKSURI-SZ", "title": "空", "type": "flood", "severity": "IV", "regions": ["320500"],
        "started_at": "2023-07-28T01:55:00Z"})
    raw, dataset = await download(viewer, incident["id"], name)
    assert raw.count("\r\n") == 2 and list(dataset) == []
    check_hashtags(name, dataset, raw)


async def test_a_large_export_arrives_whole_across_many_chunks(dispatcher, viewer, organization, conn):
    incident = await scenario(dispatcher, organization, conn)
    call_id = await conn.fetchval("select id from calls where incident_id = $1 and kind = 'money'",
                                  uuid.UUID(incident))
    await conn.execute(
        """
        insert into pledges (call_id, incident_id, organization_id, kind, quantity, currency, created_at)
        select $1, $2, $3, 'money', n, 'CNY', now() + n * interval '1 ms' from generate_series(1, 3000) n
        """,
        call_id, uuid.UUID(incident), uuid.UUID(organization.id))
    response = await viewer.get(f"/v1/incidents/{incident}/exports/pledges.csv")
    assert response.headers["Transfer-Encoding"] == "chunked"
    raw = await response.read()
    assert len(raw) > 4 * 64 * 1024  # several writes
    rows = list(hxl.data(io.BytesIO(raw)))
    assert len(rows) == 5 + 3000
    assert sum(Decimal(r.get("#meta+quantity")) for r in rows[5:]) == 3000 * 3001 // 2
    assert [r.get("#meta+quantity") for r in rows[-2:]] == ["2999", "3000"]  # in pledge order


async def test_exports_beyond_the_limit_wait_their_turn_with_503(app, dispatcher):
    """Slow downloads hold pooled connections: only a few run at once, the rest are told to retry."""
    from handlers.exports import CONCURRENT_EXPORTS, EXPORT_SLOTS

    incident = (await (await dispatcher.post("/v1/incidents", json=incident_body(code="LIMIT"))).json())["id"]
    for _ in range(CONCURRENT_EXPORTS):
        await app[EXPORT_SLOTS].acquire()  # stand-ins for downloads still running
    busy = await dispatcher.get(f"/v1/incidents/{incident}/exports/pledges.csv")
    assert busy.status == 503 and busy.headers["Retry-After"] == "10"
    app[EXPORT_SLOTS].release()
    assert (await dispatcher.get(f"/v1/incidents/{incident}/exports/pledges.csv")).status == 200


async def test_impact_figures_export_every_observation_as_hxl(dispatcher, viewer, organization, conn):
    incident = await post(dispatcher, "/v1/incidents", {
        "code": "2023-DOKSURI-SZ", "title": "台风杜苏芮", "type": "typhoon", "severity": "III",
        "regions": ["320506", "320507"], "started_at": "2023-07-28T01:55:00Z"})
    base = f"/v1/incidents/{incident['id']}/impacts"
    sent = [
        {"region": "320506", "figure": "affected", "value": "8600", "source": "government",
         "as_of": "2023-07-29T18:00:00+08:00", "note": "区应急管理局初报"},
        {"region": "320506", "figure": "affected", "value": "12400", "source": "government",
         "as_of": "2023-07-31T12:00:00+08:00"},
        {"region": "320506", "figure": "affected", "value": "13800", "source": "organization",
         "organization_id": organization.id, "as_of": "2023-07-30T20:00:00+08:00"},
        {"region": "320507", "figure": "crops_affected_ha", "value": "512.80", "source": "media",
         "as_of": "2023-07-30T09:00:00+08:00", "note": "=HYPERLINK(\"x\")"},
        {"region": "320507", "figure": "direct_loss", "value": "3960000.00", "source": "other",
         "as_of": "2023-07-31T12:00:00+08:00"},
    ]
    made = [await post(dispatcher, base, body) for body in sent]
    raw, dataset = await download(viewer, incident["id"], "impacts")
    columns = dataset.columns
    assert [c.display_tag for c in columns] == exports.EXPORTS["impacts"].hashtags
    assert [c.header for c in columns] == exports.EXPORTS["impacts"].headers
    assert {c.tag for c in columns} <= HXL_CORE | {"#indicator", "#description"}  # both in the dictionary
    # libhxl's default schema: #indicator+num holds numbers, #date dates.
    assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw.encode())))

    rows = list(dataset)
    assert [r.get("#meta+id") for r in rows] == [m["id"] for m in made]  # the history, in the order recorded
    assert [(r.get("#adm3+code"), r.get("#indicator+code"), r.get("#indicator+num"), r.get("#indicator+unit"),
             r.get("#meta+source"), r.get("#org+name")) for r in rows] == [
        ("320506", "affected", "8600", "people", "government", None),
        ("320506", "affected", "12400", "people", "government", None),
        ("320506", "affected", "13800", "people", "organization", organization.body["name"]),
        ("320507", "crops_affected_ha", "512.80", "ha", "media", None),
        ("320507", "direct_loss", "3960000.00", "CNY", "other", None),
    ]
    assert rows[0].get("#date+reported") == "2023-07-29T10:00:00+00:00"
    assert rows[0].get("#date+recorded") == made[0]["created_at"].replace("Z", "+00:00")
    assert rows[0].get("#description") == "区应急管理局初报" and rows[1].get("#description") is None
    assert rows[3].get("#description") == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it

    # Staff only, like every export; an incident without figures exports the two header rows.
    assert (await organization.api.get(f"/v1/incidents/{incident['id']}/exports/impacts.csv")).status == 403
    empty = await post(dispatcher, "/v1/incidents", {
        "code": "2023-DOKSURI-SZ-2", "title": "空", "type": "flood", "severity": "IV", "regions": ["320500"],
        "started_at": "2023-07-28T01:55:00Z"})
    response = await viewer.get(f"/v1/incidents/{empty['id']}/exports/impacts.csv")
    assert response.status == 200 and (await response.text()).count("\r\n") == 2


async def test_the_donations_export_says_when_each_was_received(dispatcher, viewer):
    incident = (await (await dispatcher.post("/v1/incidents", json=incident_body())).json())["id"]
    response = await dispatcher.post(f"/v1/incidents/{incident}/donations", headers={"Idempotency-Key": "late"},
                                     json={"kind": "money", "amount": "50", "received_at": "2023-07-30T18:00:00+08:00"})
    assert response.status == 201, await response.text()
    raw, dataset = await download(viewer, incident, "donations")
    check_hashtags("donations", dataset, raw)
    row, = list(dataset)
    assert row.get("#date+received") == "2023-07-30T10:00:00+00:00"
    assert row.get("#date+reported") == (await response.json())["created_at"].replace("Z", "+00:00")


async def test_the_stock_and_disbursement_exports_say_when_goods_moved_and_money_was_paid(dispatcher, viewer, conn):
    from tests.test_disbursements import donate as give_money
    from tests.test_disbursements import payment, proposed, second_dispatcher
    from tests.test_stock import moved, stocked, water

    incident, warehouse, point = await stocked(dispatcher)
    transfer = await moved(dispatcher, incident, water("5", warehouse, kind="transfer", to=point,
                                                       moved_at="2023-07-29T19:00:00+08:00"))
    approver = await second_dispatcher(dispatcher, conn)
    await give_money(dispatcher, incident, "1000.00")
    paid = await proposed(dispatcher, incident, payment(voucher="SZMZ-2023-0801-001",
                                                        disbursed_at="2023-08-01T10:00:00+08:00"))
    assert (await approver.post(f"/v1/disbursements/{paid['id']}/approve")).status == 200
    pending = await proposed(dispatcher, incident, payment(voucher="SZMZ-2023-0805-010"))
    core = HXL_CORE | {"#reached", "#sector"}
    rows = {}
    for name in ("stock-movements", "disbursements"):
        response = await viewer.get(f"/v1/incidents/{incident}/exports/{name}.csv")
        raw = (await response.read()).decode("utf-8")
        dataset = hxl.data(io.BytesIO(raw.encode()))
        assert [c.display_tag for c in dataset.columns] == exports.EXPORTS[name].hashtags
        assert {c.tag for c in dataset.columns} <= core
        assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw.encode()))), name
        rows[name] = list(dataset)
    row, = rows["stock-movements"]
    assert row.get("#meta+id") == transfer["id"] and row.get("#date+moved") == "2023-07-29T11:00:00+00:00"
    assert row.get("#date+reported") == transfer["created_at"].replace("Z", "+00:00")
    by_id = {r.get("#meta+id"): r for r in rows["disbursements"]}
    assert by_id[paid["id"]].get("#date+disbursed") == "2023-08-01T02:00:00+00:00"
    assert by_id[pending["id"]].get("#date+disbursed") in (None, "")  # not paid (yet): no payment's time
