"""Region names (GB/T 2260): beside every region the API returns, in events and webhooks too; prefix
filters; the /v1/regions levels the console's picker walks; and the OpenAPI document saying so."""

from __future__ import annotations

import json
import uuid

import pytest

from notifications import envelope
from tests.conftest import CREDIT_CODES, incident_body, make_organization, organization_body
from tests.test_shelters import new_incident, register

# Written out here, not read from the table under test.
SUZHOU = {"320505": "虎丘区", "320506": "吴中区", "320507": "相城区", "320508": "姑苏区", "320583": "昆山市",
          "320585": "太仓市"}


async def test_an_incident_names_its_regions_in_order_and_null_for_a_code_the_table_lacks(dispatcher):
    regions = ["320506", "440100", "329999", "320500"]
    response = await dispatcher.post("/v1/incidents", json=incident_body(regions=regions))
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["regions"] == regions  # an unknown code stays accepted
    assert created["region_names"] == ["吴中区", "广州市", None, "苏州市"]
    assert list(created).index("region_names") == list(created).index("regions") + 1  # beside it

    read = await (await dispatcher.get(f"/v1/incidents/{created['id']}")).json()
    assert read["region_names"] == ["吴中区", "广州市", None, "苏州市"]
    listed = await (await dispatcher.get("/v1/incidents")).json()
    assert [i["region_names"] for i in listed["items"]] == [["吴中区", "广州市", None, "苏州市"]]

    response = await dispatcher.patch(f"/v1/incidents/{created['id']}", json={"regions": ["350100"]},
                                      headers={"If-Match": response.headers["ETag"]})
    assert response.status == 200, await response.text()
    assert (await response.json())["region_names"] == ["福州市"]


async def test_organizations_residents_and_evacuations_name_theirs(dispatcher, conn):
    org = await make_organization(dispatcher, conn, 0)
    assert org.body["region"] == "320500" and org.body["region_name"] == "苏州市"

    incident_id = await new_incident(dispatcher)
    resident = await register(dispatcher, incident_id, 3, origin_region="320585")
    assert resident["origin_region_name"] == "太仓市"
    listed = await (await dispatcher.get(f"/v1/incidents/{incident_id}/residents")).json()
    assert [r["origin_region_name"] for r in listed["items"]] == ["太仓市"]

    response = await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations",
                                     json={"count": 40, "from_region": "320583", "placement": "dispersed"})
    assert response.status == 201, await response.text()
    assert (await response.json())["from_region_name"] == "昆山市"
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations",
                                     json={"count": 2, "from_region": "819999", "placement": "dispersed"})
    assert response.status == 201, await response.text()
    assert (await response.json())["from_region_name"] is None


async def test_events_webhooks_and_streams_carry_the_names_too(dispatcher, conn):
    incident_id = await new_incident(dispatcher, regions=["320507"])
    await register(dispatcher, incident_id, 1, origin_region="320508")
    rows = {r["type"]: r for r in await conn.fetch(
        "select * from events where incident_id = $1 and type in ('incident.opened', 'resident.registered')",
        uuid.UUID(incident_id))}

    trail = await (await dispatcher.get(f"/v1/incidents/{incident_id}/events")).json()
    opened = next(e for e in trail["items"] if e["type"] == "incident.opened")
    assert opened["after"]["region_names"] == ["相城区"]

    # What a webhook delivery's body and a stream message hold (notifications/envelope.py).
    sent = json.loads(envelope.render(rows["incident.opened"]))
    assert sent["data"]["regions"] == ["320507"] and sent["data"]["region_names"] == ["相城区"]
    resident = envelope.document(rows["resident.registered"])["data"]
    assert resident["origin_region"] == "320508" and resident["origin_region_name"] == "姑苏区"
    assert "name" not in resident  # the head-count whitelist still holds


@pytest.mark.parametrize(("region", "found"), [
    ("32", {"JS", "SZ", "WZ"}), ("3205", {"JS", "SZ", "WZ"}), ("320500", {"JS", "SZ", "WZ"}),
    ("320506", {"JS", "SZ", "WZ"}), ("320505", {"JS", "SZ"}), ("44", {"GZ"}), ("4401", {"GZ"}), ("35", set()),
])
async def test_the_incident_filter_takes_a_prefix_up_and_down(dispatcher, region, found):
    made = {}
    for tag, regions in {"JS": ["320000"], "SZ": ["320500"], "WZ": ["320506"], "GZ": ["440100"]}.items():
        response = await dispatcher.post("/v1/incidents", json=incident_body(code=f"F-{tag}", regions=regions))
        made[(await response.json())["id"]] = tag
    response = await dispatcher.get(f"/v1/incidents?region={region}")
    assert response.status == 200, await response.text()
    assert {made[i["id"]] for i in (await response.json())["items"]} == found


