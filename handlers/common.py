"""What every handler needs: the caller, the pool, parsed bodies and queries, ETags, JSON out."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from handlers.problems import HttpProblem, error_code
from relief import idempotency
from relief.app_keys import POOL
from relief.auth import Principal
from relief.errors import NO_IF_MATCH, IfMatch

M = TypeVar("M", bound=BaseModel)

PRINCIPAL = web.RequestKey("principal", Principal)


def pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware has already refused anonymous requests)."""
    found = request.get(PRINCIPAL)
    if found is None:  # a route marked public that still asks for a caller: a bug, not a 401
        raise RuntimeError("no principal on an authenticated route")
    return found


def path_id(request: web.Request, name: str = "id") -> UUID:
    """A UUID path segment; anything else cannot name a resource, so it is a 404."""
    raw = request.match_info[name]
    try:
        return UUID(raw)
    except ValueError:
        raise HttpProblem("not-found", f"{raw!r} is not an id of this service") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _pointer_of(loc: tuple[Any, ...], document: Any, error_type: str) -> str:
    """Turn a pydantic location into a JSON pointer into what the client sent.

    pydantic puts union-member and validator names into locations; those are not in the document,
    so the walk stops where the document does (a missing field is still named).
    """
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        # Every discriminated union here is tagged by "kind", at the top or nested (a distribution's "to").
        return _pointer_of(loc, document, "") + "/kind"
    parts: list[str] = []
    node = document
    for index, elem in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and isinstance(elem, str):
            if elem in node:
                parts.append(elem)
                node = node[elem]
                continue
            if node.get("kind") == elem:
                continue  # a discriminated union names the member by its tag: not in the document
            if last or error_type == "missing":
                parts.append(elem)
            break
        if isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            parts.append(str(elem))
            node = node[elem]
            continue
        break
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _message(error: dict[str, Any]) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_problem(exc: ValidationError, document: Any, *, where: str = "body") -> HttpProblem:
    """A 422 naming every field at fault: JSON pointers for bodies, names for query parameters."""
    items = []
    for error in exc.errors(include_url=False):
        if where == "body":
            items.append({"pointer": _pointer_of(error["loc"], document, error["type"]), "code": error_code(error),
                          "detail": _message(error)})
        else:
            name = str(error["loc"][0]) if error["loc"] else ""
            items.append({"parameter": name, "code": error_code(error), "detail": _message(error)})
    count = len(items)
    return HttpProblem(
        "validation-failed",
        f"{count} {'field is' if count == 1 else 'fields are'} not valid",
        errors=items,
    )


_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")


