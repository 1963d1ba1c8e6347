"""The event catalog says what the code emits, and the README lists the catalog."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from models.event_payloads import PAYLOADS, adapter, payload_schema
from models.events import EVENT_TYPES
from notifications import envelope

ROOT = Path(__file__).parent.parent
FAMILIES = "|".join(sorted({t.split(".")[0] for t in EVENT_TYPES}))
LITERAL = re.compile(rf"""["']({FAMILIES})\.([a-z_]+)["']""")
NOT_EVENTS = {"shelter.occupancy"}  # a reconcile counter's name, not an event


def emitted_in_source() -> set[str]:
    found: set[str] = set()
    for folder in ("relief", "notifications", "handlers"):
        for path in (ROOT / folder).glob("*.py"):
            found |= {f"{a}.{b}" for a, b in LITERAL.findall(path.read_text())}
    # Built from the action's name: relief/webhooks.py emits webhook.{pause,resume}d.
    return (found | {"webhook.paused", "webhook.resumed"}) - NOT_EVENTS


def test_every_event_type_in_the_code_is_in_the_catalog_and_back():
    emitted = emitted_in_source()
    assert sorted(emitted - EVENT_TYPES.keys()) == []
    assert sorted(EVENT_TYPES.keys() - emitted) == []


def test_the_readme_lists_every_event_type():
    readme = (ROOT / "README.md").read_text()
    assert [t for t in EVENT_TYPES if f"`{t}`" not in readme] == []


def test_the_console_names_every_event_type():
    for language in ("zh", "en"):
        catalogue = (ROOT / "handlers" / "static" / "js" / "i18n" / f"{language}.js").read_text()
        assert [t for t in EVENT_TYPES if f"'{t}'" not in catalogue] == [], language


async def test_the_catalog_is_served_to_anyone(anonymous):
    response = await anonymous.get("/v1/event-types")
    assert response.status == 200
    served = {item["type"]: item["description"] for item in (await response.json())["items"]}
    assert served == EVENT_TYPES


def test_every_catalog_entry_has_a_payload_model():
    assert sorted(EVENT_TYPES.keys() ^ PAYLOADS.keys()) == []


async def test_the_catalog_serves_each_type_s_payload_schema(anonymous):
    items = (await (await anonymous.get("/v1/event-types")).json())["items"]
    assert [item["type"] for item in items] == list(EVENT_TYPES)
    for item in items:
        schema = item["payload_schema"]
        Draft202012Validator.check_schema(schema)
        assert schema == payload_schema(item["type"]), item["type"]
        assert schema.get("properties") or schema.get("anyOf"), item["type"]  # a shape, not just "object"
    served = {item["type"]: item["payload_schema"] for item in items}
    # What a receiver gets of a resident: counts, never who (the envelope's whitelist).
    assert "name" not in served["resident.registered"]["properties"]
    assert "phone" not in served["resident.moved"]["properties"]
    # An organization's webhooks get a report's public version, the bureau's the whole: either may come.
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in served["sitrep.issued"]["anyOf"]} == {"Sitrep", "PublicSitrep"}


async def test_the_openapi_webhooks_give_every_type_an_example_that_its_schema_takes(anonymous):
    document = await (await anonymous.get("/openapi.json")).json()
    webhooks = document["webhooks"]
    assert sorted(webhooks) == sorted(EVENT_TYPES)
    for event_type, item in webhooks.items():
        operation = item["post"]
        assert any(status.startswith("2") for status in operation["responses"]), event_type
        assert {p["name"] for p in operation["parameters"]} >= {"webhook-id", "webhook-signature"}
        content = operation["requestBody"]["content"]["application/json"]
        # The schema's $refs point into the document's components: validate against the whole document.
        validator = Draft202012Validator({**content["schema"], "components": document["components"]},
                                         format_checker=FormatChecker())
        errors = validator.iter_errors(content["example"])
        assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == [], event_type
        assert content["example"]["type"] == event_type
        # And the model the code validates against takes it too (the schema says no more than the model).
        adapter(PAYLOADS[event_type].sent).validate_json(json.dumps(content["example"]["data"]))


async def test_a_subscription_to_no_event_type_is_refused_with_what_was_meant(organization, receiver, conn):
    response = await organization.api.post("/v1/webhooks", json={"url": receiver.url(),
                                                                  "event_types": ["call.publishd"]})
    assert response.status == 422
    problem = await response.json()
    assert problem["errors"][0]["pointer"] == "/event_types/0", problem
    assert "call.published" in problem["errors"][0]["detail"], problem
    assert await conn.fetchval("select count(*) from webhooks") == 0
    # A family, and a type of the catalog, are still taken.
    response = await organization.api.post("/v1/webhooks", json={"url": receiver.url(),
                                                                  "event_types": ["call.published", "pledge.*"]})
    assert response.status == 201, await response.text()


async def test_a_location_leaves_the_building_as_the_numbers_its_schema_says(conn):
    # Through the connection's jsonb codec (relief/db.py), as the fan-out and the streams read events.
    stored = await conn.fetchval("select $1::text::jsonb", '{"location": {"lat": 31.2, "lon": 120.4}}')
    row = {"id": 1, "type": "site.opened", "entity_type": "site", "incident_id": None, "before": None,
           "after": stored, "created_at": datetime.now(UTC)}
    assert json.loads(envelope.render(row))["data"]["location"] == {"lat": 31.2, "lon": 120.4}