async def test_the_organization_filter_takes_a_prefix(dispatcher):
    regions = {"320506": 0, "320583": 1, "440100": 2}
    for region, index in regions.items():
        body = organization_body(index, name=f"组织 {index}", credit_code=CREDIT_CODES[index], region=region)
        assert (await dispatcher.post("/v1/organizations", json=body)).status == 201
    for prefix, expected in {"32": {"320506", "320583"}, "3205": {"320506", "320583"},
                             "320583": {"320583"}, "4401": {"440100"}, "11": set()}.items():
        listed = await (await dispatcher.get(f"/v1/organizations?region={prefix}")).json()
        assert {o["region"] for o in listed["items"]} == expected, prefix


@pytest.mark.parametrize("bad", ["3", "320", "99", "320_00", "3205000", "０３"])
async def test_a_bad_region_filter_says_a_prefix_is_fine(dispatcher, bad):
    for path in ("/v1/incidents", "/v1/organizations"):
        response = await dispatcher.get(path, params={"region": bad})
        assert response.status == 422
        [error] = (await response.json())["errors"]
        assert error["parameter"] == "region"
        assert "prefix" in error["detail"] and "3205" in error["detail"]


async def test_regions_lists_one_level_at_a_time(dispatcher, organization):
    provinces = await dispatcher.get("/v1/regions")
    assert provinces.status == 200
    items = (await provinces.json())["items"]
    by_code = {i["code"]: i for i in items}
    assert by_code["320000"] == {"code": "320000", "name": "江苏省", "level": "province", "parent": None,
                                 "has_children": True}
    assert {"110000", "440000", "350000", "710000", "810000", "820000"} <= set(by_code)
    assert all(i["level"] == "province" for i in items) and len(items) == 34

    for parent in ("320000", "32"):
        cities = (await (await organization.api.get(f"/v1/regions?parent={parent}")).json())["items"]
        assert {"code": "320500", "name": "苏州市", "level": "city", "parent": "320000", "has_children": True} in cities
        assert all(c["parent"] == "320000" for c in cities)

    counties = (await (await dispatcher.get("/v1/regions?parent=3205")).json())["items"]
    assert {c["code"]: c["name"] for c in counties if c["code"] in SUZHOU} == SUZHOU
    assert all(c["level"] == "county" and not c["has_children"] for c in counties)
    assert [c["code"] for c in counties] == sorted(c["code"] for c in counties)

    assert (await (await dispatcher.get("/v1/regions?parent=320506")).json())["items"] == []


async def test_regions_refuses_what_it_cannot_answer(dispatcher, anonymous):
    assert (await anonymous.get("/v1/regions")).status == 401
    missing = await dispatcher.get("/v1/regions?parent=329900")
    assert missing.status == 404
    assert "329900" in (await missing.json())["detail"]
    bad = await dispatcher.get("/v1/regions?parent=3")
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["parameter"] == "parent"
    unknown = await dispatcher.get("/v1/regions?province=32")
    assert unknown.status == 422


async def test_the_openapi_document_shows_the_names(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    incident = schemas["Incident"]
    assert "region_names" in incident["required"]
    assert incident["properties"]["region_names"]["type"] == "array"
    assert incident["properties"]["region_names"]["items"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert {"type": "null"} in schemas["Organization"]["properties"]["region_name"]["anyOf"]
    assert "origin_region_name" in schemas["Resident"]["properties"]
    assert "from_region_name" in schemas["Evacuation"]["properties"]

    operation = document["paths"]["/v1/regions"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["parent"]
    listed = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"$ref": "#/components/schemas/RegionList"}
    assert set(schemas["RegionEntry"]["properties"]) == {"code", "name", "level", "parent", "has_children"}

    # The catalog sends what it says: a webhook's incident carries region_names.
    catalog = await (await anonymous.get("/v1/event-types")).json()
    entry = next(t for t in catalog["items"] if t["type"] == "incident.opened")
    assert "region_names" in json.dumps(entry)
