"""The dispatcher console: its static files, sign-in sessions (an API key in, an HttpOnly cookie out)
and the checks that keep other sites from acting with that cookie."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from handlers.common import PRINCIPAL, body, pool, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.console import ConsoleConfig, ConsoleSession, SessionCreate
from models.keys import Role
from relief import auth, sessions
from relief.app_keys import SETTINGS

routes = Routes("console")

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "relief_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Sent with every response (the API's too: harmless there, and no page of ours may be framed).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def check_same_site(request: web.Request, csrf_token: str) -> None:
    """A change made with the session cookie must come from our own pages: the browser's Origin is
    this host, and the request carries the CSRF token only our pages can read. 403 otherwise."""
    origin = request.headers.get("Origin")
    own = request.host
    if origin is None or origin.partition("://")[2].rstrip("/") != own:
        raise HttpProblem("forbidden", f"a change made with the console's cookie must come from {own} itself")
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token.encode()):
        raise HttpProblem("forbidden", f"a change made with the console's cookie needs the {CSRF_HEADER} header")


def _view(principal: auth.Principal, csrf_token: str, expires_at: datetime) -> ConsoleSession:
    return ConsoleSession(role=principal.role, name=principal.name, organization_id=principal.organization_id,
                          csrf_token=csrf_token, expires_at=expires_at)


@routes.post("/console/session", body=SessionCreate, response=ConsoleSession, public=True, database=True,
             errors=(401, 403, 422), roles="anyone with a bureau key (admin, dispatcher, viewer)",
             headers={"Set-Cookie": "relief_session: HttpOnly, SameSite=Strict, Secure outside development"})
async def sign_in(request: web.Request) -> web.Response:
    """Sign in to the console: the key becomes an HttpOnly session cookie."""
    data = await body(request, SessionCreate)
    settings = request.app[SETTINGS]
    async with pool(request).acquire() as conn:
        found = await auth.authenticate(conn, data.key)
        if found is None:
            raise HttpProblem("unauthorized", "the API key is unknown or revoked")
        if found.role == Role.organization:
            raise HttpProblem("forbidden", "the console is the bureau's; organizations use the API with their key")
        lifetime = timedelta(hours=settings.console_session_hours)
        opened = await sessions.open_session(conn, key_id=found.key_id, lifetime=lifetime)
    response = respond(_view(found, opened.csrf_token, opened.expires_at), headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE, opened.token, max_age=int(lifetime.total_seconds()), path="/", httponly=True,
        samesite="Strict", secure=settings.production,
    )
    return response


async def _signed(request: web.Request) -> sessions.Signed:
    token = request.cookies.get(SESSION_COOKIE)
    signed = None
    if token:
        async with pool(request).acquire() as conn:
            signed = await sessions.resolve(conn, token)
    if signed is None:
        raise HttpProblem("unauthorized", "not signed in to the console (or the session ended)")
    return signed


@routes.get("/console/session", response=ConsoleSession, public=True, database=True, errors=(401,),
            roles="the holder of a console session cookie")
async def current_session(request: web.Request) -> web.Response:
    """The console session of this browser (to carry on after a reload)."""
    signed = await _signed(request)
    return respond(_view(signed.principal, signed.csrf_token, signed.expires_at), headers={"Cache-Control": "no-store"})


@routes.delete("/console/session", response=None, status=204, public=True, database=True, errors=(401, 403),
               roles="the holder of a console session cookie, with its X-CSRF-Token")
async def sign_out(request: web.Request) -> web.Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    signed = await _signed(request)
    check_same_site(request, signed.csrf_token)
    async with pool(request).acquire() as conn:
        await sessions.close_session(conn, request.cookies[SESSION_COOKIE])
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/console/config", response=ConsoleConfig, public=True)
async def console_config(request: web.Request) -> web.Response:
    """What the console needs before sign-in: the bureau's time zone."""
    settings = request.app[SETTINGS]
    return respond(ConsoleConfig(timezone=settings.timezone, env=settings.env))


async def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


async def index(request: web.Request) -> web.StreamResponse:
    return await _page("index.html")


async def public_page(request: web.Request) -> web.StreamResponse:
    return await _page("public.html")


# Production is served over TLS (at the service or its proxy): browsers are told to keep to https.
HSTS = "max-age=31536000; includeSubDomains"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[SETTINGS].production:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    api = request.path.startswith(("/v1/", "/console/"))  # the console's own files may be cached as usual
    if request.get(PRINCIPAL) is not None or "Authorization" in request.headers or (
        api and SESSION_COOKIE in request.cookies
    ):
        # What a key or a session reads is for that caller alone: no shared cache or browser may keep it.
        response.headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    """The console's pages and files: not API operations, so not in /openapi.json."""
    app.router.add_get("/", index)
    app.router.add_get("/public/incidents/{id}", public_page)
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC, append_version=False)
    app.on_response_prepare.append(security_headers)
