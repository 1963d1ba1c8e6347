"""Incidents: open, update with If-Match, close, reopen; roles; validation; lists."""

from __future__ import annotations

from tests.conftest import incident_body


async def test_dispatcher_runs_an_incident_through_its_lifecycle(dispatcher):
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201
    incident = await response.json()
    assert incident["status"] == "open"
    assert incident["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/incidents/{incident['id']}"
    path = f"/v1/incidents/{incident['id']}"

    response = await dispatcher.patch(path, json={"severity": "I"}, headers={"If-Match": '"1"'})
    assert response.status == 200
    updated = await response.json()
    assert updated["severity"] == "I"
    assert updated["version"] == 2
    assert response.headers["ETag"] == '"2"'

    response = await dispatcher.post(f"{path}/close")
    assert response.status == 200
    closed = await response.json()
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None

    response = await dispatcher.post(f"{path}/close")
    assert response.status == 409
    problem = await response.json()
    assert problem["state"] == "closed"
    assert response.content_type == "application/problem+json"

    response = await dispatcher.post(f"{path}/reopen")
    assert response.status == 200
    reopened = await response.json()
    assert reopened["status"] == "open"
    assert reopened["closed_at"] is None
    assert reopened["version"] == 4

    response = await dispatcher.get(path)
    assert (await response.json()) == reopened


async def test_organization_key_may_read_but_not_change_incidents(dispatcher, organization):
    response = await organization.api.post("/v1/incidents", json=incident_body())
    assert response.status == 403
    assert (await response.json())["title"] == "Forbidden"

    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    path = f"/v1/incidents/{incident['id']}"
    assert (await organization.api.get(path)).status == 200
    assert (await organization.api.get("/v1/incidents")).status == 200
    assert (await organization.api.patch(path, json={"title": "x"}, headers={"If-Match": '"1"'})).status == 403
    assert (await organization.api.post(f"{path}/close")).status == 403


async def test_viewer_reads_but_cannot_open(viewer, dispatcher):
    assert (await viewer.post("/v1/incidents", json=incident_body())).status == 403
    assert (await viewer.get("/v1/incidents")).status == 200


async def test_no_key_is_401(anonymous):
    response = await anonymous.post("/v1/incidents", json=incident_body())
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await anonymous.get("/v1/incidents")).status == 401


async def test_stale_if_match_is_412_and_missing_is_428(dispatcher):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    path = f"/v1/incidents/{incident['id']}"
    assert (await dispatcher.patch(path, json={"title": "一"}, headers={"If-Match": '"1"'})).status == 200

    response = await dispatcher.patch(path, json={"title": "二"}, headers={"If-Match": '"1"'})
    assert response.status == 412
    problem = await response.json()
    assert problem["current_version"] == 2

    response = await dispatcher.patch(path, json={"title": "二"})
    assert response.status == 428
    problem = await response.json()
    assert problem["type"].endswith("#problem-precondition-required") and problem["current_version"] == 2
    assert 'If-Match: "2"' in problem["detail"]  # the version it is at, not a made-up one

    response = await dispatcher.patch(path, json={"title": "二"}, headers={"If-Match": "soon"})
    assert response.status == 400

    current = await (await dispatcher.get(path)).json()
    assert current["title"] == "一"


async def test_invalid_region_points_at_it(dispatcher):
    response = await dispatcher.post("/v1/incidents", json=incident_body(regions=["320500", "99000"]))
    assert response.status == 422
    problem = await response.json()
    assert problem["errors"] == [{"pointer": "/regions/1", "code": "region_code",
                                  "detail": problem["errors"][0]["detail"]}]
    assert "6-digit" in problem["errors"][0]["detail"]

    response = await dispatcher.post("/v1/incidents", json=incident_body(regions=["990000"]))
    assert (await response.json())["errors"][0]["pointer"] == "/regions/0"


async def test_validation_lists_every_field_at_fault(dispatcher):
    body = incident_body(severity="V", started_at="2023-07-28T01:55:00", extra="x")
    del body["title"]
    response = await dispatcher.post("/v1/incidents", json=body)
    assert response.status == 422
    pointers = {e["pointer"] for e in (await response.json())["errors"]}
    assert pointers == {"/title", "/severity", "/started_at", "/extra"}


async def test_duplicate_code_is_409(dispatcher):
    assert (await dispatcher.post("/v1/incidents", json=incident_body())).status == 201
    response = await dispatcher.post("/v1/incidents", json=incident_body(title="again"))
    assert response.status == 409
    assert (await response.json())["code"] == "2023-DOKSURI-SZ"


async def test_patch_refuses_null_and_ignores_no_op(dispatcher, conn):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    path = f"/v1/incidents/{incident['id']}"
    response = await dispatcher.patch(path, json={"title": None}, headers={"If-Match": '"1"'})
    assert response.status == 422
    assert (await response.json())["errors"][0]["pointer"] == "/title"

    response = await dispatcher.patch(path, json={"severity": "II"}, headers={"If-Match": '"1"'})
    assert response.status == 200
    assert (await response.json())["version"] == 1
    assert await conn.fetchval("select count(*) from events where entity_id = $1", incident["id"]) == 1


async def test_unknown_incident_is_404(dispatcher):
    response = await dispatcher.get("/v1/incidents/00000000-0000-0000-0000-000000000000")
    assert response.status == 404
    assert (await dispatcher.get("/v1/incidents/not-a-uuid")).status == 404


async def test_list_filters_and_pages(dispatcher):
    specs = [
        ("SZ", "typhoon", "II", ["320500"]),
        ("ZZ", "flood", "I", ["130681"]),
        ("TJ", "flood", "II", ["120000"]),
        ("BJ", "flood", "III", ["110111", "110109"]),
    ]
    ids = {}
    for code, kind, severity, regions in specs:
        body = incident_body(code=f"2023-DOKSURI-{code}", type=kind, severity=severity, regions=regions)
        ids[code] = (await (await dispatcher.post("/v1/incidents", json=body)).json())["id"]
    await dispatcher.post(f"/v1/incidents/{ids['TJ']}/close")

    async def codes(query: str) -> set[str]:
        response = await dispatcher.get(f"/v1/incidents?{query}")
        assert response.status == 200, await response.text()
        return {item["code"].rsplit("-", 1)[1] for item in (await response.json())["items"]}

    assert await codes("type=flood") == {"ZZ", "TJ", "BJ"}
    assert await codes("status=open&type=flood") == {"ZZ", "BJ"}
    assert await codes("severity=II") == {"SZ", "TJ"}
    assert await codes("region=320000") == {"SZ"}  # the province finds its city
    assert await codes("region=320505") == {"SZ"}  # a district finds its city's incident
    assert await codes("region=130000") == {"ZZ"}
    assert await codes("region=110100") == {"BJ"}
    assert await codes("region=120101") == {"TJ"}

    seen, cursor = [], None
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = await (await dispatcher.get(f"/v1/incidents?{query}")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and set(seen) == set(ids.values())
    assert seen[0] == ids["BJ"]  # newest first


async def test_list_rejects_bad_parameters(dispatcher):
    for query, parameter in [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("severity=V", "severity"),
        ("cursor=%%%", "cursor"),
        ("statuss=open", "statuss"),
    ]:
        response = await dispatcher.get(f"/v1/incidents?{query}")
        assert response.status == 422, query
        assert (await response.json())["errors"][0]["parameter"] == parameter
