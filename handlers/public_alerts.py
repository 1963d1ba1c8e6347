"""/v1/public/alerts.atom and /v1/public/alerts/{id}.cap: the bureau's alerts for the public, no key needed.

The CAP documents are the ones the teams read (scope Public, no acknowledgements: those are the teams'
answers to the bureau, never in a public document).
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from aiohttp import web

from handlers import proxy, public_cache
from handlers.common import path_id, pool
from handlers.routing import Routes
from notifications import alert_feed, cap
from relief import alerts
from relief.app_keys import SETTINGS

routes = Routes("alerts")

# Both are served from handlers/public_cache.py, as fresh as a second after a commit (a cancel reaches
# readers and aggregators within that, even through caches that keep to Cache-Control). Either may change
# with a commit in any incident (the feed lists them all; a document's Link names its replacement).


def _answer(data: bytes, content_type: str, headers: dict[str, str]) -> public_cache.Answer:
    """An ETag over what is served (body and headers)."""
    digest = hashlib.sha256(data)
    for name, value in sorted(headers.items()):
        digest.update(f"\n{name}: {value}".encode())
    return public_cache.Answer(data, '"' + digest.hexdigest()[:32] + '"', content_type, "utf-8", headers)


def _absolute(request: web.Request, path: str) -> str:
    # Under RELIEF_PUBLIC_URL when set; else where this request reached us (a trusted proxy's
    # X-Forwarded-Proto and -Host, or the request's own scheme and Host).
    return proxy.absolute(request, path)


@routes.get("/v1/public/alerts.atom", public=True, database=True, cached=True, response=None,
            content_type=alert_feed.MEDIA_TYPE,
            summary="The bureau's alerts in force as an Atom 1.0 feed, each entry linking its CAP document")
async def alerts_feed(request: web.Request) -> web.Response:
    """Actual alerts neither updated nor cancelled, in open incidents, newest first (Atom, RFC 4287)."""
    settings = request.app[SETTINGS]

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):  # one moment for both reads
                current = await alerts.current_public(conn)
                changed_at = await alerts.public_changed_at(conn)
        data = alert_feed.render(current, sender=settings.cap_sender, changed_at=changed_at,
                                 zone=ZoneInfo(settings.timezone), link=lambda path: _absolute(request, path))
        return _answer(data, alert_feed.MEDIA_TYPE, {})

    # The links are absolute, made from where the request reached us: one copy per such address.
    return await public_cache.cache(request).answer(request, public_cache.ANY, make, vary=_absolute(request, "/"))


@routes.get("/v1/public/alerts/{id}.cap", public=True, database=True, cached=True, response=None,
            content_type=cap.MEDIA_TYPE, errors=(404,),
            headers={"Link": 'Once the alert is updated or cancelled: rel="latest-version", the message that '
                             'now stands for it (its Cancel, else its newest Update)'},
            summary="An alert as a CAP 1.2 message (scope Public), as the feed links it")
async def public_alert_cap(request: web.Request) -> web.Response:
    """An alert's CAP 1.2 document, also once updated, cancelled or its incident closed: a message once
    in the feed stays readable, and its Link header names what replaced it."""
    alert_id = path_id(request)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            alert = await alerts.require(conn, alert_id)
            referenced = await alerts.get(conn, alert_id=alert.references) if alert.references else None
            latest = await alerts.latest_version(conn, alert_id=alert_id)
        data = cap.render(alert, zone=ZoneInfo(request.app[SETTINGS].timezone), referenced=referenced)
        headers = {}
        if latest is not None:
            headers["Link"] = f'<{_absolute(request, f"/v1/public/alerts/{latest}.cap")}>; rel="latest-version"'
        return _answer(data, cap.MEDIA_TYPE, headers)

    return await public_cache.cache(request).answer(request, public_cache.ANY, make, vary=_absolute(request, "/"))
