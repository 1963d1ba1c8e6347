"""/v1/incidents/{id}/sitreps and /v1/sitreps/{id}[.html|.csv]: numbered situation reports (灾情报告).

Every rendering is made from the report's frozen JSON alone (relief/sitrep_pages.py), so fetching a
report again after later changes gives the same bytes in each format and language.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Literal

from aiohttp import web
from pydantic import Field

from handlers import public_cache
from handlers.common import body, created, idempotent, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Input
from models.keys import Role
from models.sitreps import (
    PublicSitrep,
    PublicSitrepList,
    PublicSitrepRef,
    Sitrep,
    SitrepCreate,
    SitrepKind,
    SitrepList,
    public_version,
)
from relief import incidents, sitrep_pages, sitreps
from relief.app_keys import SETTINGS

routes = Routes("sitreps")

STAFF = "admin, dispatcher, viewer"
# One report (or preview) at a time per process: each holds two connections (its own and the write
# fence's), and reports taking one each while waiting for the other could empty the pool.
ONE_AT_A_TIME = web.AppKey("sitreps_one_at_a_time", asyncio.Lock)


def setup(app: web.Application) -> None:
    app[ONE_AT_A_TIME] = asyncio.Lock()
# An issued report never changes: a cache may keep it as long as it likes (the ETag is its bytes').
FROZEN = "max-age=31536000, immutable"


class PreviewQuery(Input):
    kind: SitrepKind | None = Field(default=None, description="Default: initial for the first report, else update")


class PageQuery(Input):
    lang: Literal["zh", "en"] = Field(default="zh", description="The page's language")


def _tag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _frozen(request: web.Request, data: bytes, content_type: str, *, filename: str | None = None) -> web.Response:
    """The bureau's own copy of a report: the same bytes for good, kept by the reader's browser only."""
    tag = _tag(data)
    headers = {"ETag": tag, "Cache-Control": "private, " + FROZEN}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if _matches(request, tag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, headers=headers, content_type=content_type.partition(";")[0],
                        charset="utf-8" if content_type.startswith("text/") else None)


def _public(data: bytes, content_type: str) -> public_cache.Answer:
    """A public version, made from the frozen report, served from handlers/public_cache.py."""
    return public_cache.Answer(data, _tag(data), content_type, "utf-8" if content_type.startswith("text/") else None)


def _matches(request: web.Request, tag: str) -> bool:
    sent = request.headers.get("If-None-Match", "")
    return sent.strip() == "*" or tag in (t.strip() for t in sent.split(","))


async def _document(request: web.Request) -> str:
    """The path's report as frozen (its JSON), or 404."""
    sitrep_id = path_id(request)
    async with pool(request).acquire() as conn:
        found = await sitreps.document(conn, sitrep_id=sitrep_id)
    if found is None:
        raise HttpProblem("not-found", f"situation report {sitrep_id} does not exist")
    return found[1]


async def _stored(request: web.Request) -> Sitrep:
    return Sitrep.model_validate_json(await _document(request))


@routes.post("/v1/incidents/{id}/sitreps", body=SitrepCreate, response=Sitrep, status=201,
             idempotency_optional=True, roles="admin, dispatcher", errors=(403, 404, 409, 422, 503),
             summary="Issue the next situation report (初报 / 续报 / 核报): its figures frozen from one snapshot")
async def issue_sitrep(request: web.Request) -> web.Response:
    """Freeze and number the next report. The first is the only `initial` (409 otherwise). Its figures
    are the counters of one snapshot, and `position` names the event-stream position that snapshot
    saw. 503 (retry) if no exact snapshot could be taken within 10 s on a very busy incident."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, SitrepCreate)
    settings = request.app[SETTINGS]

    foreign: list[int] = []

    async def work(conn, store):  # type: ignore[no-untyped-def]
        sitrep, _document = await sitreps.issue(conn, actor=caller, incident_id=incident_id, data=data,
                                                time_zone=settings.timezone, bureau=settings.cap_sender,
                                                foreign=foreign)
        return created(sitrep, f"/v1/sitreps/{sitrep.id}")

    fence_tries = 2  # writers wait for a report at most twice (each wait ≤ 1 s), however long it retries

    async def attempt() -> web.Response:
        nonlocal fence_tries, foreign
        wait = sitreps.FENCE_WAIT_SECONDS if fence_tries > 0 else 0
        fence_tries -= 1
        # Its connection first: once the fence is held, waiting writers may hold every other one.
        async with request.app[ONE_AT_A_TIME], pool(request).acquire() as conn, \
                sitreps.write_fence(pool(request), wait_seconds=wait):
            foreign = await sitreps.foreign_transactions(conn)  # before the report's snapshot
            return await idempotent(request, data, work, required=False, isolation="repeatable_read",
                                    fenced=False, conn=conn)  # it holds the fence, so it does not pass it

    return await sitreps.retrying(attempt)


@routes.get("/v1/incidents/{id}/sitreps", response=SitrepList, roles=STAFF, errors=(403, 404))
async def list_sitreps(request: web.Request) -> web.Response:
    """The incident's reports, newest first."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        items = await sitreps.list_sitreps(conn, incident_id=incident_id)
    return respond(SitrepList(items=items))


