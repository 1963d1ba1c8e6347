"""Alerts: broadcast, CAP 1.2 documents valid against the OASIS schema, updates and cancels, acknowledgements."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from notifications.cap import cap_time
from relief.settings import Settings
from tests.conftest import incident_body, make_organization

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "cap" / "CAP-v1.2-schema.xsd")))
CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
SENDER = "alerts@mzj.suzhou.gov.cn"
POLYGON = "31.30,120.50 31.40,120.60 31.20,120.70 31.30,120.50"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings (conftest), with a sender of our own so the tests see it come through."""
    return settings.model_copy(update={"cap_sender": SENDER})


async def new_incident(dispatcher, **overrides: Any) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body(code=f"T-{uuid.uuid4().hex[:10]}",
                                                                          **overrides))
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


def alert_body(**overrides: Any) -> dict[str, Any]:
    return {
        "headline": "台风杜苏芮：东山镇沿湖村庄立即转移",
        "description": "太湖水位持续上涨，东山镇沿湖低洼村庄有被淹风险。",
        "instruction": "各救援队携带冲锋舟到东山镇政府集合 & 听从现场指挥 <必须>。",
        "category": "Met",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "response_type": "Evacuate",
        "area": {"description": "吴中区东山镇沿湖村庄", "polygon": POLYGON},
        **overrides,
    }


async def broadcast(dispatcher, incident_id: str, **overrides: Any) -> dict[str, Any]:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body(**overrides))
    assert response.status == 201, await response.text()
    return await response.json()


async def cap_document(api, alert_id: str) -> etree._Element:
    response = await api.get(f"/v1/alerts/{alert_id}.cap")
    assert response.status == 200, await response.text()
    assert response.content_type == "application/cap+xml" and response.charset == "utf-8"
    document = etree.fromstring(await response.read())
    SCHEMA.assertValid(document)
    return document


def text(document: etree._Element, path: str) -> str | None:
    return document.findtext(path, namespaces=CAP)


async def test_broadcast_read_and_list(dispatcher, viewer, organization, conn):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body())
    assert response.status == 201
    alert = await response.json()
    assert response.headers["Location"] == f"/v1/alerts/{alert['id']}"
    assert response.headers["ETag"] == '"1"'
    assert {k: alert[k] for k in ("incident_id", "sender", "status", "msg_type", "scope", "references", "event",
                                  "language", "version")} == {
        "incident_id": incident_id, "sender": SENDER, "status": "Actual", "msg_type": "Alert", "scope": "Public",
        "references": None, "event": "台风杜苏芮 苏州响应", "language": "zh-CN", "version": 1}
    assert alert["identifier"] == f"urn:uuid:{alert['id']}"
    assert alert["area"] == {"description": "吴中区东山镇沿湖村庄", "polygon": POLYGON, "circle": None, "geocodes": []}
    assert datetime.fromisoformat(alert["sent_at"]).microsecond == 0

    event = await conn.fetchrow("select * from events where type = 'alert.broadcast'")
    assert (str(event["entity_id"]), event["entity_type"], str(event["incident_id"])) == (
        alert["id"], "alert", incident_id)
    assert event["after"] == alert
    assert await conn.fetchval("select event_id from alerts where id = $1", uuid.UUID(alert["id"])) == event["id"]

    for api in (viewer, organization.api):
        assert await (await api.get(f"/v1/alerts/{alert['id']}")).json() == alert
    second = await broadcast(dispatcher, incident_id, headline="第二条", category="Rescue", response_type=None,
                             area={"description": "东山镇", "circle": "31.3,120.6 5",
                                   "geocodes": [{"value_name": "GB/T 2260", "value": "320506"}]})
    await broadcast(dispatcher, await new_incident(dispatcher), headline="elsewhere")
    page = await (await organization.api.get(f"/v1/incidents/{incident_id}/alerts?limit=1")).json()
    assert [a["headline"] for a in page["items"]] == ["第二条"] and page["next_cursor"]
    rest = await (await viewer.get(f"/v1/incidents/{incident_id}/alerts?cursor={page['next_cursor']}")).json()
    assert [a["id"] for a in rest["items"]] == [alert["id"]] and rest["next_cursor"] is None
    assert second["area"]["geocodes"] == [{"value_name": "GB/T 2260", "value": "320506"}]
    updates = await (await viewer.get(f"/v1/incidents/{incident_id}/alerts?msg_type=Update")).json()
    assert updates["items"] == []
    assert (await viewer.get(f"/v1/incidents/{uuid.uuid4()}/alerts")).status == 404
    assert (await viewer.get(f"/v1/alerts/{uuid.uuid4()}")).status == 404
    assert (await viewer.get(f"/v1/alerts/{uuid.uuid4()}.cap")).status == 404
    assert (await viewer.get("/v1/alerts/not-an-id.cap")).status == 404


