"""Examples made from JSON Schemas, for the OpenAPI document's webhooks (one per event type).

Hand-written examples for some eighty payloads would drift from the models; these are generated from
the very schemas they illustrate, preferring what a model says itself (`examples`, `const`, `enum`),
and tests/test_event_catalog.py validates each against its schema.
"""

from __future__ import annotations

import re
from typing import Any

_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
_TIME = "2024-07-21T06:30:00Z"
_FORMATS = {"uuid": _UUID, "date-time": _TIME, "date": "2024-07-21", "email": "duty@example.org",
            "uri": "https://example.org/relief"}
# What a string with a pattern may be: the first of these that the pattern takes (decimals, region codes).
_CANDIDATES = ("12", "320505", "0", "12.5", "CNY", "a", "0-0")
_DEPTH = 12  # deeper than any payload; a guard should a schema ever refer to itself


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
