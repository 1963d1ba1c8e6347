"""The application factory: the composition root that wires handlers, middleware and resources."""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from handlers import alerts as alerts_handlers
from handlers import calls as calls_handlers
from handlers import chain as chain_handlers
from handlers import console as console_handlers
from handlers import deployments as deployments_handlers
from handlers import disbursements as disbursements_handlers
from handlers import donations as donations_handlers
from handlers import events as events_handlers
from handlers import exports as exports_handlers
from handlers import impacts as impacts_handlers
from handlers import imports as imports_handlers
from handlers import incidents as incidents_handlers
from handlers import keys as keys_handlers
from handlers import metrics as metrics_handlers
from handlers import notifications as notifications_handlers
from handlers import offers as offers_handlers
from handlers import openapi, proxy, public_cache
from handlers import organizations as organizations_handlers
from handlers import pledges as pledges_handlers
from handlers import public_alerts as public_alerts_handlers
from handlers import ratelimits as ratelimits_handlers
from handlers import regions as regions_handlers
from handlers import residents as residents_handlers
from handlers import rosters as rosters_handlers
from handlers import shelters as shelters_handlers
from handlers import sites as sites_handlers
from handlers import sitreps as sitreps_handlers
from handlers import stock as stock_handlers
from handlers import stream as stream_handlers
from handlers import summary as summary_handlers
from handlers import system as system_handlers
from handlers import tasks as tasks_handlers
from handlers import webhooks as webhooks_handlers
from handlers.bodies import body_deadline
from handlers.metrics import METRICS, Metrics
from handlers.middleware import OPERATIONS, authenticate, observe, problem_details
from handlers.routing import Operation
from handlers.system import OPENAPI
from relief import (
    chain,
    db,
    deliveries,
    escalations,
    idempotency,
    import_runner,
    overdue,
    pledge_batches,
    sessions,
    waits,
)
from relief.app_keys import IN_FLIGHT, LEDGER_SIGNER, PLEDGE_BATCHES, POOL, SETTINGS, STOPPING
from relief.inflight import InFlight
from relief.settings import Settings

log = structlog.get_logger("relief.app")

POOL_CLOSE_TIMEOUT_SECONDS = 10


class CannotListen(Exception):
    """The port is taken or not ours to bind: a configuration problem, not a database one."""


