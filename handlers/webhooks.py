"""/v1/webhooks and /v1/deliveries: subscriptions, their delivery log, retries and tests."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.routing import Routes
from models.common import Page
from models.webhooks import (
    Delivery,
    DeliveryQuery,
    RecoverRequest,
    Recovery,
    Webhook,
    WebhookCreate,
    WebhookQuery,
    WebhookUpdate,
    WebhookWithSecret,
)
from notifications import addresses
from relief import deliveries, masking, webhooks
from relief.app_keys import SETTINGS
from relief.sealing import Sealer

routes = Routes("webhooks")

W = TypeVar("W", bound=Webhook)

OWNERS = "an approved organization (its own); admin, dispatcher (the bureau's)"
READERS = "an organization: its own; admin, dispatcher, viewer: all"
OPERATORS = "the owner; admin, dispatcher also an organization's"
# A secret is in the body: no cache (browser, proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}


async def _destination(request: web.Request, url: str) -> str:
    """The SSRF guard at subscription time (it runs again before every delivery): 422 if refused."""
    settings = request.app[SETTINGS]
    return await addresses.check_url(
        url, allow_private=settings.webhook_allow_private, require_https=settings.production
    )


def _shown(request: web.Request, webhook: W) -> W:
    """URLs' query strings by the one masking rule (relief/masking.py): for the owner only."""
    return masking.shown_model("webhook", webhook, masking.Audience.of(principal(request)))


def _sealer(request: web.Request) -> Sealer:
    return Sealer(request.app[SETTINGS].secret_key.get_secret_value())


@routes.post("/v1/webhooks", body=WebhookCreate, response=WebhookWithSecret, status=201, roles=OWNERS,
             errors=(403, 422))
async def create_webhook(request: web.Request) -> web.Response:
    """Subscribe a URL to events; the signing secret is in this response only."""
    caller = principal(request)
    webhooks.owner_of(caller)  # 403 before any DNS lookup
    data = await body(request, WebhookCreate)
    destination = await _destination(request, data.url)
    async with pool(request).acquire() as conn:
        created = await webhooks.create(conn, actor=caller, data=data, destination=destination, sealer=_sealer(request))
    return respond(created, status=201, headers={"Location": f"/v1/webhooks/{created.id}", **NO_STORE})


@routes.get("/v1/webhooks", query=WebhookQuery, response=Page[Webhook], roles=READERS, errors=(403, 422))
async def list_webhooks(request: web.Request) -> web.Response:
    """Subscriptions, newest first."""
    caller = principal(request)
    params = query(request, WebhookQuery)
    async with pool(request).acquire() as conn:
        page = await webhooks.list_webhooks(
            conn, actor=caller, limit=params.limit, cursor=params.cursor, status=params.status,
            organization_id=params.organization_id,
        )
    return respond(page.model_copy(update={"items": [_shown(request, item) for item in page.items]}))


@routes.get("/v1/webhooks/{id}", response=Webhook, roles=READERS, errors=(404,))
async def get_webhook(request: web.Request) -> web.Response:
    """Read one subscription (never its secret)."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(_shown(request, await webhooks.get(conn, actor=caller, webhook_id=webhook_id)))


@routes.patch("/v1/webhooks/{id}", body=WebhookUpdate, response=Webhook, if_match=True, roles=OWNERS,
              errors=(403, 404, 412, 422, 428))
async def update_webhook(request: web.Request) -> web.Response:
    """Change a subscription's URL, filters or description (If-Match with its ETag)."""
    caller, webhook_id = principal(request), path_id(request)
    version = if_match(request)
    data = await body(request, WebhookUpdate)
    async with pool(request).acquire() as conn:
        # Who may change it before any DNS lookup: the URL check must not answer strangers' questions.
        webhooks.require_change(caller, await webhooks.row(conn, webhook_id))
    destination = await _destination(request, data.url) if data.url is not None else None
    async with pool(request).acquire() as conn:
        updated = await webhooks.update(
            conn, actor=caller, webhook_id=webhook_id, version=version, data=data, destination=destination
        )
    return respond(_shown(request, updated))


