"""/v1/incidents/{id}/imports and /v1/imports/{id}: a township's spreadsheet, imported row by row.

The upload is streamed into the database (relief/imports.py) under its own size limit and deadline;
the import then runs in the background (relief/import_runner.py) in whichever process takes it up.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from uuid import UUID

from aiohttp import web
from pydantic import Field

from handlers.common import idempotency_scope, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Input
from models.imports import Import, ImportQuery
from models.keys import Role
from relief import import_files, import_templates, imports, incidents, waits
from relief.app_keys import SETTINGS
from relief.exports import safe_cell

routes = Routes("imports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD = {
    "text/csv": "CSV in UTF-8 or GB18030 (the charset parameter, else UTF-8 if the file decodes as it, else GB18030)",
    XLSX: "An .xlsx workbook (its first sheet)",
}
STAFF = "admin, dispatcher, viewer"


class TemplateQuery(Input):
    incident_id: str | None = Field(default=None, description="List this incident's regions on the codes sheet")


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None or not (1 <= len(key) <= 255 and key.isascii() and key.isprintable() and " " not in key):
        raise HttpProblem(
            "malformed-request",
            "an import needs an Idempotency-Key header (a fresh UUID per file; resend the same one on a retry, "
            "and the same import answers)",
            errors=[{"parameter": "Idempotency-Key", "detail": "required: 1–255 visible ASCII characters"}],
        )
    return key


async def _body(request: web.Request, deadline: float) -> AsyncIterator[bytes]:
    """The upload's bytes as they arrive, within `deadline` seconds in all."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        left = end - loop.time()
        if left <= 0:
            raise HttpProblem("request-timeout", f"the file did not arrive within {deadline:g} s; send it again")
        try:
            piece = await waits.within(request.content.readany(), left)
        except TimeoutError:
            raise HttpProblem("request-timeout", f"the file did not arrive within {deadline:g} s; send it again") \
                from None
        if not piece:
            return
        yield piece


@routes.post("/v1/incidents/{id}/imports", query=ImportQuery, response=Import, status=202, also=(200,),
             upload=UPLOAD, idempotent=True, roles="admin, dispatcher", errors=(403, 404, 408, 413, 415, 422),
             headers={"Location": "The import: GET it for its state, progress and refused rows",
                      "Accept-Language": "(request) en: the refused rows' reasons in English; anything else, or "
                                         "none, in Chinese (the console sends its own language)"},
             summary="Import a spreadsheet of residents, evacuations, donations or impact figures (202; runs in the "
                     "background); a retried upload with the same Idempotency-Key answers 200 with the same import")
