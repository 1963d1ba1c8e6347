"""Imports: store an upload as it arrives, check its header, read its state and refused rows.

The file goes into import_chunks piece by piece, each piece in its own short statement: an upload
may take minutes, and a transaction held that long would hold back every situation report (its
snapshot waits for older transactions) and the write fence. The import row is committed first, in
state `receiving`; the upload ends by checking the header and queueing it. relief/import_runner.py
then takes it up, in this process or any other.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import asyncpg

from models.imports import Import, ImportCounts, ImportKind, ImportRowError
from relief import import_files
from relief.errors import Invalid, NotFound

CHUNK_BYTES = 1024 * 1024
ERRORS_SHOWN = 100


class TooLarge(Exception):
    """The upload passed the import size limit."""


async def start(conn: asyncpg.Connection, *, incident_id: UUID, kind: ImportKind, dry_run: bool, file_format: str,
                language: str, scope: str, key: str, created_by: UUID | None) -> tuple[UUID, bool]:
    """The import row for this upload, or the one this Idempotency-Key made before: (id, replayed)."""
    if not await conn.fetchval("select 1 from incidents where id = $1", incident_id):
        raise NotFound(f"incident {incident_id} does not exist")
    row = await conn.fetchrow(
        """
        insert into imports (incident_id, kind, dry_run, format, language, idempotency_scope, idempotency_key,
                             created_by)
        values ($1, $2, $3, $4, $5, $6, $7, $8)
        on conflict (idempotency_scope, idempotency_key) do nothing
        returning id
        """,
        incident_id, str(kind), dry_run, file_format, language, scope, key, created_by,
    )
    if row is not None:
        return row["id"], False
    existing = await conn.fetchrow(
        "select id, incident_id, kind, dry_run from imports where idempotency_scope = $1 and idempotency_key = $2",
        scope, key,
    )
    if (existing["incident_id"], existing["kind"], existing["dry_run"]) != (incident_id, str(kind), dry_run):
        raise Invalid(f"Idempotency-Key {key!r} was already used for another import",
                      errors=[{"parameter": "Idempotency-Key", "detail": "reused with a different import"}])
    return existing["id"], True


async def receive(conn: asyncpg.Connection, import_id: UUID, body: AsyncIterator[bytes], *, max_bytes: int
                  ) -> tuple[int, str | None]:
    """Store the body in pieces; returns (bytes, the CSV charset it decodes in). TooLarge past max_bytes."""
    sniffer = import_files.CharsetSniffer()
    size, seq, buffer = 0, 0, bytearray()
    async for piece in body:
        size += len(piece)
        if size > max_bytes:
            raise TooLarge(f"the file is over the import limit of {max_bytes} bytes")
        sniffer.feed(piece)
        buffer += piece
        if len(buffer) >= CHUNK_BYTES:
            await conn.execute("insert into import_chunks (import_id, seq, data) values ($1, $2, $3)",
                               import_id, seq, bytes(buffer))
            seq, buffer = seq + 1, bytearray()
    if buffer or seq == 0:
        await conn.execute("insert into import_chunks (import_id, seq, data) values ($1, $2, $3)",
                           import_id, seq, bytes(buffer))
    return size, sniffer.result()


async def chunks(conn: asyncpg.Connection, import_id: UUID) -> AsyncIterator[bytes]:
    """The stored file, piece by piece (one piece in memory at a time)."""
    seq = 0
    while True:
        data = await conn.fetchval("select data from import_chunks where import_id = $1 and seq = $2", import_id, seq)
        if data is None:
            return
        yield data
        seq += 1


@contextmanager
def spooled(file_format: str) -> Iterator[Any]:
    """A private temporary file for a stored upload (openpyxl needs a seekable file, and reading it
    from disk keeps memory flat); deleted on the way out, whatever happens: it holds full ID numbers."""
    # openpyxl goes by the file's extension
    handle = tempfile.NamedTemporaryFile(prefix="relief-import-", suffix=f".{file_format}", delete=False)
    try:
        yield handle
    finally:
        handle.close()
        os.unlink(handle.name)


def file_rows(path: str, file_format: str, charset: str | None) -> Iterator[tuple[int, list[str]]]:
    """The rows of a spooled file, with their spreadsheet row numbers."""
    if file_format == "xlsx":
        yield from import_files.xlsx_rows(path)
        return
    with open(path, "rb") as handle:
        yield from import_files.csv_rows(iter(lambda: handle.read(CHUNK_BYTES), b""), charset or "utf-8")


async def spool(conn: asyncpg.Connection, import_id: UUID, handle: Any) -> str:
    """Write the stored file to `handle` (openpyxl reads a seekable file); returns its path."""
    async for piece in chunks(conn, import_id):
        handle.write(piece)
    handle.flush()
    return handle.name


async def check_header(conn: asyncpg.Connection, import_id: UUID, *, kind: ImportKind, file_format: str,
                       charset: str | None) -> None:
    """Refuse the whole file (422, with what was expected) unless its header is a template's."""
    header: list[str] | None = None
    if file_format == "xlsx":
        with spooled("xlsx") as handle:
            path = await spool(conn, import_id, handle)
            try:
                header = next((cells for _, cells in import_files.xlsx_rows(path)), None)
            except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
                raise Invalid("the file is not a readable .xlsx workbook",
                              errors=[{"pointer": "", "detail": f"{type(exc).__name__}: {exc}"[:300]}]) from None
    else:
        first = await conn.fetchval("select data from import_chunks where import_id = $1 and seq = 0", import_id)
        try:
            header = next((cells for _, cells in import_files.csv_rows([bytes(first or b"")], charset or "utf-8")),
                          None)
        except import_files.Unreadable as exc:
            raise Invalid(str(exc), errors=[{"pointer": "", "detail": str(exc)}]) from None
    if header is None:
        raise Invalid("the file is empty: it needs a header row", errors=[{"pointer": "", "detail": "no header row"}])
    try:
        import_files.map_header(str(kind), header)
    except import_files.HeaderMismatch as exc:
        raise Invalid(
            f"the header is not the {kind} template's: {exc}",
            errors=[{"pointer": "", "detail": f"expected columns: {', '.join(exc.expected)}"}],
        ) from None


