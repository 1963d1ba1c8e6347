"""The OpenAPI 3.1 document, built from the route table and the pydantic models it names."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

import relief
from handlers.problems import PROBLEM_TYPES
from handlers.routing import Operation
from models.common import Problem

_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No content", 400: "Malformed request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
    412: "Precondition failed", 413: "Payload too large", 415: "Unsupported media type",
    422: "Validation failed", 428: "Precondition required", 503: "Database unavailable",
}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def build(operations: list[Operation]) -> dict[str, Any]:
    """The whole document; every served operation appears, with its security and its errors."""
    models: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    others: list[tuple[Any, str]] = []  # unions and other non-model types, e.g. CallCreate
    for op in operations:
        for schema_type, mode in ((op.body, "validation"), (op.response, "serialization")):
            if schema_type is None:
                continue
            if isinstance(schema_type, type) and issubclass(schema_type, BaseModel):
                models.append((schema_type, mode))
            else:
                others.append((schema_type, mode))
    refs: dict[tuple[Any, str], Any]
    refs, definitions = models_json_schema(  # type: ignore[assignment]
        list(dict.fromkeys(models)), ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = definitions.get("$defs", {})
    for schema_type, mode in others:
        schema = TypeAdapter(schema_type).json_schema(mode=mode, ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        refs[(schema_type, mode)] = schema
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.handler.__name__,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _path_parameters(op.path),
            "responses": {},
        }
        if op.roles:
            item["description"] = f"Who may call it: {op.roles}."
        if op.query is not None:
            item["parameters"] += _query_parameters(op.query, schemas)
        if op.if_match:
            item["parameters"].append({
                "name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
                "description": 'The ETag from your last read, e.g. "3"',
            })
        if op.idempotent:
            item["parameters"].append({
                "name": "Idempotency-Key", "in": "header", "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Unique per create, kept 24 h: a retry with the same key and body replays the "
                "first response (Idempotent-Replayed: true); the same key with another body is a 422.",
            })
        if op.body is not None:
            item["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        success: dict[str, Any] = {"description": _STATUS_TEXT.get(op.status, "OK")}
        if op.response is not None:
            success["content"] = {op.content_type: {"schema": refs[(op.response, "serialization")]}}
        elif op.content_type != "application/json":
            success["content"] = {op.content_type: {"schema": {"type": "string"}}}
        if op.idempotent:
            success["headers"] = {
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                        "description": "Present when this is the stored first response"},
            }
        item["responses"][str(op.status)] = success
        errors = set(op.errors)
        if not op.public:
            errors |= {401, 503}
            item["security"] = [{"bearerAuth": []}]
        else:
            item["security"] = []
        if op.body is not None:
            errors |= {400, 413, 415, 422}
        if op.query is not None:
            errors |= {422}
        if op.idempotent:
            errors |= {400, 409, 422}
        for status in sorted(errors):
            item["responses"][str(status)] = _problem_response(status)
        if not item["parameters"]:
            del item["parameters"]
        oa_path = op.path
        paths.setdefault(oa_path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Relief API",
            "version": relief.__version__,
            "description": (
                "Disaster relief coordination for a civil-affairs bureau. Errors are RFC 9457 problem "
                "details; problem types: "
                + ", ".join(f"`{slug}` ({status})" for slug, (status, _, _) in PROBLEM_TYPES.items())
                + "."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key, rk_…"}
            },
        },
    }
