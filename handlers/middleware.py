"""Request id and the canonical log line, problem+json for every error, and API-key auth."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import asyncpg
import structlog
from aiohttp import web

from handlers import console, problems, proxy
from handlers.common import PRINCIPAL, optional_body
from handlers.metrics import METRICS
from handlers.problems import HttpProblem
from handlers.routing import Handler, Operation
from models.common import Input
from relief import auth, db, sessions
from relief.app_keys import IN_FLIGHT, POOL, REQUEST_ID, SETTINGS
from relief.errors import ReliefError

log = structlog.get_logger("relief.http")

OPERATIONS = web.AppKey("operations", dict)  # aiohttp route → Operation


class NoBody(Input):
    """What an action without a body accepts if a client sends one: {}."""
RETRY_AFTER_SECONDS = 5
# Methods whose handlers only read (RFC 9110 §9.2.1), so running one twice changes nothing.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_PAUSE_SECONDS = 0.05
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


def _end_with_newline(response: web.StreamResponse) -> None:
    """A JSON body ends with a newline, as a text file does (`curl` leaves the prompt on its own line,
    `>> file` appends whole lines): here once, for every writer (respond, problems, stored replays, caches)."""
    if not isinstance(response, web.Response):
        return  # files and streams are written as they are
    kind = response.content_type
    body = response.body
    if (kind == "application/json" or kind.endswith("+json")) and isinstance(body, bytes | bytearray) \
            and body and not body.endswith(b"\n"):
        response.body = bytes(body) + b"\n"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take or make X-Request-ID, bind it to every log line, and write one line per request."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    in_flight = request.app[IN_FLIGHT]
    in_flight.enter()
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects and the like, passed through
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's convention); no response was sent
            raise
        status = response.status
        response.headers["X-Request-ID"] = request_id
        _end_with_newline(response)
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route_name(request)
        found = request.get(PRINCIPAL)
        log.info(
            "request",
            method=request.method,
            route=route,
            path=request.path,
            status=status,
            client=proxy.client(request),  # through RELIEF_TRUSTED_PROXIES: the address they saw
            duration_ms=round(elapsed * 1000, 2),
            principal=str(found.key_id) if found and found.key_id else None,
            role=str(found.role) if found else None,
        )
        request.app[METRICS].observe(request.method, route, status, elapsed)
        in_flight.leave()


@web.middleware
async def problem_details(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as RFC 9457 problem+json; only our own faults are logged with a traceback.

    A database that went away is an outage, not a fault: 503 + Retry-After and a warning, never a
    500 (db.unavailable() decides). A read whose connection died under it is run once more, on a
    fresh connection, so a routine restart costs a reader nothing. Writes are not re-run here: a
    handler may have committed one transaction before the one that failed, or the failure may have
    come after COMMIT was sent, and only the client, resending with its Idempotency-Key, can make a
    second attempt safe; so a write gets the 503.
    """
    try:
        try:
            return await handler(request)
        except Exception as exc:
            if not db.connection_died(exc) or request.method not in SAFE_METHODS:
                raise
            # The pause lets asyncpg read the close of the other connections the restart ended, so
            # the pool reconnects instead of handing the retry the next dead one.
            log.warning("database_retried", error=str(exc) or type(exc).__name__, method=request.method)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            return await handler(request)
    except HttpProblem as exc:
        return problems.response(
            request, status=exc.status, slug=exc.slug, detail=exc.detail, headers=exc.headers, **exc.extra
        )
    except ReliefError as exc:
        status, slug = problems.domain_status(exc)
        busy = {"Retry-After": "1"} if status == 503 else None  # nothing was written: send it again
        return problems.response(request, status=status, slug=slug, detail=exc.detail, headers=busy, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        detail = {
            404: f"no route {request.path}; see /docs for the API",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"the body is over the {request.app[SETTINGS].max_body_bytes} byte limit",
        }.get(exc.status, exc.reason)
        return problems.response(request, status=exc.status, detail=detail, headers=headers)
    except asyncpg.exceptions.TransactionRollbackError as exc:
        # A deadlock or serialization failure (class 40): nothing was written, and the same request
        # will very likely succeed if sent again.
        log.warning("transaction_rolled_back", error=str(exc))
        return problems.response(
            request,
            status=503,
            detail="the request collided with a concurrent change and was rolled back; retry it",
            headers={"Retry-After": "1"},
        )
    except asyncpg.DataError as exc:
        # A value that passed validation but PostgreSQL cannot take (class 22): the client's input,
        # so a 422 rather than a 500; validation should have caught it, hence the warning.
        log.warning("database_rejected_value", error=str(exc))
        return problems.response(
            request, status=422, slug="validation-failed", detail=f"a value cannot be stored: {exc}"
        )
    except Exception as exc:
        if db.unavailable(exc):
            log.warning("database_unavailable", error=str(exc) or type(exc).__name__)
            return problems.response(
                request,
                status=503,
                detail="the database is unreachable or was restarted; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        log.exception("unhandled_error", method=request.method, path=request.path)
        return problems.response(
            request, status=500, detail="an internal error occurred; quote the request_id when reporting it"
        )


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _TOKEN.match(token):
        return None
    return token


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the Bearer key to a principal; 401 without a live key on non-public routes."""
    operation: Operation | None = request.app[OPERATIONS].get(request.match_info.route)
    if operation is None or operation.public:
        return await handler(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="relief"'}
    token = _bearer(request)
    cookie = request.cookies.get(console.SESSION_COOKIE) if token is None else None
    if token is None and not cookie:
        raise HttpProblem("unauthorized", "send your API key as Authorization: Bearer rk_…", headers=challenge)
    async with request.app[POOL].acquire() as conn:
        if token is not None:
            found = await auth.authenticate(conn, token)
        else:
            # The console: its cookie stands for the key it was made from; changes must also prove
            # they come from our own pages (Origin and the CSRF token), or any site could make them.
            signed = await sessions.resolve(conn, cookie or "")
            if signed is not None and request.method not in console.SAFE_METHODS:
                console.check_same_site(request, signed.csrf_token)
            found = signed.principal if signed is not None else None
    if found is None:
        raise HttpProblem("unauthorized", "the API key is unknown or revoked (or the console session ended)",
                          headers=challenge)
    request[PRINCIPAL] = found
    structlog.contextvars.bind_contextvars(principal=str(found.key_id))
    if (operation.body is None and not operation.upload and operation.method in ("POST", "PATCH", "PUT")
            and request.body_exists):
        # Actions take no body; one that is sent anyway still has to be JSON, small, and empty.
        await optional_body(request, NoBody)
    return await handler(request)
