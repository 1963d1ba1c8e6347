"""/openapi.json as a reference: an example for every JSON body and 2xx response, each valid against its
schema; a description for every parameter and property; the goods catalogue spelt out; still valid OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from models.catalogue import GOODS, GOODS_ZH


async def _document(anonymous: Any) -> dict[str, Any]:
    response = await anonymous.get("/openapi.json")
    assert response.status == 200
    return await response.json()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for section in ("paths", "webhooks"):
        for path, item in document[section].items():
            for method, op in item.items():
                yield f"{method.upper()} {path}", op


def _json_media(op: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if "requestBody" in op and "application/json" in op["requestBody"]["content"]:
        yield "request body", op["requestBody"]["content"]["application/json"]
    for status, response in op["responses"].items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            yield f"{status} response", response["content"]["application/json"]


def _properties(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, list):
        for part in schema:
            yield from _properties(part, where)
    elif isinstance(schema, dict):
        for name, prop in schema.get("properties", {}).items():
            yield f"{where}.{name}", prop
            yield from _properties(prop, f"{where}.{name}")
        for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            if key in schema:
                yield from _properties(schema[key], where)


async def test_every_json_body_and_success_has_an_example_that_its_schema_takes(anonymous):
    document = await _document(anonymous)
    checked, missing, invalid = 0, [], []
    for where, op in _operations(document):
        for what, media in _json_media(op):
            examples = [media["example"]] if "example" in media else []
            examples += [e["value"] for e in media.get("examples", {}).values()]
            if not examples:
                missing.append(f"{where} {what}")
                continue
            # $refs point at #/components/…: validate against the schema with the document's components beside it.
            validator = Draft202012Validator({**media["schema"], "components": document["components"]})
            for value in examples:
                checked += 1
                errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]
                if errors:
                    invalid.append(f"{where} {what}: {errors[:3]}")
    assert not missing, f"{len(missing)} bodies or responses have no example, e.g. {missing[:5]}"
    assert not invalid, f"{len(invalid)} of {checked} examples do not validate:\n" + "\n".join(invalid[:10])
    assert checked > 200, f"only {checked} examples were checked"


async def test_examples_tell_the_doksuri_story(anonymous):
    document = await _document(anonymous)
    create = document["paths"]["/v1/incidents"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert (create["code"], create["type"], create["regions"]) == ("2023-DOKSURI-SZ", "typhoon", ["320500"])
    incident = document["paths"]["/v1/incidents/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    call = document["paths"]["/v1/calls/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    # One id per entity throughout: the incident read is the one the call belongs to.
    assert incident["example"]["id"] == call["example"]["incident_id"]
    calls = document["paths"]["/v1/incidents/{id}/calls"]["post"]["requestBody"]["content"]["application/json"]
    assert len(calls["examples"]) == 3, "one example per kind of call (goods, money, personnel)"


async def test_every_parameter_and_property_is_described(anonymous):
    document = await _document(anonymous)
    parameters = [(where, p) for where, op in _operations(document) for p in op.get("parameters", [])]
    bare = [f"{where} {p['in']} {p['name']}" for where, p in parameters if not (p.get("description") or "").strip()]
    assert not bare, f"{len(bare)} of {len(parameters)} parameters have no description, e.g. {bare[:8]}"
    properties = [pair for name, schema in document["components"]["schemas"].items()
                  for pair in _properties(schema, name)]
    properties += [pair for where, op in _operations(document) for what, media in _json_media(op)
                   for pair in _properties(media["schema"], f"{where} {what}")]
    bare = [where for where, prop in properties if not (prop.get("description") or "").strip()]
    assert not bare, f"{len(bare)} of {len(properties)} properties have no description, e.g. {bare[:8]}"
    assert len(parameters) > 250 and len(properties) > 1000, (len(parameters), len(properties))


async def test_a_model_s_own_description_is_kept(anonymous):
    document = await _document(anonymous)
    remaining = document["components"]["schemas"]["Call"]["properties"]["remaining"]["description"]
    assert remaining.startswith("requested − committed"), remaining


async def test_the_goods_catalogue_is_where_items_are_described(anonymous):
    document = await _document(anonymous)
    listed = {entry["code"]: entry for entry in document["x-goods-catalogue"]}
    assert listed.keys() == GOODS.keys()
    water = listed["drinking_water"]
    assert (water["zh"], water["en"], water["unit"], water["unit_zh"]) == ("饮用水", "drinking water", "box", "箱")
    assert "| `drinking_water` | 饮用水 | drinking water |" in document["info"]["description"]
    item = document["components"]["schemas"]["Call"]["properties"]["item"]["description"]
    for code in GOODS:
        assert f"`{code}` {GOODS_ZH[code]}" in item, code
    listing = next(p for p in document["paths"]["/v1/incidents/{id}/calls"]["get"]["parameters"] if p["name"] == "item")
    assert "drinking_water" in listing["description"]


async def test_the_described_document_is_still_valid_openapi(anonymous):
    document = await _document(anonymous)
    validate(document)
    path = document["paths"]["/v1/calls/{id}/pledges"]["post"]["parameters"][0]
    assert path["description"] == "The call's id (a UUID)"