async def test_cap_documents_of_an_alert_its_update_and_its_cancel_are_valid(dispatcher, organization):
    incident_id = await new_incident(dispatcher)
    alert = await broadcast(dispatcher, incident_id, area={
        "description": "吴中区东山镇", "polygon": POLYGON, "circle": "31.3,120.6 5",
        "geocodes": [{"value_name": "GB/T 2260", "value": "320506"}]})
    document = await cap_document(organization.api, alert["id"])
    sent = text(document, "cap:sent")
    assert sent is not None and sent.endswith("+08:00")  # the bureau's zone, never Z
    assert datetime.fromisoformat(sent) == datetime.fromisoformat(alert["sent_at"])
    assert [text(document, f"cap:{name}") for name in ("identifier", "sender", "status", "msgType", "scope")] == [
        alert["identifier"], SENDER, "Actual", "Alert", "Public"]
    assert text(document, "cap:references") is None
    assert [text(document, f"cap:info/cap:{name}") for name in (
        "language", "category", "event", "responseType", "urgency", "severity", "certainty", "headline")] == [
        "zh-CN", "Met", "台风杜苏芮 苏州响应", "Evacuate", "Immediate", "Severe", "Observed", alert["headline"]]
    assert text(document, "cap:info/cap:instruction") == alert["instruction"]  # & and < survive escaping
    assert [text(document, f"cap:info/cap:area/cap:{name}") for name in ("areaDesc", "polygon", "circle")] == [
        "吴中区东山镇", POLYGON, "31.3,120.6 5"]
    assert [text(document, f"cap:info/cap:area/cap:geocode/cap:{name}") for name in ("valueName", "value")] == [
        "GB/T 2260", "320506"]

    update = await broadcast(dispatcher, incident_id, msg_type="Update", references=alert["id"],
                             headline="转移范围扩大到金庭镇", description="", instruction="", response_type=None,
                             area={"description": "金庭镇", "geocodes": [{"value_name": "GB/T 2260",
                                                                         "value": "320506"}]})
    assert (update["msg_type"], update["references"]) == ("Update", alert["id"])
    document = await cap_document(dispatcher, update["id"])
    assert text(document, "cap:msgType") == "Update"
    assert text(document, "cap:references") == f"{SENDER},{alert['identifier']},{sent}"
    assert text(document, "cap:info/cap:description") is None and text(document, "cap:info/cap:responseType") is None

    cancel = await broadcast(dispatcher, incident_id, msg_type="Cancel", references=update["id"],
                             headline="解除转移", response_type="AllClear", status="Exercise")
    document = await cap_document(dispatcher, cancel["id"])
    assert (text(document, "cap:msgType"), text(document, "cap:status")) == ("Cancel", "Exercise")
    assert text(document, "cap:references").split(",")[1] == update["identifier"]


def test_the_schema_refuses_what_cap_forbids():
    """The validation above means something: the schema rejects a Z time and elements out of order."""
    good = (f'<alert xmlns="{CAP["cap"]}"><identifier>a</identifier><sender>s</sender>'
            "<sent>2023-07-28T09:55:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>"
            "<scope>Public</scope></alert>")
    SCHEMA.assertValid(etree.fromstring(good))
    for bad in (good.replace("+08:00", "Z"), good.replace("<scope>Public</scope>", "").replace(
            "<status>", "<scope>Public</scope><status>")):
        assert not SCHEMA.validate(etree.fromstring(bad))


def test_cap_time_writes_utc_as_minus_zero():
    moment = datetime(2023, 7, 28, 1, 55, 0, 123456, tzinfo=UTC)
    assert cap_time(moment, ZoneInfo("UTC")) == "2023-07-28T01:55:00-00:00"
    assert cap_time(moment, ZoneInfo("Asia/Shanghai")) == "2023-07-28T09:55:00+08:00"


