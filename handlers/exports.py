"""/v1/incidents/{id}/exports/{pledges|donations|evacuations|stock-movements|disbursements|deployments|impacts}.csv:
HXL CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from contextlib import aclosing
from uuid import UUID

import structlog
from aiohttp import web

from handlers.common import path_id, pool, principal
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.keys import Role
from relief import exports
from relief.app_keys import REQUEST_ID

routes = Routes("exports")

log = structlog.get_logger("relief.exports")

STAFF = "admin, dispatcher, viewer"
# Bytes gathered before a write: large enough for few syscalls, small enough to keep memory flat.
CHUNK_BYTES = 64 * 1024
DISPOSITION = {"Content-Disposition": "attachment; filename=\"<incident code>-<name>.csv\""}
# An export holds a pooled connection until the client has read it all: a few at a time, and a client
# that stops reading is cut off, so slow downloads can never take the pool from the rest of the API.
CONCURRENT_EXPORTS = 2
WRITE_TIMEOUT_SECONDS = 30
EXPORT_SLOTS = web.AppKey("export_slots", asyncio.Semaphore)


def setup(app: web.Application) -> None:
    app[EXPORT_SLOTS] = asyncio.Semaphore(CONCURRENT_EXPORTS)


async def _stream(request: web.Request, export: exports.Export) -> web.StreamResponse:
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.viewer)
    slots = request.app[EXPORT_SLOTS]
    if slots.locked():
        raise HttpProblem("unavailable", f"{CONCURRENT_EXPORTS} exports are already running; retry shortly",
                          headers={"Retry-After": "10"})
    async with slots:
        return await _stream_now(request, export, incident_id)


async def _stream_now(request: web.Request, export: exports.Export, incident_id: UUID) -> web.StreamResponse:
    async with pool(request).acquire() as conn:
        code = await exports.incident_code(conn, incident_id)
        if code is None:
            raise HttpProblem("not-found", f"incident {incident_id} does not exist")
        response = web.StreamResponse(headers={
            # The code matches [A-Za-z0-9._-]+, so it is safe in a header as it is.
            "Content-Disposition": f'attachment; filename="{code}-{export.name}.csv"',
            "Cache-Control": "no-store",
        })
        response.content_type = "text/csv"
        response.charset = "utf-8"
        if REQUEST_ID in request:  # the middleware adds it after the handler: too late once prepared
            response.headers["X-Request-ID"] = request[REQUEST_ID]
        response.enable_chunked_encoding()
        await response.prepare(request)

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(export.headers)
        writer.writerow(export.hashtags)
        rows = 0
        try:
            async with aclosing(export.rows(conn, incident_id)) as generator:
                async for row in generator:
                    writer.writerow([exports.safe_cell(cell) for cell in row])
                    rows += 1
                    if buffer.tell() >= CHUNK_BYTES:
                        async with asyncio.timeout(WRITE_TIMEOUT_SECONDS):  # waits while the client is slow
                            await response.write(buffer.getvalue().encode())
                        buffer.seek(0)
                        buffer.truncate()
            await response.write(buffer.getvalue().encode())
        except Exception:
            # The status line is gone: the only honest signal left is to cut the stream short, so
            # the client sees a chunked body without its end rather than a truncated file as whole.
            log.exception("export_failed", export=export.name, incident_id=str(incident_id), rows=rows)
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    log.info("export_sent", export=export.name, incident_id=str(incident_id), rows=rows)
    return response


ERRORS = (403, 404, 503)


@routes.get("/v1/incidents/{id}/exports/pledges.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_pledges(request: web.Request) -> web.StreamResponse:
    """Every pledge of the incident as HXL-tagged CSV (organization, call, quantity, value, status), streamed."""
    return await _stream(request, exports.EXPORTS["pledges"])


@routes.get("/v1/incidents/{id}/exports/donations.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_donations(request: web.Request) -> web.StreamResponse:
    """The incident's donation ledger as HXL-tagged CSV, reversals included as negative entries, streamed."""
    return await _stream(request, exports.EXPORTS["donations"])


@routes.get("/v1/incidents/{id}/exports/evacuations.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_evacuations(request: web.Request) -> web.StreamResponse:
    """Aggregate evacuations and residents (one row each, no personal data) as HXL-tagged CSV, streamed."""
    return await _stream(request, exports.EXPORTS["evacuations"])


@routes.get("/v1/incidents/{id}/exports/stock-movements.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_stock_movements(request: web.Request) -> web.StreamResponse:
    """Every stock movement (transfers, arrivals, distributions, write-offs, reversals) as HXL-tagged CSV."""
    return await _stream(request, exports.EXPORTS["stock-movements"])


@routes.get("/v1/incidents/{id}/exports/disbursements.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_disbursements(request: web.Request) -> web.StreamResponse:
    """Every disbursement (proposed, approved, rejected, reversed) as HXL-tagged CSV, streamed."""
    return await _stream(request, exports.EXPORTS["disbursements"])


@routes.get("/v1/incidents/{id}/exports/deployments.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_deployments(request: web.Request) -> web.StreamResponse:
    """Every stint on site (task, organization, member by name and role, times, hours) as HXL-tagged CSV;
    no phone or emergency contact."""
    return await _stream(request, exports.EXPORTS["deployments"])


@routes.get("/v1/incidents/{id}/exports/impacts.csv", response=None, content_type="text/csv", roles=STAFF,
            errors=ERRORS, headers=DISPOSITION)
async def export_impacts(request: web.Request) -> web.StreamResponse:
    """Every observation of an impact figure (region, figure, value and unit, source and organization, as-of
    time) as HXL-tagged CSV, in the order recorded, streamed."""
    return await _stream(request, exports.EXPORTS["impacts"])