async def body(request: web.Request, model: type[M] | TypeAdapter[M]) -> M:
    """Read a JSON body into `model`: 415 unless JSON, 400 if malformed, 422 if invalid.

    Numbers are read as Decimal, so 0.1 stays exactly 0.1 all the way to NUMERIC.
    """
    if not _JSON_TYPE.match(request.content_type):
        raise HttpProblem(
            "unsupported-media-type",
            f"send the body as application/json, not {request.content_type or 'no content type'}",
        )
    raw = await request.read()  # raises 413 past client_max_size
    try:
        document = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpProblem("malformed-request", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpProblem("malformed-request", "the body nests too deeply") from None
    nul = _nul_pointer(document)
    if nul is not None:
        raise HttpProblem(
            "validation-failed",
            "text may not contain the NUL character (\\u0000)",
            errors=[{"pointer": nul, "detail": "contains the NUL character"}],
        )
    return validate(model, document)


def _nul_pointer(document: Any, path: str = "") -> str | None:
    """Where a string holds U+0000, which PostgreSQL text cannot store; None when nowhere."""
    stack = [(document, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return where
        elif isinstance(node, dict):
            for key, value in node.items():
                pointer = f"{where}/{key.replace('~', '~0').replace('/', '~1')}"
                if "\x00" in key:
                    return pointer
                stack.append((value, pointer))
        elif isinstance(node, list):
            stack.extend((value, f"{where}/{i}") for i, value in enumerate(node))
    return None


async def optional_body(request: web.Request, model: type[M] | TypeAdapter[M]) -> M:
    """Like body(), but a POST with no body at all gets the model's defaults."""
    if not request.body_exists and request.content_length in (None, 0):
        return validate(model, {})
    return await body(request, model)


def validate(model: type[M] | TypeAdapter[M], document: Any) -> M:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(document)
        return model.model_validate(document)
    except ValidationError as exc:
        raise validation_problem(exc, document) from None


def query(request: web.Request, model: type[M]) -> M:
    """Query parameters into `model`; unknown parameters are a 422, so a typo does not go unseen."""
    params: dict[str, Any] = {}
    for name in request.query:
        values = request.query.getall(name)
        if any("\x00" in v for v in values) or "\x00" in name:
            raise HttpProblem(
                "validation-failed",
                "query parameters may not contain the NUL character",
                errors=[{"parameter": name, "detail": "contains the NUL character"}],
            )
        params[name] = values[0] if len(values) == 1 else values
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise validation_problem(exc, params, where="query") from None


def etag(version: int) -> str:
    return f'"{version}"'


_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')


def if_match(request: web.Request) -> IfMatch:
    """The versions an update may apply to (RFC 9110 If-Match): None for `*`, else the set named.

    A missing header is NO_IF_MATCH: the use case answers 428 naming the resource's current version
    (which only it reads). Weak tags and tags that are not ours can never match strongly, so they lead
    to 412, like an old version; only an unparseable header is a 400.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return NO_IF_MATCH
    if header.strip() == "*":
        return None
    versions: set[int] = set()
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match is None:
            raise HttpProblem("malformed-request", f"If-Match {header!r} is not a list of entity tags")
        weak, tag = match.groups()
        if not weak and tag.isdigit() and len(tag) <= 9:
            versions.add(int(tag))
    return frozenset(versions)


def respond(model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A read model as JSON; resources with a version get their ETag."""
    out = dict(headers or {})
    version = getattr(model, "version", None)
    if isinstance(version, int):
        out["ETag"] = etag(version)
    return web.Response(
        body=model.model_dump_json().encode(),
        status=status,
        headers=out,
        content_type="application/json",
    )


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_scope(caller: Principal) -> str:
    """Keys belong to the caller: an organization (whichever of its keys), or a staff key."""
    if caller.organization_id is not None:
        return f"org:{caller.organization_id}"
    return f"key:{caller.key_id}"


async def idempotent(
    request: web.Request, data: BaseModel, work: idempotency.Work, *, required: bool = True,
    isolation: str = "read_committed", fenced: bool = True, conn: asyncpg.Connection | None = None,
) -> web.Response:
    """Run a create once per Idempotency-Key, replaying the first response after.

    Without the header: 400 when `required`, else the work simply runs once, in its own transaction.
    """
    key = idempotency_key(request, required=required)
    async with nullcontext(conn) if conn is not None else pool(request).acquire() as held:
        outcome = await idempotency.run_once(
            held, scope=idempotency_scope(principal(request)), key=key, fingerprint=request_fingerprint(request, data),
            work=work, isolation=isolation, fenced=fenced,
        )
    return idempotent_response(outcome, key)


def idempotency_key(request: web.Request, *, required: bool = True) -> str | None:
    """The request's Idempotency-Key: 400 when missing (if `required`) or malformed."""
    key = request.headers.get("Idempotency-Key")
    if key is None and required:
        raise HttpProblem(
            "malformed-request",
            "this request moves money, goods or people: send an Idempotency-Key header (a fresh UUID per "
            "create, reused on retries)",
            errors=[{"parameter": "Idempotency-Key", "detail": "required"}],
        )
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise HttpProblem(
            "malformed-request",
            "Idempotency-Key must be 1–255 visible ASCII characters",
            errors=[{"parameter": "Idempotency-Key", "detail": "1–255 visible ASCII characters"}],
        )
    return key


def request_fingerprint(request: web.Request, data: BaseModel) -> bytes:
    """What makes a retry "the same request": method, path and the validated body."""
    return idempotency.fingerprint(request.method, request.path, data.model_dump_json().encode())


def idempotent_response(outcome: idempotency.Response, key: str | None) -> web.Response:
    """A create's answer, first time or replayed, with its Idempotency-Key, Location and ETag."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    if outcome.location:
        headers["Location"] = outcome.location
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    version = _stored_version(outcome.body) if 200 <= outcome.status < 300 else None
    if version is not None:
        headers["ETag"] = etag(version)  # as respond() does: a stored response is the same resource
    return web.Response(body=outcome.body, status=outcome.status, headers=headers, content_type="application/json")


def _stored_version(raw: bytes) -> int | None:
    try:
        version = json.loads(raw).get("version")
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def created(model: BaseModel, location: str) -> idempotency.Response:
    """The response of a create, in the form the idempotency store keeps."""
    return idempotency.Response(201, model.model_dump_json().encode(), location)