async def test_a_cancelled_alert_cannot_be_updated(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    alert = await broadcast(dispatcher, incident_id)
    update = await broadcast(dispatcher, incident_id, msg_type="Update", references=alert["id"])
    await broadcast(dispatcher, incident_id, msg_type="Cancel", references=update["id"])
    for references in (alert["id"], update["id"]):  # the whole chain is cancelled, not only the last
        for msg_type in ("Update", "Cancel"):
            response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts",
                                              json=alert_body(msg_type=msg_type, references=references))
            assert response.status == 409, await response.text()
            assert (await response.json())["state"] == "cancelled"
    assert await conn.fetchval("select count(*) from alerts") == 3


@pytest.mark.parametrize(("overrides", "pointer"), [
    pytest.param({"area": {"description": "x", "polygon": "31.3,120.5 31.4,120.6 31.3,120.5"}}, "/area/polygon",
                 id="polygon-3-points"),
    pytest.param({"area": {"description": "x", "polygon": "31.3,120.5 31.4,120.6 31.2,120.7 31.3,120.6"}},
                 "/area/polygon", id="polygon-open"),
    pytest.param({"area": {"description": "x", "polygon": "91,120.5 31.4,120.6 31.2,120.7 91,120.5"}},
                 "/area/polygon", id="polygon-latitude"),
    pytest.param({"area": {"description": "x", "polygon": "31.3;120.5 31.4;120.6 31.2;120.7 31.3;120.5"}},
                 "/area/polygon", id="polygon-syntax"),
    pytest.param({"area": {"description": "x", "circle": "31.3,120.6"}}, "/area/circle", id="circle-no-radius"),
    pytest.param({"area": {"description": "x", "circle": "31.3,181 5"}}, "/area/circle", id="circle-longitude"),
    pytest.param({"area": {"description": "x"}}, "/area", id="area-without-place"),
    pytest.param({"area": {"polygon": POLYGON}}, "/area/description", id="area-without-description"),
    pytest.param({"area": {"description": "x", "geocodes": [{"value_name": "GB/T 2260"}]}},
                 "/area/geocodes/0/value", id="geocode-without-value"),
    pytest.param({"msg_type": "Update"}, "/references", id="update-without-references"),
    pytest.param({"msg_type": "Cancel"}, "/references", id="cancel-without-references"),
    pytest.param({"references": str(uuid.uuid4())}, "/references", id="alert-with-references"),
    pytest.param({"msg_type": "Ack", "references": str(uuid.uuid4())}, "/msg_type", id="msg-type-ack"),
    pytest.param({"category": "met"}, "/category", id="category-spelling"),
    pytest.param({"urgency": "Now"}, "/urgency", id="urgency"),
    pytest.param({"severity": None}, "/severity", id="severity-null"),
    pytest.param({"certainty": "Very likely"}, "/certainty", id="certainty"),
    pytest.param({"response_type": "Run"}, "/response_type", id="response-type"),
    pytest.param({"headline": "x" * 161}, "/headline", id="headline-too-long"),
    pytest.param({"headline": "bell \x07"}, "/headline", id="headline-control-character"),
    pytest.param({"status": "Draft"}, "/status", id="status-draft"),
    pytest.param({"colour": "red"}, "/colour", id="unknown-field"),
])
async def test_invalid_bodies_are_refused(dispatcher, conn, overrides, pointer):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body(**overrides))
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    assert [e["pointer"] for e in (await response.json())["errors"]] == [pointer]
    assert await conn.fetchval("select count(*) from alerts") == 0


async def test_references_must_name_an_alert_of_the_same_incident(dispatcher, conn):
    incident_id, other_incident = await new_incident(dispatcher), await new_incident(dispatcher)
    elsewhere = await broadcast(dispatcher, other_incident)
    for references in (elsewhere["id"], str(uuid.uuid4())):
        response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts",
                                         json=alert_body(msg_type="Update", references=references))
        assert response.status == 422, await response.text()
        assert [e["pointer"] for e in (await response.json())["errors"]] == ["/references"]
    assert await conn.fetchval("select count(*) from alerts") == 1


async def test_only_dispatchers_broadcast_and_only_to_open_incidents(dispatcher, admin, viewer, organization, conn):
    incident_id = await new_incident(dispatcher)
    for api in (viewer, organization.api):
        assert (await api.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body())).status == 403
    await broadcast(admin, incident_id)
    assert (await dispatcher.post(f"/v1/incidents/{uuid.uuid4()}/alerts", json=alert_body())).status == 404
    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/close")).status == 200
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body())
    assert response.status == 409 and (await response.json())["state"] == "closed"
    assert await conn.fetchval("select count(*) from alerts") == 1


