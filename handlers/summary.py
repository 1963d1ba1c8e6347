"""/v1/incidents/{id}/summary and the public transparency figures (served from handlers/public_cache.py)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from handlers import public_cache
from handlers.common import path_id, pool, principal, respond
from handlers.routing import Routes
from models.public import PublicIncident, PublicIncidentItem, PublicIncidents
from models.summary import Summary
from models.use import PublicUse
from relief import summary, use

routes = Routes("summary")


@routes.get("/v1/incidents/{id}/summary", response=Summary, roles="any key", errors=(404,))
async def incident_summary(request: web.Request) -> web.Response:
    """The incident's figures: money, goods, personnel, residents, shelters, calls (served from counters)."""
    principal(request)
    async with pool(request).acquire() as conn:
        figures = await summary.summary(conn, incident_id=path_id(request))
    return respond(figures)


@routes.get("/v1/public/incidents", public=True, database=True, cached=True, response=PublicIncidents,
            summary="The open incidents, for the public list at /public (no personal data)")
async def public_incidents(request: web.Request) -> web.Response:
    """Every open incident, newest first: code, title, type, severity, regions and start; the figures of each
    are at /v1/public/incidents/{id}."""
    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            rows = await summary.open_incidents(conn)
        return _public(PublicIncidents(items=[PublicIncidentItem(**dict(r)) for r in rows]))

    return await public_cache.cache(request).answer(request, public_cache.ANY, make)


@routes.get("/v1/public/incidents/{id}", public=True, database=True, cached=True, response=PublicIncident,
            errors=(404,),
            summary="Public transparency figures: aggregates and organization names, no personal data")
async def public_incident(request: web.Request) -> web.Response:
    """Public transparency figures."""
    incident_id = path_id(request)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            figures = await summary.summary(conn, incident_id=incident_id)
            names = await summary.participant_names(conn, incident_id=incident_id)
        return _public(PublicIncident.from_summary(figures, names))

    return await public_cache.cache(request).answer(request, str(incident_id), make)


@routes.get("/v1/public/incidents/{id}/use", public=True, database=True, cached=True, response=PublicUse, errors=(404,),
            summary="How donations were used (捐赠款物使用情况公示): money paid out and balance, goods distributed")
async def public_use(request: web.Request) -> web.Response:
    """How donations were used: money received, paid out per purpose and balance, per currency and
    earmark; goods received, distributed, written off and on hand; people reached; organizations by
    name. No individual donor, resident or recipient person is named."""
    incident_id = path_id(request)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            report = await use.report(conn, incident_id=incident_id)
        return _public(report)

    return await public_cache.cache(request).answer(request, str(incident_id), make)


def _public(model: PublicIncident | PublicIncidents | PublicUse) -> public_cache.Answer:
    body = model.model_dump_json().encode()
    # The figures, not the moment they were read, make the tag: unchanged figures revalidate with 304.
    etag = '"' + hashlib.sha256(model.model_dump_json(exclude={"as_of"}).encode()).hexdigest()[:32] + '"'
    return public_cache.Answer(body, etag)