async def create_import(request: web.Request) -> web.Response:
    """Upload the file as the body. A header that is not the kind's template is refused at once (422,
    with the expected columns); the rows are validated by the API's own models, in the background."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    params = query(request, ImportQuery)
    key = _idempotency_key(request)
    try:
        file_format, charset = import_files.detect(request.headers.get("Content-Type", ""))
    except import_files.Unsupported as exc:
        raise HttpProblem("unsupported-media-type", str(exc)) from None
    settings = request.app[SETTINGS]
    language = "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "zh"
    async with pool(request).acquire() as conn:
        import_id, replayed = await imports.start(
            conn, incident_id=incident_id, kind=params.kind, dry_run=params.dry_run, file_format=file_format,
            language=language, scope=idempotency_scope(caller), key=key, created_by=caller.key_id,
        )
        if replayed:  # the same import answers: the file was stored (or is being stored) the first time
            found = await imports.get(conn, import_id=import_id)
            return respond(found, status=200, headers={"Location": f"/v1/imports/{import_id}",  # type: ignore[arg-type]
                                                        "Idempotent-Replayed": "true"})
        try:
            size, sniffed = await imports.receive(conn, import_id, _body(request, settings.import_body_timeout),
                                                  max_bytes=settings.import_max_bytes)
            used = (charset or sniffed) if file_format == "csv" else None
            await imports.check_header(conn, import_id, kind=params.kind, file_format=file_format, charset=used)
        except imports.TooLarge as exc:
            await imports.fail(conn, import_id, str(exc))
            raise HttpProblem("payload-too-large", str(exc)) from None
        except BaseException as exc:
            await asyncio.shield(imports.fail(conn, import_id, f"the upload did not complete: {type(exc).__name__}"))
            raise
        await imports.queue(conn, import_id, size=size, charset=used)
        created = await imports.get(conn, import_id=import_id)
    return respond(created, status=202, headers={"Location": f"/v1/imports/{import_id}"})  # type: ignore[arg-type]


@routes.get("/v1/imports/{id}", response=Import, roles=STAFF, errors=(403,))
async def get_import(request: web.Request) -> web.Response:
    """An import's state, progress (rows read, written, already present, duplicated, refused, total) and
    its first 100 refused rows."""
    principal(request).require(Role.viewer)
    import_id = path_id(request)
    async with pool(request).acquire() as conn:
        found = await imports.get(conn, import_id=import_id)
    if found is None:
        raise HttpProblem("not-found", f"import {import_id} does not exist")
    return respond(found)


@routes.get("/v1/imports/{id}/errors.csv", response=None, content_type="text/csv", roles=STAFF, errors=(403,),
            summary="The refused rows: row number, column, reason and the row's values (ID numbers and phones "
                    "masked), to fix the sheet and send the bad rows again")
async def import_errors(request: web.Request) -> web.StreamResponse:
    """One line per refusal, in row order, UTF-8 with a BOM (spreadsheets then read it right)."""
    principal(request).require(Role.viewer)
    import_id = path_id(request)
    async with pool(request).acquire() as conn:
        found = await conn.fetchrow("select kind from imports where id = $1", import_id)
        if found is None:
            raise HttpProblem("not-found", f"import {import_id} does not exist")
        columns = [c.zh for c in import_files.COLUMNS[found["kind"]]]
        response = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'})
        await response.prepare(request)
        out = io.StringIO()
        writer = csv.writer(out)
        out.write("\ufeff")
        writer.writerow(["行号 row", "列 column", "原因 reason", *columns])
        async for r in imports.error_rows(conn, import_id):
            cells = (safe_cell(r["cells"].get(c, "")) for c in columns)
            writer.writerow([r["row_no"], r["column_name"], r["reason"], *cells])
            if out.tell() > 64 * 1024:
                await response.write(out.getvalue().encode())
                out.seek(0)
                out.truncate()
        await response.write(out.getvalue().encode())
    await response.write_eof()
    return response


@routes.get("/v1/imports/templates/{kind}.csv", response=None, content_type="text/csv", roles="any key",
            errors=(404,), summary="An import template: the header row (中文 (english)) and an example row")
async def template_csv(request: web.Request) -> web.Response:
    """The CSV template of a kind."""
    principal(request)
    kind = _kind(request)
    return web.Response(body=import_templates.template_csv(kind), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="relief-{kind}-template.csv"'})


@routes.get("/v1/imports/templates/{kind}.xlsx", query=TemplateQuery, response=None, content_type=XLSX,
            roles="any key", errors=(404, 422),
            summary="An import template as a workbook: the header, an example row, and the code lists on a second "
                    "sheet (an incident's regions with ?incident_id=)")
async def template_xlsx(request: web.Request) -> web.Response:
    """The .xlsx template of a kind."""
    principal(request)
    kind = _kind(request)
    params = query(request, TemplateQuery)
    regions: list[tuple[str, str]] = []
    if params.incident_id:
        try:
            incident_uuid = UUID(params.incident_id)
        except ValueError:
            raise HttpProblem("not-found", f"{params.incident_id!r} is not an incident of this service") from None
        async with pool(request).acquire() as conn:
            await incidents.require(conn, incident_uuid)
            found = await conn.fetchval("select regions from incidents where id = $1", incident_uuid)
        regions = [(code, "") for code in found]
    data = await asyncio.to_thread(import_templates.template_xlsx, kind, regions=regions,
                                   items=list(import_files.ITEM_ZH.items()),
                                   flags=list(import_files.VULNERABILITY_ZH.items()))
    return web.Response(body=data, content_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="relief-{kind}-template.xlsx"'})


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in import_files.COLUMNS:
        raise HttpProblem("not-found", f"no import template {kind!r}: residents, evacuations, donations or impacts")
    return kind