async def test_an_organization_acknowledges_and_changes_its_answer(dispatcher, viewer, admin, organization, conn):
    alert = await broadcast(dispatcher, await new_incident(dispatcher))
    acks = f"/v1/alerts/{alert['id']}/acks"
    response = await organization.api.post(acks, json={"status": "received"})
    assert response.status == 200, await response.text()
    first = await response.json()
    assert {k: first[k] for k in ("alert_id", "organization_id", "organization_name", "status", "note", "version")} == {
        "alert_id": alert["id"], "organization_id": organization.id, "organization_name": organization.body["name"],
        "status": "received", "note": "", "version": 1}

    response = await organization.api.post(acks, json={"status": "responding", "note": "两艘冲锋舟 30 分钟后到"})
    latest = await response.json()
    assert (latest["id"], latest["status"], latest["note"], latest["version"]) == (
        first["id"], "responding", "两艘冲锋舟 30 分钟后到", 2)
    again = await organization.api.post(acks, json={"status": "responding", "note": "两艘冲锋舟 30 分钟后到"})
    assert (await again.json())["version"] == 2  # the same answer changes nothing
    assert await conn.fetchval("select count(*) from alert_acks") == 1

    events = await conn.fetch("select * from events where type = 'alert.acknowledged' order by id")
    assert [(e["before"] and e["before"]["status"], e["after"]["status"]) for e in events] == [
        (None, "received"), ("received", "responding")]
    assert {str(e["organization_id"]) for e in events} == {organization.id}
    assert {str(e["incident_id"]) for e in events} == {alert["incident_id"]}

    for api in (viewer, dispatcher, admin):
        assert (await api.post(acks, json={"status": "received"})).status == 403
    assert (await organization.api.post(f"/v1/alerts/{uuid.uuid4()}/acks", json={"status": "received"})).status == 404
    response = await organization.api.post(acks, json={"status": "seen"})
    assert response.status == 422 and [e["pointer"] for e in (await response.json())["errors"]] == ["/status"]
    pending = await make_organization(dispatcher, conn, 1, approve=False)
    assert (await pending.api.post(acks, json={"status": "received"})).status == 403
    assert await conn.fetchval("select count(*) from alert_acks") == 1


async def test_dispatchers_see_who_has_not_acknowledged(dispatcher, viewer, conn):
    teams = [await make_organization(dispatcher, conn, i) for i in range(3)]
    # The third team is in Guangzhou: not within the incident's region, and no subscription of its own.
    await conn.execute("update organizations set region = '440100' where id = $1", uuid.UUID(teams[2].id))
    incident_id = await new_incident(dispatcher)
    alert = await broadcast(dispatcher, incident_id)

    acks = f"/v1/alerts/{alert['id']}/acks"
    before = await (await dispatcher.get(acks)).json()
    assert before["items"] == []
    assert before["not_acknowledged"] == [{"id": t.id, "name": t.body["name"]} for t in teams[:2]]

    assert (await teams[0].api.post(acks, json={"status": "unable", "note": "船只在外"})).status == 200
    assert (await teams[2].api.post(acks, json={"status": "received"})).status == 200  # read it elsewhere
    listing = await (await viewer.get(acks)).json()
    assert [a["organization_id"] for a in listing["items"]] == [teams[2].id, teams[0].id]
    assert listing["not_acknowledged"] == [{"id": teams[1].id, "name": teams[1].body["name"]}]
    page = await (await dispatcher.get(f"{acks}?limit=1&status=unable")).json()
    assert [a["status"] for a in page["items"]] == ["unable"] and page["next_cursor"] is None

    own = await (await teams[0].api.get(acks)).json()
    assert [a["organization_id"] for a in own["items"]] == [teams[0].id] and own["not_acknowledged"] == []
    silent = await (await teams[1].api.get(acks)).json()
    assert silent == {"items": [], "next_cursor": None, "not_acknowledged": []}
    assert (await dispatcher.get(f"/v1/alerts/{uuid.uuid4()}/acks")).status == 404


async def test_cap_stays_well_formed_when_the_incident_title_is_not(dispatcher):
    """The event defaults to the incident's title, which may hold characters XML 1.0 cannot carry."""
    incident_id = await new_incident(dispatcher, title="台风\x07杜苏芮")
    alert = await broadcast(dispatcher, incident_id)
    assert alert["event"] == "台风\x07杜苏芮"
    assert text(await cap_document(dispatcher, alert["id"]), "cap:info/cap:event") == "台风杜苏芮"
