"""Health, readiness, the OpenAPI document and its human-readable page."""

from __future__ import annotations

import asyncio

from aiohttp import web

from handlers import problems
from handlers.docs import render as render_docs
from handlers.middleware import RETRY_AFTER_SECONDS
from handlers.routing import Routes
from models.common import Health
from relief import db
from relief.app_keys import POOL

routes = Routes("system")

OPENAPI = web.AppKey("openapi", dict)
READINESS_TIMEOUT_SECONDS = 2.0


@routes.get("/healthz", public=True, response=Health)
async def healthz(request: web.Request) -> web.Response:
    """The process is up (it does not look at the database)."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz", public=True, database=True, response=Health, errors=(503,))
async def readyz(request: web.Request) -> web.Response:
    """The database answers: 200, or 503 with Retry-After while it does not."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with request.app[POOL].acquire() as conn:
                await conn.fetchval("select 1")
    except (TimeoutError, *db.UNAVAILABLE_ERRORS) as exc:
        return problems.response(
            request,
            status=503,
            detail=f"the database is unreachable ({str(exc) or type(exc).__name__})",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return web.json_response({"status": "ready", "database": "ok"})


@routes.get("/openapi.json", public=True, response=None, summary="This document (OpenAPI 3.1)")
async def openapi(request: web.Request) -> web.Response:
    """This document."""
    return web.json_response(request.app[OPENAPI])


@routes.get("/docs", public=True, response=None, content_type="text/html",
            summary="The API reference as a page, served locally")
async def docs(request: web.Request) -> web.Response:
    """The API reference."""
    return web.Response(text=render_docs(request.app[OPENAPI]), content_type="text/html")
