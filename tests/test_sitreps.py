"""Situation reports: numbered, frozen, immutable in the database, the same bytes every time."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from relief import masking
from tests.conftest import Api, incident_body
from tests.webhook_world import subscribe, verify


async def open_incident(dispatcher: Api) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def issue(api: Api, incident_id: str, kind: str, status: int = 201, narrative: str = "", **headers):
    response = await api.post(f"/v1/incidents/{incident_id}/sitreps", json={"kind": kind, "narrative": narrative},
                              headers=headers or None)
    assert response.status == status, await response.text()
    return await response.json()


async def impact(api: Api, incident_id: str, value: str, source: str = "government", **extra) -> None:
    body = {"region": "320506", "figure": "affected", "value": value, "source": source, **extra}
    response = await api.post(f"/v1/incidents/{incident_id}/impacts", json=body)
    assert response.status == 201, await response.text()


async def test_reports_are_numbered_the_first_is_the_only_initial_and_changes_are_listed(dispatcher, viewer):
    incident = await open_incident(dispatcher)
    first = await issue(viewer, incident, "initial", status=403)
    refused = await issue(dispatcher, incident, "update", status=409)
    assert "initial" in refused["detail"]
    await impact(dispatcher, incident, "12000")
    first = await issue(dispatcher, incident, "initial", narrative="7月29日，暴雨持续。")
    assert first["number"] == 1 and first["kind"] == "initial" and first["issued_by"]["name"]
    assert first["figures"]["previous"] is None
    assert {"figure": "impacts.320506.affected.government", "previous": None, "current": "12000",
            "delta": None} in first["figures"]["changes"]
    await issue(dispatcher, incident, "initial", status=409)

    await impact(dispatcher, incident, "15000")
    second = await issue(dispatcher, incident, "update")
    assert second["number"] == 2 and second["figures"]["previous"]["number"] == 1
    assert {"figure": "impacts.320506.affected.government", "previous": "12000", "current": "15000",
            "delta": "3000"} in second["figures"]["changes"]
    third = await issue(dispatcher, incident, "verified")
    assert third["number"] == 3 and third["figures"]["changes"] == []

    listed = await (await viewer.get(f"/v1/incidents/{incident}/sitreps")).json()
    assert [r["number"] for r in listed["items"]] == [3, 2, 1]
    preview = await (await viewer.get(f"/v1/incidents/{incident}/sitreps/preview")).json()
    assert preview["number"] == 4 and preview["kind"] == "update" and preview["id"] == str(uuid.UUID(int=0))
    listed = await (await viewer.get(f"/v1/incidents/{incident}/sitreps")).json()
    assert len(listed["items"]) == 3  # the preview issued nothing


async def test_every_rendering_gives_the_same_bytes_after_later_changes(dispatcher, viewer, anonymous):
    incident = await open_incident(dispatcher)
    await impact(dispatcher, incident, "12000")
    report = await issue(dispatcher, incident, "initial", narrative="初报")
    paths = [f"/v1/sitreps/{report['id']}", f"/v1/sitreps/{report['id']}.csv",
             f"/v1/sitreps/{report['id']}.html?lang=zh", f"/v1/sitreps/{report['id']}.html?lang=en"]
    public = [f"/v1/public/sitreps/{report['id']}", f"/v1/public/sitreps/{report['id']}.html?lang=en",
              f"/v1/public/sitreps/{report['id']}.html"]

    async def fetch_all() -> list[bytes]:
        out = []
        for path in paths:
            response = await viewer.get(path)
            assert response.status == 200, (path, await response.text())
            out.append(await response.read())
        for path in public:
            response = await anonymous.get(path)
            assert response.status == 200, (path, await response.text())
            out.append(await response.read())
        return out

    before = await fetch_all()
    assert json.loads(before[0]) == report
    await impact(dispatcher, incident, "16000")
    await issue(dispatcher, incident, "update")
    assert await fetch_all() == before


async def test_an_issued_report_cannot_be_changed_or_deleted_even_in_the_database(dispatcher, conn):
    incident = await open_incident(dispatcher)
    report = await issue(dispatcher, incident, "initial")
    for statement in ("update sitreps set kind = 'verified'", "delete from sitreps", "truncate sitreps cascade"):
        with pytest.raises(asyncpg.RaiseError, match="never changes"):
            await conn.execute(statement)
    row = await conn.fetchrow("select kind, document from sitreps where id = $1", uuid.UUID(report["id"]))
    assert row["kind"] == "initial" and json.loads(row["document"]) == report
    with pytest.raises(asyncpg.UniqueViolationError):  # a gap is refused as firmly as a duplicate
        await conn.execute(
            "insert into sitreps (incident_id, number, kind, issued_by_name, issued_at, position, document)"
            " values ($1, 3, 'update', 'x', now(), '0-0', '{}')", uuid.UUID(incident))


async def test_concurrent_issuing_numbers_without_gaps_or_duplicates(dispatcher):
    incident = await open_incident(dispatcher)
    await issue(dispatcher, incident, "initial")
    results = await asyncio.gather(*(issue(dispatcher, incident, "update") for _ in range(12)))
    assert sorted(r["number"] for r in results) == list(range(2, 14))
    listed = await (await dispatcher.get(f"/v1/incidents/{incident}/sitreps")).json()
    assert [r["number"] for r in listed["items"]] == list(range(13, 0, -1))


async def test_an_idempotency_key_replays_the_same_report(dispatcher):
    incident = await open_incident(dispatcher)
    key = str(uuid.uuid4())
    a, b = await asyncio.gather(issue(dispatcher, incident, "initial", **{"Idempotency-Key": key}),
                                issue(dispatcher, incident, "initial", **{"Idempotency-Key": key}))
    assert a == b
    listed = await (await dispatcher.get(f"/v1/incidents/{incident}/sitreps")).json()
    assert len(listed["items"]) == 1


async def test_organizations_read_public_versions_only(dispatcher, organization, anonymous):
    incident = await open_incident(dispatcher)
    org = organization
    await impact(dispatcher, incident, "9000", source="organization", organization_id=org.id)
    report = await issue(dispatcher, incident, "initial", narrative="签发：张三")
    assert (await organization.api.get(f"/v1/sitreps/{report['id']}")).status == 403
    public = await (await anonymous.get(f"/v1/public/sitreps/{report['id']}")).json()
    text = json.dumps(public, ensure_ascii=False)
    assert "张三" not in text and report["issued_by"]["name"] not in text and "narrative" not in public
    assert public["number"] == 1 and public["impacts"][0]["value"] == "9000"
    shown = await (await anonymous.get(f"/v1/public/incidents/{incident}/sitreps")).json()
    assert shown["provisional"] is True and shown["shown"]["id"] == report["id"]
    verified = await issue(dispatcher, incident, "verified")
    await issue(dispatcher, incident, "update")
    shown = await (await anonymous.get(f"/v1/public/incidents/{incident}/sitreps")).json()
    assert shown["provisional"] is False and shown["shown"]["id"] == verified["id"]
    assert [i["number"] for i in shown["items"]] == [3, 2, 1]


async def test_the_bureaus_webhook_gets_the_report_an_organizations_its_public_version(
    dispatcher, organization, receiver, worker
):
    bureau = await subscribe(dispatcher, receiver.url("/bureau"), event_types=["sitrep.*"])
    team = await subscribe(organization.api, receiver.url("/team"), event_types=["sitrep.*"])
    incident = await open_incident(dispatcher)
    await impact(dispatcher, incident, "12000")
    report = await issue(dispatcher, incident, "initial", narrative="沿湖村庄已全部转移。")
    await worker.tick()

    [whole] = [verify(bureau["secret"], r) for r in receiver.at("/bureau")]
    assert whole["type"] == "sitrep.issued" and whole["data"] == report
    [public] = [verify(team["secret"], r) for r in receiver.at("/team")]
    assert public["type"] == "sitrep.issued" and public["data"]["id"] == report["id"]
    assert public["data"]["impacts"][0]["value"] == "12000"
    assert "沿湖村庄" not in receiver.at("/team")[0].body and "issued_by" not in public["data"]
    # Streams and the audit trail pass events through the same rule: the version by reader.
    organization_reader = masking.Audience(organization_id=uuid.UUID(organization.id))
    assert masking.shown("sitrep", report, organization_reader) == public["data"]
    assert masking.shown("sitrep", report, masking.OUTSIDE) == public["data"]
    assert masking.shown("sitrep", report, masking.Audience(staff=True)) is report


async def test_a_transaction_left_open_in_another_database_does_not_hold_reports_back(dispatcher, server_url):
    incident = await open_incident(dispatcher)
    await impact(dispatcher, incident, "12000")
    elsewhere = await asyncpg.connect(server_url)  # another database on the same server
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("select txid_current()")  # an id, older than the next writes here
            await impact(dispatcher, incident, "13000")
            report = await issue(dispatcher, incident, "initial")
    finally:
        await elsewhere.close()
    assert [i["value"] for i in report["figures"]["impacts"] if i["source"] == "government"] == ["13000"]


async def test_changes_follow_an_organization_by_id_whatever_its_name(dispatcher, organization):
    incident = await open_incident(dispatcher)
    await impact(dispatcher, incident, "9000", source="organization", organization_id=organization.id)
    await issue(dispatcher, incident, "initial")
    renamed = await dispatcher.patch(f"/v1/organizations/{organization.id}", json={"name": "改名后的救援队"},
                                     headers={"If-Match": "*"})
    assert renamed.status == 200, await renamed.text()
    second = await issue(dispatcher, incident, "update")
    assert [c for c in second["figures"]["changes"] if c["figure"].startswith("impacts.")] == []
