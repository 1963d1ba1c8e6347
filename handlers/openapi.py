"""The OpenAPI 3.1 document, built from the route table and the pydantic models it names."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

import relief
from handlers import openapi_descriptions, openapi_webhooks
from handlers.openapi_examples import realistic
from handlers.problems import PROBLEM_TYPES
from handlers.routing import Operation
from models.common import Problem

_STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Malformed request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    408: "The body did not arrive in time", 409: "Conflict", 412: "Precondition failed",
    413: "Payload too large", 415: "Unsupported media type", 422: "Validation failed",
    428: "Precondition required", 429: "Too many requests", 503: "Database unavailable",
}

# What If-Match and Idempotency-Key may hold: what handlers/common.py parses, and nothing it refuses.
_ENTITY_TAG = r'(?:W/)?"[!#-+\--~]*"'
IF_MATCH_PATTERN = rf"^(?:\*|{_ENTITY_TAG}(?: *, *{_ENTITY_TAG})*)$"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"

_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}
RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": _SECONDS}
# The IETF draft's headers (draft-ietf-httpapi-ratelimit-headers), as handlers/ratelimits.py sends them.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests the key may make in a burst",
    "RateLimit-Remaining": "Requests left in the current burst",
    "RateLimit-Reset": "Seconds until the burst is full again",
}


def _header(description: str, schema: dict[str, Any] | None = None, *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


def _rate_limited() -> dict[str, Any]:
    headers = {"Retry-After": {**RETRY_AFTER, "required": True}}
    for name, description in RATE_LIMIT_HEADERS.items():
        headers[name] = _header(description, _SECONDS, required=False)
    headers["RateLimit-Policy"] = _header("The limit that applies, e.g. 100;w=2", required=False)
    return headers


def _has_version(model: Any) -> bool:
    """Read models with an integer `version` are answered with their ETag (handlers/common.respond)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    found = model.model_fields.get("version")
    return found is not None and found.annotation in (int, "int")


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"},
         "description": openapi_descriptions.path_parameter(path, name)}
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
        param["description"] = description or openapi_descriptions.query_parameter(model.__name__, name)
        params.append(param)
    return params


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == 429:
        response["headers"] = _rate_limited()
    elif status == 503:
        response["headers"] = {"Retry-After": {**RETRY_AFTER, "required": True}}
    elif status == 401:
        response["headers"] = {"WWW-Authenticate": _header('Bearer realm="relief"', required=False)}
    return response


def _success(op: Operation, status: int, refs: dict[tuple[Any, str], Any]) -> dict[str, Any]:
    """A 2xx response with its body and the headers the server sends with it."""
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK")}
    if status == 200 and op.status == 201:
        success["description"] = "Already there: the existing resource"
    if op.response is not None:
        success["content"] = {op.content_type: {"schema": refs[(op.response, "serialization")]}}
    elif op.content_type != "application/json":
        success["content"] = {op.content_type: {"schema": {"type": "string"}}}
    headers: dict[str, Any] = {}
    if _has_version(op.response) and status != 204:
        headers["ETag"] = _header('The version, to send back in If-Match, e.g. "3"', {"type": "string"})
    if op.status == 201 and op.location:
        headers["Location"] = _header("Where the created (or existing) resource is read", {"type": "string"})
    if op.idempotent or op.idempotency_optional:
        headers["Idempotency-Key"] = _header("The key this response is stored under, when one was sent",
                                             required=False)
        headers["Idempotent-Replayed"] = _header("Present when this is the stored first response",
                                                 {"type": "string", "enum": ["true"]}, required=False)
    for name, description in op.headers.items():
        if not description.startswith("(request)"):
            headers[name] = _header(description, required=False)
    if op.cached:
        headers["ETag"] = _header("A tag of the content: send it back in If-None-Match", {"type": "string"})
        headers["Cache-Control"] = _header("public, with a max-age in seconds", {"type": "string"})
    if headers:
        success["headers"] = headers
    return success


