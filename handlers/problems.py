"""RFC 9457 problem details: the one error shape every response uses."""

from __future__ import annotations

import json
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
    errors.Forbidden: (403, "forbidden"),
    errors.Invalid: (422, "validation-failed"),
    errors.Unavailable: (503, "unavailable"),
}


def domain_status(exc: errors.ReliefError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400, "malformed-request"