@routes.delete("/v1/webhooks/{id}", response=None, status=204, roles=OPERATORS, errors=(403, 404))
async def delete_webhook(request: web.Request) -> web.Response:
    """Unsubscribe (the delivery log goes too)."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        await webhooks.delete(conn, actor=caller, webhook_id=webhook_id)
    return web.Response(status=204)


@routes.post("/v1/webhooks/{id}/rotate", response=WebhookWithSecret, roles=OWNERS, errors=(403, 404))
async def rotate_webhook(request: web.Request) -> web.Response:
    """A new secret, shown once; for 24 hours deliveries carry signatures by both secrets."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        rotated = await webhooks.rotate(conn, actor=caller, webhook_id=webhook_id, sealer=_sealer(request))
    return respond(rotated, headers=NO_STORE)


@routes.post("/v1/webhooks/{id}/pause", response=Webhook, roles=OPERATORS, errors=(403, 404, 409))
async def pause_webhook(request: web.Request) -> web.Response:
    """Hold deliveries (they wait and go out on resume)."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(_shown(request, await webhooks.set_status(conn, actor=caller, webhook_id=webhook_id,
                                                                 action="pause")))


@routes.post("/v1/webhooks/{id}/resume", response=Webhook, roles=OPERATORS, errors=(403, 404, 409))
async def resume_webhook(request: web.Request) -> web.Response:
    """Send again: a paused subscription, or one disabled after failures or a 410."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(_shown(request, await webhooks.set_status(conn, actor=caller, webhook_id=webhook_id,
                                                                 action="resume")))


@routes.post("/v1/webhooks/{id}/recover", body=RecoverRequest, response=Recovery, status=202, roles=OPERATORS,
             errors=(403, 404, 409, 422),
             summary="Send again what a subscription missed in a time range (after an outage, or while disabled)")
async def recover_webhook(request: web.Request) -> web.Response:
    """Re-sends every failed delivery of the events committed in [since, until), and makes the
    deliveries of matching events that got none (those committed while the subscription was disabled),
    each with a webhook-id of its own, once. At most 10,000 per call: while `more`, call again with the
    same range (nothing queued is queued twice). `since` must lie within the delivery retention (422);
    a disabled subscription is resumed first (409)."""
    caller, webhook_id = principal(request), path_id(request)
    data = await body(request, RecoverRequest)
    async with pool(request).acquire() as conn:
        recovery = await deliveries.recover(conn, actor=caller, webhook_id=webhook_id, since=data.since,
                                            until=data.until,
                                            retention_days=request.app[SETTINGS].webhook_retention_days)
    return respond(recovery, status=202)


@routes.post("/v1/webhooks/{id}/test", response=Delivery, status=202, roles=OWNERS, errors=(403, 404))
async def test_webhook(request: web.Request) -> web.Response:
    """Send a webhook.test event to this subscription alone (even paused or disabled)."""
    caller, webhook_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        delivery = await deliveries.send_test(conn, actor=caller, webhook_id=webhook_id)
    return respond(delivery, status=202)


@routes.get("/v1/webhooks/{id}/deliveries", query=DeliveryQuery, response=Page[Delivery], roles=READERS,
            errors=(404, 422))
async def list_deliveries(request: web.Request) -> web.Response:
    """A subscription's deliveries, newest first, with every attempt and the next one."""
    caller, webhook_id = principal(request), path_id(request)
    params = query(request, DeliveryQuery)
    async with pool(request).acquire() as conn:
        page = await deliveries.list_deliveries(
            conn, actor=caller, webhook_id=webhook_id, limit=params.limit, cursor=params.cursor,
            status=params.status, event_type=params.event_type,
        )
    return respond(page)


@routes.post("/v1/deliveries/{id}/retry", response=Delivery, status=202, roles=OWNERS, errors=(403, 404))
async def retry_delivery(request: web.Request) -> web.Response:
    """Send a delivery again now (same webhook-id), whatever its state."""
    caller, delivery_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(await deliveries.retry(conn, actor=caller, delivery_id=delivery_id), status=202)