def _errors(op: Operation) -> set[int]:
    """Every error status the operation can answer, from what it declares and what the stack adds."""
    errors = set(op.errors) | {429}  # rate limits apply to every operation (handlers/ratelimits.py)
    if not op.public:
        errors |= {401}
    if op.uses_database:
        errors |= {503}
    if re.search(r"{\w+}", op.path):
        errors |= {404}  # a path id that is not a UUID, or names nothing the caller may see
    takes_body = op.body is not None or op.method in ("POST", "PATCH", "PUT")
    if takes_body:
        # Actions without a body still read one if it is sent (it must be {}): the same refusals,
        # and the body deadline (408) applies to every body.
        errors |= {400, 408, 413, 415, 422}
    if op.query is not None:
        errors |= {422}
    if op.if_match:
        errors |= {400, 412, 428}
    if op.idempotent or op.idempotency_optional:
        errors |= {400, 409, 422}
    return errors


def _examples(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """An example for every JSON request body and 2xx JSON response, made from its schema: one per variant
    where the schema is a choice (a goods, money or personnel call), else one."""
    for item in paths.values():
        for op in item.values():
            media = [op["requestBody"]["content"]] if "requestBody" in op else []
            media += [r["content"] for s, r in op["responses"].items() if s.startswith("2") and "content" in r]
            for content in media:
                spec = content.get("application/json")
                if spec is None:
                    continue
                variants = spec["schema"].get("oneOf") or spec["schema"].get("anyOf")
                refs = [v for v in variants or () if "$ref" in v]
                if refs and len(refs) == len(variants or ()):
                    spec["examples"] = {v["$ref"].rsplit("/", 1)[-1]: {"value": realistic(v, schemas)} for v in refs}
                else:
                    spec["example"] = realistic(spec["schema"], schemas)


def build(operations: list[Operation]) -> dict[str, Any]:
    """The whole document; every served operation appears, with its security and its errors."""
    models: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    others: list[tuple[Any, str]] = []  # unions and other non-model types, e.g. CallCreate
    used = [pair for op in operations for pair in ((op.body, "validation"), (op.response, "serialization"))]
    for schema_type, mode in used + openapi_webhooks.schema_types():
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
                "name": "If-Match", "in": "header", "required": True,
                "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                "description": 'The ETag from your last read, e.g. "3" (or *)',
            })
        if op.idempotent or op.idempotency_optional:
            item["parameters"].append({
                "name": "Idempotency-Key", "in": "header", "required": op.idempotent,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "description": "Unique per create, kept 24 h: a retry with the same key and body replays the "
                "first response (Idempotent-Replayed: true); the same key with another body is a 422.",
            })
        for name, description in op.headers.items():
            if description.startswith("(request)"):
                item["parameters"].append({
                    "name": name, "in": "header", "required": False, "schema": {"type": "string"},
                    "description": description.removeprefix("(request)").strip(),
                })
        if op.body is not None:
            item["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        elif op.upload:
            item["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string", "format": "binary", "description": what}}
                for media, what in op.upload.items()}}
        for status in (op.status, *op.also):
            item["responses"][str(status)] = _success(op, status, refs)
        if op.cached:
            item["parameters"].append({
                "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                "description": "The ETag of the copy you hold: 304 while it is still current",
            })
            item["responses"]["304"] = {
                "description": "Not modified: the copy you hold is current",
                "headers": {"ETag": _header("The same tag", {"type": "string"})},
            }
        item["security"] = [] if op.public else [{"bearerAuth": []}]
        for status in sorted(_errors(op)):
            item["responses"][str(status)] = _problem_response(status)
        if not item["parameters"]:
            del item["parameters"]
        oa_path = op.path
        paths.setdefault(oa_path, {})[op.method.lower()] = item
    openapi_descriptions.describe_schemas(schemas)
    _examples(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Relief API",
            "version": relief.__version__,
            "description": (
                "Disaster relief coordination for a civil-affairs bureau. Text never holds U+0000 (PostgreSQL "
                "cannot store it: 422). Every operation may answer 429 with Retry-After when a key, or an "
                "address failing to authenticate, is over its rate limit. Errors are RFC 9457 problem "
                "details; problem types: "
                + ", ".join(f"`{slug}` ({status})" for slug, (status, _, _) in PROBLEM_TYPES.items())
                + "."
                + openapi_descriptions.catalogue_markdown()
            ),
        },
        "x-goods-catalogue": openapi_descriptions.catalogue(),
        "servers": [{"url": "/"}],
        "paths": paths,
        "webhooks": openapi_webhooks.section(refs, schemas),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key, rk_…"}
            },
        },
    }