def operations() -> list[Operation]:
    """Every operation the API serves, in the order the docs show them."""
    return [
        *system_handlers.routes.operations,
        *metrics_handlers.routes.operations,
        *keys_handlers.routes.operations,
        *organizations_handlers.routes.operations,
        *incidents_handlers.routes.operations,
        *regions_handlers.routes.operations,
        *calls_handlers.routes.operations,
        *pledges_handlers.routes.operations,
        *rosters_handlers.routes.operations,
        *offers_handlers.routes.operations,
        *donations_handlers.routes.operations,
        *sites_handlers.routes.operations,
        *stock_handlers.routes.operations,
        *disbursements_handlers.routes.operations,
        *tasks_handlers.routes.operations,
        *deployments_handlers.routes.operations,
        *chain_handlers.routes.operations,
        *events_handlers.routes.operations,
        *stream_handlers.routes.operations,
        *shelters_handlers.routes.operations,
        *residents_handlers.routes.operations,
        *impacts_handlers.routes.operations,
        *sitreps_handlers.routes.operations,
        *imports_handlers.routes.operations,
        *summary_handlers.routes.operations,
        *exports_handlers.routes.operations,
        *webhooks_handlers.routes.operations,
        *alerts_handlers.routes.operations,
        *public_alerts_handlers.routes.operations,
        *notifications_handlers.routes.operations,
        *console_handlers.routes.operations,
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
        if settings.pledge_coalesce:
            app[PLEDGE_BATCHES] = pledge_batches.Coalescer(app[POOL])
        yield
        if PLEDGE_BATCHES in app:  # the batches in flight answer their requests before the pool goes
            with suppress(TimeoutError):
                await waits.within(app[PLEDGE_BATCHES].close(), POOL_CLOSE_TIMEOUT_SECONDS)
        try:
            await waits.within(app[POOL].close(), POOL_CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("database_pool_close_timeout")
            app[POOL].terminate()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # A connection the server had already dropped (a restart, a terminated backend) fails its
            # goodbye: nothing is left to close gracefully, so the rest go at once.
            log.warning("database_pool_close_failed", error=f"{type(exc).__name__}: {exc}")
            app[POOL].terminate()

    return database


def _maintenance(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Background upkeep (purging expired idempotency keys, old deliveries, ended console sessions),
    stopped cleanly on shutdown."""

    async def loop(app: web.Application) -> None:
        while True:
            try:
                async with app[POOL].acquire() as conn:
                    purged = await idempotency.purge(conn, older_than_hours=settings.idempotency_retention_hours)
                    deliveries_purged = await deliveries.purge(conn, older_than_days=settings.webhook_retention_days)
                    sessions_purged = await sessions.purge(conn)
                if purged or deliveries_purged or sessions_purged:
                    log.info("purged", idempotency_keys=purged, deliveries=deliveries_purged,
                             console_sessions=sessions_purged)
            except Exception as exc:  # keep the loop alive: the next round may well succeed
                if db.unavailable(exc):  # an outage reads as a warning; only a bug is an error
                    log.warning("maintenance_skipped", error=str(exc) or type(exc).__name__)
                else:
                    log.exception("maintenance_failed")
            await asyncio.sleep(settings.maintenance_interval)

    async def maintenance(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(app), name="relief-maintenance")
        yield
        await waits.stop(task)

    return maintenance


def _background(name: str, make: Callable[[web.Application], Any]) -> Callable[[web.Application],
                                                                              AsyncIterator[None]]:
    """A loop (`make(app).run()`) for the app's lifetime, cancelled on shutdown."""

    async def background(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(make(app).run(), name=name)
        yield
        await waits.stop(task)

    return background


def _overdue(settings: Settings, url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """The overdue watch (relief/overdue.py): every replica runs one, each alarm is raised once, within
    seconds of its deadline whatever RELIEF_MAINTENANCE_INTERVAL says."""
    return _background("relief-overdue", lambda app: overdue.OverdueWatch(
        app[POOL], url, grace=settings.deployment_overdue_grace,
        delays=escalations.Delays(alert_seconds=settings.alert_escalate_minutes * 60,
                                  pledge_notice_seconds=settings.pledge_notice_minutes * 60)))


def _imports(settings: Settings, url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """The import runner (relief/import_runner.py): every replica runs one, and an import queued in any
    of them is taken up by the first that is free; one whose runner died is taken over after its lease."""
    return _background("relief-imports", lambda app: import_runner.ImportWatch(
        app[POOL], url, secret=settings.secret_key.get_secret_value().encode(), zone=settings.timezone,
        lease=settings.import_lease_seconds))


def _worker(settings: Settings, url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """The in-process delivery worker (RELIEF_WORKER_IN_PROCESS, on by default), so the one-command
    setup delivers webhooks; it is one worker among any others on the database."""

    async def worker(app: web.Application) -> AsyncIterator[None]:
        from notifications.worker import Worker

        delivery = Worker(settings, url)
        stop = asyncio.Event()
        await delivery.start()
        task = asyncio.create_task(delivery.run(stop), name="relief-worker")
        yield
        stop.set()  # the attempts in flight end on their own, within the shutdown's time
        await waits.stop(task, grace=settings.shutdown_timeout)
        await delivery.close()

    return worker


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built once per process: it follows from operations() alone, and building it
    takes 0.4 s (every model's JSON schema), which each app made in the tests used to pay again."""
    return openapi.build(operations())


def create_app(settings: Settings, *, database_url: str) -> web.Application:
    """A Relief application serving the API against the database at `database_url`."""
    app = web.Application(
        # Failed authentication is limited per address before the key is looked up; requests per key after.
        middlewares=[observe, problem_details, body_deadline, ratelimits_handlers.limit_failed_auth, authenticate,
                     ratelimits_handlers.limit_keys],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[LEDGER_SIGNER] = chain.Signer.from_setting(
        settings.ledger_key.get_secret_value() if settings.ledger_key else None, settings.secret_key.get_secret_value()
    )
    app[METRICS] = Metrics(app)
    app[IN_FLIGHT] = InFlight()
    proxy.setup(app, settings)  # which X-Forwarded-* headers to believe, and the public URL
    ratelimits_handlers.setup(app, settings)
    app[STOPPING] = asyncio.Event()
    exports_handlers.setup(app)
    sitreps_handlers.setup(app)
    console_handlers.setup(app)
    stream_handlers.setup(app, database_url)
    public_cache.setup(app, app[stream_handlers.HUB], max_age=settings.public_max_age)
    table = operations()
    routes: dict[web.AbstractRoute, Operation] = {}
    for op in table:
        if op.method == "GET":
            # GET routes answer HEAD too (load balancers probe /healthz with it), with the same auth.
            get = app.router.add_get(op.path, op.handler)
            for route in get.resource or ():
                if route.method in ("GET", "HEAD"):  # not a POST registered earlier on the same path
                    routes[route] = op
        else:
            routes[app.router.add_route(op.method, op.path, op.handler)] = op
    app[OPERATIONS] = routes
    app[OPENAPI] = openapi_document()
    app.cleanup_ctx.append(_database(settings, database_url))
    app.cleanup_ctx.append(_maintenance(settings))
    app.cleanup_ctx.append(_overdue(settings, database_url))
    if settings.imports_in_process:
        app.cleanup_ctx.append(_imports(settings, database_url))
    if settings.worker_in_process:
        app.cleanup_ctx.append(_worker(settings, database_url))
    return app


def _listening(runner: web.AppRunner, settings: Settings) -> str:
    """http://host:port as a browser on this machine reaches it (the port bound, for RELIEF_PORT=0)."""
    host, port = settings.host, settings.port
    if runner.addresses and isinstance(runner.addresses[0], tuple):
        port = runner.addresses[0][1]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(app: web.Application, settings: Settings, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully; `ready` gets the address listened on, once it is.

    aiohttp's own run_app stops reading sockets as soon as shutdown starts, so a request whose body
    is still arriving is dropped (aio-libs/aiohttp#2298). Here the listener closes first, then the
    requests already in progress get up to RELIEF_SHUTDOWN_TIMEOUT to finish, then resources close.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=settings.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise CannotListen(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    listening = _listening(runner, settings)
    log.info("serving", url=listening, console=f"{(settings.public_url or listening).rstrip('/')}/")
    if ready is not None:
        ready(listening)
    try:
        await stop.wait()
        log.info("stopping", in_flight=app[IN_FLIGHT].count)
        await site.stop()  # no new connections
        app[stream_handlers.HUB].closing.set()  # live streams end now; other requests finish
        app[STOPPING].set()  # bodies that stopped arriving are cut, not waited for
        try:
            await waits.within(app[IN_FLIGHT].wait_idle(), settings.shutdown_timeout)
        except TimeoutError:
            log.warning("shutdown_timeout", in_flight=app[IN_FLIGHT].count)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
