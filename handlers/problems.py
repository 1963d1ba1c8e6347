"""RFC 9457 problem details: the one error shape every response uses."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from aiohttp import web

from relief import errors
from relief.app_keys import REQUEST_ID

PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    # slug: (status, title, what it means, for /docs)
    "malformed-request": (400, "Malformed request", "The body is not valid JSON, or a header is unusable."),
    "unauthorized": (401, "Unauthorized", "No API key, or one that is unknown or revoked."),
    "forbidden": (403, "Forbidden", "The key is valid but its role may not do this."),
    "not-found": (404, "Not found", "No such route, or no such resource that you may see."),
    "method-not-allowed": (405, "Method not allowed", "The route exists; the method does not."),
    "conflict": (409, "Conflict", "A unique value is taken (incident code, credit code…)."),
    "invalid-state": (
        409,
        "Not allowed in the current state",
        "The action needs another state; `state` names the current one.",
    ),
    "over-committed": (
        409,
        "Over-commitment",
        "The pledge is larger than what the call still needs; `remaining` says how much that is.",
    ),
    "insufficient": (
        409,
        "Insufficient",
        "More than a location holds on hand (or a fund's balance); `available` says how much there is.",
    ),
    "idempotency-in-progress": (
        409,
        "Request in progress",
        "A request with this Idempotency-Key is still running; retry after it finishes.",
    ),
    "precondition-failed": (412, "Precondition failed", "`If-Match` names an old version; fetch the resource again."),
    "request-timeout": (
        408,
        "Request timeout",
        "The body did not arrive within the deadline (RELIEF_BODY_TIMEOUT, 30 s); the connection is closed.",
    ),
    "payload-too-large": (413, "Payload too large", "The body is over the size limit (1 MiB)."),
    "unsupported-media-type": (415, "Unsupported media type", "A body must be sent as application/json."),
    "validation-failed": (422, "Validation failed", "`errors[]` lists each field at fault by JSON pointer."),
    "precondition-required": (428, "Precondition required", "Updates need `If-Match` with the resource's ETag."),
    "rate-limited": (
        429,
        "Too many requests",
        "A rate limit is spent (per API key, or failed sign-ins per address); retry after `Retry-After` seconds.",
    ),
    "internal-error": (500, "Internal error", "A fault of ours; the request id finds it in the logs."),
    "unavailable": (503, "Service unavailable", "The database is unreachable; retry after `Retry-After` seconds."),
}

_BY_STATUS = {status: slug for slug, (status, _, _) in reversed(PROBLEM_TYPES.items())}


# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) → errors[].code.
_PYDANTIC_CODES: dict[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_too_short": "too_short",
    "too_short": "too_short",
    "string_pattern_mismatch": "pattern",
    "int_parsing": "not_a_number",
    "float_parsing": "not_a_number",
    "decimal_parsing": "not_a_number",
    "decimal_type": "not_a_number",
    "float_type": "not_a_number",
    "int_type": "not_a_number",
    "int_from_float": "not_a_whole_number",
    "finite_number": "not_a_number",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "multiple_of": "too_precise",
    "decimal_max_digits": "too_precise",
    "decimal_max_places": "too_precise",
    "decimal_whole_digits": "too_precise",
    "enum": "not_allowed",
    "literal_error": "not_allowed",
    "union_tag_invalid": "not_allowed",
    "union_tag_not_found": "required",
    "uuid_parsing": "not_an_id",
    "uuid_type": "not_an_id",
    "uuid_version": "not_an_id",
    "url_parsing": "not_a_url",
    "url_scheme": "not_a_url",
    "url_syntax_violation": "not_a_url",
    "url_too_long": "too_long",
    "url_type": "not_a_url",
    "string_not_ascii": "pattern",
}

# Our own validators raise ValueError (pydantic's `value_error`) and the use cases relief.errors.Invalid,
# each with an English message: the message says which rule, so it is matched here, first pattern first.
# tests/test_error_codes.py sends a request for each and pins its code, so a reworded message cannot
# silently change a code clients rely on.
_MESSAGE_CODES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), code) for p, code in (
        (r"\bregion (code|filter|is)\b", "region_code"),
        (r"unified social credit code|GB 32100", "credit_code"),
        (r"resident ID|GB 11643", "id_number"),
        (r"phone number", "phone"),
        (r"whole number", "not_a_whole_number"),
        (r"not a decimal number|expected a number|finite number|JSON number|not a float", "not_a_number"),
        (r"ISO 4217", "currency"),
        (r"decimal places", "too_precise"),
        (r"ISO 8601|between the years", "not_a_time"),
        (r"\bafter\b", "order"),
        (r"exactly one of|name one location|give both|not both|names the shelter|has no shelter", "one_of"),
        (r"event (type|family|name)", "event_type"),
        (r"NUL character|control character", "control_character"),
        (r"may not be null", "not_null"),
        (r"reused with a different|already used", "reused_key"),
        (r"does not exist|is not a \w+ of this incident|no (site|shelter) .* in this incident", "unknown_reference"),
        (r"^required\b|\brequired$", "required"),
    )
]


def code_of_message(detail: str) -> str:
    """errors[].code for an item that has only its English detail (our own validators and use cases)."""
    for pattern, code in _MESSAGE_CODES:
        if pattern.search(detail):
            return code
    return "invalid"


def error_code(error: Any) -> str:
    """errors[].code for one pydantic error (its `type`, or for our validators' ValueErrors their message)."""
    kind = error["type"]
    if kind in _PYDANTIC_CODES:
        if kind == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
            return "required"  # blank text: stripped, nothing is left
        return _PYDANTIC_CODES[kind]
    if kind in ("value_error", "assertion_error"):
        return code_of_message(str(error.get("msg", "")))
    if kind.endswith("_type") or kind in ("model_attributes_type", "dict_type", "list_type"):
        return "wrong_type"
    if kind.startswith(("datetime_", "date_", "time_", "timezone_")):
        return "not_a_time"
    return "invalid"


def with_codes(items: Any) -> Any:
    """Every errors[] item with its code (an item that brought one keeps it)."""
    if not isinstance(items, list):
        return items
    return [
        {**item, "code": item.get("code") or code_of_message(str(item.get("detail", "")))}
        if isinstance(item, dict) else item
        for item in items
    ]


def problem_type(slug: str) -> str:
    """The problem's `type` URI: a relative reference to its entry in the /docs page."""
    return f"/docs#problem-{slug}"


class HttpProblem(Exception):
    """Raised by handlers for errors of HTTP itself (auth, headers, bodies)."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.status = PROBLEM_TYPES[slug][0]
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def response(
    request: web.Request,
    *,
    status: int,
    detail: str | None,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    slug = slug or _BY_STATUS.get(status)
    body: dict[str, Any] = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or (PROBLEM_TYPES[slug][1] if slug else HTTPStatus(status).phrase),
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": request.get(REQUEST_ID),
        **{k: v for k, v in extra.items() if v is not None},
    }
    if "errors" in body:
        body["errors"] = with_codes(body["errors"])
    return web.json_response(
        body,
        status=status,
        headers=headers,
        content_type="application/problem+json",
        dumps=lambda value: json.dumps(value, ensure_ascii=False),
    )


# Domain errors → (status, slug). Handlers never build these responses by hand.
DOMAIN_STATUS: dict[type[errors.ReliefError], tuple[int, str]] = {
    errors.NotFound: (404, "not-found"),
    errors.InvalidState: (409, "invalid-state"),
    errors.OverCommitted: (409, "over-committed"),
    errors.Insufficient: (409, "insufficient"),
    errors.InProgress: (409, "idempotency-in-progress"),
    errors.Conflict: (409, "conflict"),
    errors.StaleVersion: (412, "precondition-failed"),
    errors.VersionRequired: (428, "precondition-required"),
    errors.Forbidden: (403, "forbidden"),
    errors.Invalid: (422, "validation-failed"),
    errors.Unavailable: (503, "unavailable"),
}


def domain_status(exc: errors.ReliefError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400, "malformed-request"