async def claim_here(conn: asyncpg.Connection, import_id: UUID, *, size: int, charset: str | None,
                     lease: float) -> asyncpg.Record:
    """Take a stored upload to run in this process at once (the CLI, the demo), not queued for others."""
    return await conn.fetchrow(
        """
        update imports set state = 'running', bytes = $2, charset = $3, attempts = 1, started_at = now(),
               claimed_until = now() + make_interval(secs => $4)
         where id = $1 returning *
        """,
        import_id, size, charset, lease,
    )


async def queue(conn: asyncpg.Connection, import_id: UUID, *, size: int, charset: str | None) -> None:
    await conn.execute(
        "update imports set state = 'queued', bytes = $2, charset = $3 where id = $1 and state = 'receiving'",
        import_id, size, charset,
    )
    await conn.execute("select pg_notify('relief_imports', $1)", str(import_id))


async def fail(conn: asyncpg.Connection, import_id: UUID, failure: str) -> None:
    """End an import that cannot run (its upload broke off, or its header is wrong); its file goes."""
    async with conn.transaction():
        await conn.execute(
            "update imports set state = 'failed', failure = $2, finished_at = now() where id = $1", import_id, failure
        )
        await conn.execute("delete from import_chunks where import_id = $1", import_id)


def _to_model(row: asyncpg.Record, errors: list[ImportRowError]) -> Import:
    return Import(
        id=row["id"], incident_id=row["incident_id"], kind=row["kind"], dry_run=row["dry_run"], format=row["format"],
        charset=row["charset"], state=row["state"], bytes=row["bytes"],
        counts=ImportCounts(total=row["rows_total"], read=row["rows_read"], written=row["rows_written"],
                            present=row["rows_present"], duplicate=row["rows_duplicate"], refused=row["rows_refused"]),
        resumed=row["resumed"], attempts=row["attempts"], failure=row["failure"], errors=errors,
        created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
    )


async def get(conn: asyncpg.Connection, *, import_id: UUID) -> Import | None:
    row = await conn.fetchrow("select * from imports where id = $1", import_id)
    if row is None:
        return None
    errors = [ImportRowError(row=r["row_no"], column=r["column_name"], reason=r["reason"], cells=r["cells"])
              async for r in error_rows(conn, import_id, limit=ERRORS_SHOWN)]
    return _to_model(row, errors)


async def error_rows(conn: asyncpg.Connection, import_id: UUID, *, limit: int | None = None
                     ) -> AsyncIterator[asyncpg.Record]:
    """The refused rows in row order, read in pages (an errors file may be long)."""
    after, left = (-1, ""), limit
    while left is None or left > 0:
        page = min(1000, left) if left is not None else 1000
        rows = await conn.fetch(
            """
            select row_no, column_name, reason, cells from import_errors
             where import_id = $1 and (row_no, column_name) > ($2, $3)
             order by row_no, column_name limit $4
            """,
            import_id, after[0], after[1], page,
        )
        for r in rows:
            yield r
        if len(rows) < page:
            return
        after = (rows[-1]["row_no"], rows[-1]["column_name"])
        if left is not None:
            left -= len(rows)


__all__ = ["CHUNK_BYTES", "TooLarge", "check_header", "chunks", "claim_here", "error_rows", "fail", "file_rows", "get",
           "queue", "receive", "spool", "spooled", "start"]