@routes.get("/v1/incidents/{id}/sitreps/preview", query=PreviewQuery, response=Sitrep, roles=STAFF,
            errors=(403, 404, 422, 503))
async def preview_sitrep(request: web.Request) -> web.Response:
    """What issuing now would freeze (the next number, the figures, the changes); issues nothing. Its id
    is the nil UUID. A viewer's preview waits for an exact moment by itself (503 after 10 s on a very
    busy incident); only a dispatcher's, who could issue the report anyway, holds writes back for one."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    params = query(request, PreviewQuery)
    settings = request.app[SETTINGS]
    fence = caller.at_least(Role.dispatcher)

    async def attempt() -> Sitrep:
        async with request.app[ONE_AT_A_TIME], pool(request).acquire() as conn, \
                sitreps.write_fence(pool(request), wait_seconds=sitreps.FENCE_WAIT_SECONDS if fence else 0):
            return await sitreps.preview(conn, actor=caller, incident_id=incident_id, kind=params.kind,
                                         narrative="", time_zone=settings.timezone, bureau=settings.cap_sender)

    return respond(await sitreps.retrying(attempt))


# The suffixed routes come before /v1/sitreps/{id}, whose {id} would otherwise take "….html" too.
@routes.get("/v1/sitreps/{id}.html", query=PageQuery, response=None, content_type="text/html", roles=STAFF, cached=True,
            errors=(403, 404, 422), summary="A report as a printable A4 page (zh or en), from its frozen copy")
async def sitrep_page(request: web.Request) -> web.Response:
    """The report as a printable page, times in the bureau's zone frozen with it."""
    principal(request).require(Role.viewer)
    params = query(request, PageQuery)
    sitrep = await _stored(request)
    return _frozen(request, sitrep_pages.html(sitrep, params.lang).encode(), "text/html")


@routes.get("/v1/sitreps/{id}.csv", response=None, content_type="text/csv", roles=STAFF, errors=(403, 404), cached=True,
            summary="A report's figures as HXL-tagged CSV, from its frozen copy")
async def sitrep_csv(request: web.Request) -> web.Response:
    """Every figure of the report, one per row, with HXL hashtags."""
    principal(request).require(Role.viewer)
    sitrep = await _stored(request)
    name = f"{sitrep.figures.incident.code}-sitrep-{sitrep.number}.csv"
    return _frozen(request, sitrep_pages.csv(sitrep).encode(), "text/csv", filename=name)


@routes.get("/v1/sitreps/{id}", response=Sitrep, roles=STAFF, errors=(403, 404), cached=True,
            summary="A situation report, exactly as frozen when it was issued")
async def get_sitrep(request: web.Request) -> web.Response:
    """The report's JSON as stored at issue: the same bytes every time."""
    principal(request).require(Role.viewer)
    return _frozen(request, (await _document(request)).encode(), "application/json")


async def _public_document(request: web.Request) -> dict:  # type: ignore[type-arg]
    return public_version(json.loads(await _document(request)))


@routes.get("/v1/public/sitreps/{id}.html", public=True, database=True, cached=True, query=PageQuery,
            response=None, content_type="text/html", errors=(404, 422),
            summary="A report's public version as a printable page: aggregates only")
async def public_sitrep_page(request: web.Request) -> web.Response:
    """The public version as a page: no narrative, no issuer, no contacts."""
    params = query(request, PageQuery)

    async def make() -> public_cache.Answer:
        report = PublicSitrep.model_validate(await _public_document(request))
        return _public(sitrep_pages.public_html(report, params.lang).encode(), "text/html")

    # An issued report never changes, nor then its public version: no commit invalidates it.
    return await public_cache.cache(request).answer(request, public_cache.FROZEN, make)


@routes.get("/v1/public/sitreps/{id}", public=True, database=True, cached=True, response=PublicSitrep,
            errors=(404,), summary="A report's public version: aggregates only, no narrative, issuer or contacts")
async def public_sitrep(request: web.Request) -> web.Response:
    """The public version of a report."""

    async def make() -> public_cache.Answer:
        report = PublicSitrep.model_validate(await _public_document(request))
        return _public(report.model_dump_json().encode(), "application/json")

    return await public_cache.cache(request).answer(request, public_cache.FROZEN, make)


@routes.get("/v1/public/incidents/{id}/sitreps", public=True, database=True, cached=True,
            response=PublicSitrepList, errors=(404,),
            summary="An incident's reports (public versions), newest first, and which the page shows")
async def public_sitreps(request: web.Request) -> web.Response:
    """The reports' public references, newest first; `shown` is the report the transparency page takes
    its figures from: the latest verified one, else the latest, marked provisional."""
    incident_id = path_id(request)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            await incidents.require(conn, incident_id)
            items = await sitreps.list_sitreps(conn, incident_id=incident_id)
            shown = await sitreps.latest_public(conn, incident_id=incident_id)
        result = PublicSitrepList(
            items=[PublicSitrepRef(id=i.id, number=i.number, kind=i.kind, issued_at=i.issued_at) for i in items],
            shown=PublicSitrep.model_validate(public_version(json.loads(shown[0]))) if shown else None,
            provisional=shown[1] if shown else None,
        )
        return _public(result.model_dump_json().encode(), "application/json")

    return await public_cache.cache(request).answer(request, str(incident_id), make)
