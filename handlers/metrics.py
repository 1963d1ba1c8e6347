"""Prometheus metrics: requests by route and status, latency, the database pool, webhook backlog."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from handlers.problems import HttpProblem
from handlers.routing import Routes
from relief import db, deliveries
from relief.app_keys import POOL, SETTINGS

routes = Routes("system")


class _PoolCollector(Collector):
    """Reads the pool at scrape time instead of tracking it on every acquire."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool: asyncpg.Pool | None = self.app.get(POOL)
        size = GaugeMetricFamily("relief_db_pool_connections", "Open connections in the pool")
        idle = GaugeMetricFamily("relief_db_pool_idle_connections", "Idle connections in the pool")
        limit = GaugeMetricFamily("relief_db_pool_max_connections", "Most connections the pool opens")
        if pool is not None:
            size.add_metric([], pool.get_size())
            idle.add_metric([], pool.get_idle_size())
            limit.add_metric([], pool.get_max_size())
        yield from (size, idle, limit)


class Metrics:
    """One registry per application, so tests and several apps in a process do not mix counts."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "relief_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "relief_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(app))
        # Refusals by which limit refused: "key" (requests per API key) or "auth_failures" (per address).
        self.rate_limited = Counter("relief_rate_limited", "Requests refused with 429 by a rate limit",
                                    ["limit"], registry=self.registry)
        for limit in ("key", "auth_failures"):
            self.rate_limited.labels(limit)  # shown as 0 from the start, so a dashboard's rate() has a base
        # Webhook delivery, read at scrape time: a stalled or missing worker shows as a growing lag.
        self.outbox = Gauge("relief_webhook_outbox_events", "Committed events not yet fanned out",
                            registry=self.registry)
        self.pending = Gauge("relief_webhook_pending_deliveries", "Deliveries waiting to be sent or retried",
                             registry=self.registry)
        self.lag = Gauge("relief_webhook_delivery_lag_seconds",
                         "How long the oldest due delivery of an active subscription has waited",
                         registry=self.registry)
        self.breakers_open = Gauge("relief_webhook_destinations_open",
                                   "Destinations (host:port) whose circuit breaker is open: probed, not sent to",
                                   registry=self.registry)
        self.destinations_held = Gauge("relief_webhook_destinations_held",
                                       "Destinations getting no attempts now (breaker open, or a Retry-After)",
                                       registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


METRICS = web.AppKey("metrics", Metrics)


def _require_scraper(request: web.Request) -> None:
    """With RELIEF_METRICS_TOKEN set, only a scraper sending it reads /metrics; without one, it is open in
    development and not served in production (route names, volumes and backlogs are not for everyone)."""
    settings = request.app[SETTINGS]
    if settings.metrics_token is None:
        if settings.production:
            raise HttpProblem("not-found", "/metrics is served only with RELIEF_METRICS_TOKEN set")
        return
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise HttpProblem("unauthorized", "send the metrics token as Authorization: Bearer …",
                          headers={"WWW-Authenticate": 'Bearer realm="relief-metrics"'})


@routes.get("/metrics", public=True, response=None, content_type="text/plain", errors=(401, 404),
            roles="a scraper with RELIEF_METRICS_TOKEN (Bearer), when set; in development, anyone when unset",
            summary="Prometheus metrics: requests by route and status, latency, pool usage")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics."""
    _require_scraper(request)
    recorded = request.app[METRICS]
    try:
        async with request.app[POOL].acquire(timeout=2) as conn:
            backlog = await deliveries.backlog(conn)
        recorded.outbox.set(backlog["outbox"])
        recorded.pending.set(backlog["pending"])
        recorded.lag.set(float(backlog["lag"]))
        recorded.breakers_open.set(backlog["destinations_open"])
        recorded.destinations_held.set(backlog["destinations_held"])
    except (*db.UNAVAILABLE_ERRORS, TimeoutError):  # the rest still answers; /readyz tells about the database
        pass
    return web.Response(
        body=generate_latest(request.app[METRICS].registry),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
