"""The application factory: the composition root that wires handlers, middleware and resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from handlers import events as events_handlers
from handlers import incidents as incidents_handlers
from handlers import keys as keys_handlers
from handlers import metrics as metrics_handlers
from handlers import openapi
from handlers import organizations as organizations_handlers
from handlers import system as system_handlers
from handlers.metrics import METRICS, Metrics
from handlers.middleware import OPERATIONS, authenticate, observe, problem_details
from handlers.routing import Operation
from handlers.system import OPENAPI
from relief import db
from relief.app_keys import POOL, SETTINGS
from relief.settings import Settings

log = structlog.get_logger("relief.app")

POOL_CLOSE_TIMEOUT_SECONDS = 10


def operations() -> list[Operation]:
    """Every operation the API serves, in the order the docs show them."""
    return [
        *system_handlers.routes.operations,
        *metrics_handlers.routes.operations,
        *keys_handlers.routes.operations,
        *organizations_handlers.routes.operations,
        *incidents_handlers.routes.operations,
        *events_handlers.routes.operations,
    ]


def _database(settings: Settings, url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await db.create_pool(
            url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_connect_timeout,
        )
        log.info("database_pool_ready", url=db.mask_url(url), max_size=settings.db_pool_max)
        yield
        try:
            await asyncio.wait_for(app[POOL].close(), POOL_CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("database_pool_close_timeout")
            app[POOL].terminate()

    return database


def create_app(settings: Settings, *, database_url: str) -> web.Application:
    """A Relief application serving the API against the database at `database_url`."""
    app = web.Application(
        middlewares=[observe, problem_details, authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics(app)
    table = operations()
    app[OPERATIONS] = {app.router.add_route(op.method, op.path, op.handler): op for op in table}
    app[OPENAPI] = openapi.build(table)
    app.cleanup_ctx.append(_database(settings, database_url))
    return app
