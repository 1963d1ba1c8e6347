"""Rate limits as middleware: failed authentication per client address, requests per API key.

Both count in this process only (relief/ratelimits.py): N replicas allow N times as much. Refusals are
429 problem+json with Retry-After and the RateLimit-* fields of draft-ietf-httpapi-ratelimit-headers:
the three of its earlier revisions (-06: RateLimit-Limit, -Remaining, -Reset), which most clients read,
and the two of the current one (-10: RateLimit-Policy `"key";q=100;w=2`, RateLimit `"key";r=57;t=1`).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from aiohttp import web

from handlers.common import PRINCIPAL
from handlers.console import SESSION_COOKIE
from handlers.metrics import METRICS
from handlers.middleware import OPERATIONS
from handlers.problems import HttpProblem
from handlers.proxy import Trust
from handlers.proxy import client as forwarded_client
from handlers.routing import Handler, Operation
from relief.app_keys import SETTINGS
from relief.ratelimits import Buckets, Clock, Decision
from relief.settings import Settings

# Monotonic seconds for every bucket of the app; tests set a fake clock here before the app starts.
CLOCK = web.AppKey[Clock]("rate_limit_clock")
DECISION = web.RequestKey("rate_limit_decision", Decision)
SESSION_PATH = "/console/session"


@dataclass(frozen=True)
class Limits:
    keys: Buckets | None  # None: the limit is off (RELIEF_RATE_LIMIT_PER_SECOND=0)
    failures: Buckets | None  # None: off (RELIEF_AUTH_FAILURES_PER_MINUTE=0)


LIMITS = web.AppKey("rate_limits", Limits)


def setup(app: web.Application, settings: Settings) -> None:
    """The app's buckets, reading the clock from app[CLOCK] (time.monotonic unless a test sets one)."""
    app[CLOCK] = time.monotonic

    def clock() -> float:
        return app[CLOCK]()

    keys = failures = None
    if settings.rate_limit_per_second > 0:
        keys = Buckets(capacity=settings.rate_limit_burst, rate=settings.rate_limit_per_second, clock=clock)
    if settings.auth_failures_per_minute > 0:
        per_minute = settings.auth_failures_per_minute
        failures = Buckets(capacity=per_minute, rate=per_minute / 60, clock=clock)
    app[LIMITS] = Limits(keys, failures)
    app.on_response_prepare.append(_show_key_limit)


def headers(policy: str, decision: Decision) -> dict[str, str]:
    """The RateLimit-* fields of one bucket (see the module's docstring for the two draft revisions)."""
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
        "RateLimit-Policy": f'"{policy}";q={decision.limit};w={decision.window}',
        "RateLimit": f'"{policy}";r={decision.remaining};t={decision.reset}',
    }


def client_address(request: web.Request, trust: Trust | int | None = None) -> str:
    """Who is asking, as the bucket key: the client address handlers/proxy.py finds (the peer's, or
    through RELIEF_TRUSTED_PROXIES the X-Forwarded-For entry they saw; a bare int is
    RELIEF_TRUSTED_PROXY_HOPS alone). IPv6 counts by /64, the block one subscriber gets."""
    address = forwarded_client(request, Trust(hops=trust) if isinstance(trust, int) else trust)
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:64]  # not an address (a Unix socket, a proxy's junk): bounded, still a key
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _presents_credentials(request: web.Request, operation: Operation | None) -> bool:
    """A request that may cost an authentication query: a key or cookie on a route that needs one,
    or the console's sign-in. Public routes are never limited per address (a city behind one NAT
    reads them), and a request with no credentials gets its 401 without asking the database."""
    if operation is None:
        return False
    if operation.path == SESSION_PATH:
        return request.method == "POST" or SESSION_COOKIE in request.cookies
    if operation.public:
        return False
    return "Authorization" in request.headers or SESSION_COOKIE in request.cookies


def _refuse(request: web.Request, limit: str, policy: str, decision: Decision, detail: str) -> HttpProblem:
    request.app[METRICS].rate_limited.labels(limit).inc()
    return HttpProblem(
        "rate-limited",
        f"{detail}; retry after {decision.retry_after} s",
        headers={"Retry-After": str(decision.retry_after), **headers(policy, decision)},
    )


RECEIPT_PATH = "/v1/public/incidents/{id}/receipts/{receipt_no}"


@web.middleware
async def limit_failed_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before authentication: an address that has spent its failed authentications (any 401), or its
    receipt lookups that found nothing, gets 429 for requests with credentials and for receipt lookups,
    before any database query."""
    failures = request.app[LIMITS].failures
    operation: Operation | None = request.app[OPERATIONS].get(request.match_info.route)
    # A receipt lookup that finds nothing is a wrong guess of a number and an amount: it spends the same
    # budget as a failed sign-in, so that nobody can try the ledger's amounts against a receipt number.
    guessing = operation is not None and operation.path == RECEIPT_PATH
    if failures is None or not (guessing or _presents_credentials(request, operation)):
        return await handler(request)
    failed = (401, 404) if guessing else (401,)
    address = client_address(request)
    decision = failures.check(address)
    if not decision.allowed:
        per_minute = request.app[SETTINGS].auth_failures_per_minute
        what = "receipt lookups that found nothing" if guessing else "failed sign-ins or unknown keys"
        raise _refuse(request, "auth_failures", "auth-failures", decision,
                      f"too many {what} from your address ({per_minute} a minute)")
    try:
        response = await handler(request)
    except (HttpProblem, web.HTTPException) as exc:
        if exc.status in failed:
            failures.spend(address)
        raise
    if response.status in failed:
        failures.spend(address)
    return response


@web.middleware
async def limit_keys(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After authentication: each API key (a console session counts as its key) spends one token a
    request; an empty bucket answers 429."""
    keys = request.app[LIMITS].keys
    found = request.get(PRINCIPAL)
    if keys is None or found is None or found.key_id is None:
        return await handler(request)
    decision = keys.take(str(found.key_id))
    request[DECISION] = decision
    if not decision.allowed:
        settings = request.app[SETTINGS]
        raise _refuse(request, "key", "key", decision,
                      f"this API key has spent its burst of {settings.rate_limit_burst} requests "
                      f"({settings.rate_limit_per_second:g} a second, per server process)")
    return await handler(request)


async def _show_key_limit(request: web.Request, response: web.StreamResponse) -> None:
    """Every response to a key-authenticated request, errors and streams included, shows the key's
    bucket: the figures are at hand, and a client that reads them can pace itself instead of hitting 429."""
    decision = request.get(DECISION)
    if decision is not None and "RateLimit-Limit" not in response.headers:
        response.headers.update(headers("key", decision))
