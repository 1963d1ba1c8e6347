"""Examples made from JSON Schemas, for the OpenAPI document's webhooks (one per event type).

Hand-written examples for some eighty payloads would drift from the models; these are generated from
the very schemas they illustrate, preferring what a model says itself (`examples`, `const`, `enum`),
and tests/test_event_catalog.py validates each against its schema.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
_TIME = "2023-07-29T06:30:00Z"  # the day after Doksuri made landfall at Jinjiang
_FORMATS = {"uuid": _UUID, "date-time": _TIME, "date": "2023-07-29", "email": "duty@example.org",
            "uri": "https://example.org/relief"}
# What a string with a pattern may be: the first of these that the pattern takes (decimals, region codes).
_CANDIDATES = ("12", "320505", "0", "12.5", "CNY", "a", "0-0", "duty@example.org", "13912345678")
_DEPTH = 12  # deeper than any payload; a guard should a schema ever refer to itself


# Realistic values by property name, from the Doksuri response (Suzhou, July–August 2023): used where the
# schema takes them (its type, enum, pattern and bounds), else the generic value is made as before.
HINTS: dict[str, Any] = {
    "code": "2023-DOKSURI-SZ", "title": "台风“杜苏芮”苏州市救灾响应", "type": "typhoon", "severity": "II",
    "regions": ["320500"], "region": "320505", "origin_region": "320505", "from_region": "320505",
    "region_name": "虎丘区", "region_names": ["苏州市"], "started_at": "2023-07-28T01:55:00Z",
    "description": "台风“杜苏芮”残余环流带来强降雨，虎丘区、吴中区低洼地段积水，需转移群众并保障安置点物资。",
    "item": "drinking_water", "unit": "box", "quantity": "200", "amount": "50000.00", "currency": "CNY",
    "estimated_value": "6000.00", "headcount": 30, "count": 120, "capacity": 300, "household_size": 3,
    "skill": "boat_rescue", "skills": ["boat_rescue"], "priority": "high", "channel": "bank_transfer",
    "receipt_no": "SZMZ-2023-0729-0017", "name": "苏州市蓝天救援队", "credit_code": "91320500MA1MXXXX3T",
    "address": "苏州市虎丘区浒墅关镇文昌路 28 号浒墅关中学体育馆", "phone": "13912345678",
    "note": "已与浒墅关镇民政办核对", "reason": "仓库已满，改送吴中区仓储点", "headline": "苏州市防汛防台风Ⅱ级应急响应",
    "instruction": "低洼地区群众请立即前往就近安置点", "deadline": "2023-07-30T10:00:00Z",
    "available_from": "2023-07-29T00:00:00Z", "available_until": "2023-08-05T00:00:00Z",
    "needed_from": "2023-07-29T08:00:00Z", "needed_until": "2023-08-02T20:00:00Z",
    "url": "https://team.example.org/relief", "event_types": ["call.*"], "language": "zh",
    "location": {"lat": 31.3, "lon": 120.6}, "lat": 31.3, "lon": 120.6, "vulnerabilities": ["elderly"],
    "id_type": "resident_id", "id_number": "320505195307150021", "point": "31.3,120.6", "circle": "31.3,120.6 5",
    "polygon": "31.35,120.55 31.35,120.65 31.25,120.65 31.25,120.55 31.35,120.55",
    "placement": "centralized", "status": "open", "kind": "goods",
}
_ENTITIES = ("incident", "call", "pledge", "offer", "donation", "organization", "shelter", "resident", "site",
             "task", "alert", "webhook", "key")


def _uuid_for(name: str) -> str:
    """One id per entity, the same wherever it appears (an Incident's id is a Call's incident_id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://relief.example.org/doksuri/{name}"))


def _fits(value: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """Whether `schema` takes `value`, for the keywords the models use (a cautious subset)."""
    schema = _resolve(schema, schemas)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return any(_fits(value, option, schemas) for option in options)
    if "const" in schema:
        return bool(value == schema["const"])
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema.get("type")
    if isinstance(value, bool) or value is None:
        return kind == ("boolean" if isinstance(value, bool) else "null")
    if isinstance(value, str):
        pattern = schema.get("pattern")
        return (kind == "string" and schema.get("format") in (None, "date-time", "uuid")
                and len(value) <= schema.get("maxLength", len(value)) and len(value) >= schema.get("minLength", 0)
                and (pattern is None or re.search(pattern, value) is not None))
    if isinstance(value, int | float):
        return kind in ("integer", "number") and (kind == "number" or isinstance(value, int)) and (
            schema.get("minimum", value) <= value <= schema.get("maximum", value)
            and schema.get("exclusiveMinimum", value - 1) < value)
    if isinstance(value, list):
        return kind == "array" and all(_fits(v, schema.get("items", {}), schemas) for v in value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return kind == "object" and all(k in properties and _fits(v, properties[k], schemas) for k, v in value.items())
    return False


def realistic(schema: dict[str, Any], schemas: dict[str, Any], name: str | None = None) -> Any:
    """An example of `schema` (a component's name in `name`) with Doksuri values where they fit."""
    resolved = _resolve(schema, schemas)
    if name is None and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
    entity = next((e for e in _ENTITIES if name and e in name.lower()), None)
    value = example(schema, schemas)
    if isinstance(value, dict) and "properties" in resolved:
        for prop, spec in resolved["properties"].items():
            hint = HINTS.get(prop)
            if prop == "id" and entity:
                hint = _uuid_for(entity)
            elif prop.endswith("_id") and prop.removesuffix("_id") in _ENTITIES:
                hint = _uuid_for(prop.removesuffix("_id"))
            if hint is not None and _fits(hint, spec, schemas):
                value[prop] = hint
            elif isinstance(value.get(prop), dict | list):
                inner = _resolve(spec, schemas)
                chosen = next((o for o in inner.get("anyOf", []) if _resolve(o, schemas).get("type") != "null"), inner)
                if "$ref" in chosen or "properties" in chosen:
                    value[prop] = realistic(chosen, schemas)
                elif chosen.get("type") == "array" and value[prop]:
                    value[prop] = [realistic(chosen.get("items", {}), schemas)]
    return value


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**schemas[name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _string(schema: dict[str, Any]) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    pattern = schema.get("pattern")
    if pattern is None:
        return "text"
    for candidate in _CANDIDATES:
        if re.search(pattern, candidate):
            return candidate
    raise ValueError(f"no example string matches the pattern {pattern!r}: give the field examples=[…]")


def _number(schema: dict[str, Any], kind: str) -> int:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    value = max(low, 0) + (1 if "exclusiveMinimum" in schema or kind == "integer" else 0)
    # A whole number even where the type is number: the decimal types refuse floats (models/amounts.py).
    return int(value)


def example(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A value that `schema` takes; `$ref`s point into `schemas` (the document's components)."""
    if depth > _DEPTH:
        return None
    schema = _resolve(schema, schemas)
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:  # the first that is something: an example says what a field holds when it holds one
        chosen = next((o for o in options if _resolve(o, schemas).get("type") != "null"), options[0])
        return example(chosen, schemas, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example(part, schemas, depth + 1) or {})
        return merged
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        value = {name: example(prop, schemas, depth + 1) for name, prop in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not value:
            key = _string(schema.get("propertyNames", {"format": "uuid"}))
            value[key] = example(extra, schemas, depth + 1)
        return value
    if kind == "array":
        return [example(schema.get("items", {}), schemas, depth + 1)] if schema.get("maxItems", 1) else []
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return True
    return None
