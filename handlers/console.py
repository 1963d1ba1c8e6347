"""The dispatcher console: its static files, sign-in sessions (an API key in, an HttpOnly cookie out)
and the checks that keep other sites from acting with that cookie."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from handlers import proxy
from handlers.common import PRINCIPAL, body, pool, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.console import ConsoleConfig, ConsoleSession, MapTiles, SessionCreate
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
    where people reach us (RELIEF_PUBLIC_URL's origin, else what a trusted proxy forwarded, else this
    request's scheme and Host), and the request carries the CSRF token only our pages can read. 403 otherwise."""
    origin = request.headers.get("Origin")
    own = proxy.origin(request)
    if origin is None or not proxy.same_origin(origin, own):
        raise HttpProblem("forbidden", f"a change made with the console's cookie must come from {own} itself")
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token.encode()):
        raise HttpProblem("forbidden", f"a change made with the console's cookie needs the {CSRF_HEADER} header")


def _view(principal: auth.Principal, csrf_token: str, expires_at: datetime) -> ConsoleSession:
    return ConsoleSession(role=principal.role, name=principal.name, organization_id=principal.organization_id,
                          csrf_token=csrf_token, expires_at=expires_at)


@routes.post("/console/session", body=SessionCreate, response=ConsoleSession, public=True, database=True,
             errors=(401, 403, 422), roles="anyone with a bureau key (admin, dispatcher, viewer)",
             headers={"Set-Cookie": "relief_session: HttpOnly, SameSite=Strict; Secure when the console is "
                                    "reached over https (RELIEF_PUBLIC_URL's scheme, else the request's, through "
                                    "trusted proxies)"})
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
        samesite="Strict", secure=secure(request),
    )
    return response


async def _session_of(request: web.Request) -> sessions.Signed | None:
    """The live session this browser's cookie names, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with pool(request).acquire() as conn:
        return await sessions.resolve(conn, token)


async def _signed(request: web.Request) -> sessions.Signed:
    signed = await _session_of(request)
    if signed is None:
        raise HttpProblem("unauthorized", "not signed in to the console (or the session ended)")
    return signed


@routes.get("/console/session", response=ConsoleSession, public=True, database=True,
            roles="anyone: the holder of a console session cookie reads it; without one, signed_in is false")
async def current_session(request: web.Request) -> web.Response:
    """The console session of this browser (to carry on after a reload), or {"signed_in": false}."""
    signed = await _session_of(request)
    if signed is None:
        # Not an error: the sign-in page asks this on every load, and a 401 would show as a failed
        # resource in the browser's console each time.
        return respond(ConsoleSession(signed_in=False), headers={"Cache-Control": "no-store"})
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
    """What the console needs before sign-in: the bureau's time zone, and the map's tile server if one is set."""
    settings = request.app[SETTINGS]
    tiles = None
    if settings.map_tiles:
        tiles = MapTiles(url=settings.map_tiles, attribution=settings.map_tiles_attribution,
                         subdomains=settings.map_tiles_subdomains)
    return respond(ConsoleConfig(timezone=settings.timezone, env=settings.env, map_tiles=tiles))


async def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


async def index(request: web.Request) -> web.StreamResponse:
    return await _page("index.html")


async def public_page(request: web.Request) -> web.StreamResponse:
    return await _page("public.html")


# Sent when the service is reached over https (the public URL's scheme, else the request's through trusted
# proxies): browsers are told to keep to it. Never over plain http, where browsers ignore it (RFC 6797 §8.1)
# and an intranet served that way must keep working.
HSTS = "max-age=31536000; includeSubDomains"


def secure(request: web.Request) -> bool:
    """Whether the client reached us over https: the cookie is then Secure and answers carry HSTS."""
    return proxy.scheme(request) == "https"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    tiles = request.app[SETTINGS].map_tiles_source  # the map's tile server, only when one is set
    for name, value in SECURITY_HEADERS.items():
        if tiles and name == "Content-Security-Policy":
            value = value.replace("img-src 'self' data:", f"img-src 'self' data: {tiles}")
        response.headers.setdefault(name, value)
    if secure(request):
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
    app.router.add_get("/public", public_page)  # the list of open incidents (public.js reads the path)
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC, append_version=False)
    app.on_response_prepare.append(security_headers)
