"""Run imports: claim one, read its rows, write them in batches, end it with import.completed.

Every batch is one transaction holding its rows' writes, their events (marked with the import by the
transaction-local setting relief.import_id, so the fan-out and the streams skip them), the refused
rows and the import's progress. A process that dies mid-import leaves its last batch uncommitted and
its claim to expire; the next claimer starts after the rows the committed batches handled, and the
row keys (ID numbers, receipts, row keys) make a row written twice impossible anyway. A dry run does
the same with each batch's writes rolled back, so it reports every refusal the real run would meet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from models.event_shapes import ImportCompleted
from models.keys import Role
from relief import db, events, import_bulk, import_files, import_reasons, imports, masking, residents, waits
from relief.auth import Principal
from relief.errors import Conflict, Invalid, NotFound
from relief.import_apply import Context, Prepared, RowError, apply, domain_error, prepare

log = structlog.get_logger("relief.imports")

BATCH_ROWS = 500
LEASE_SECONDS = 120
# Cells masked in the errors file and the API's errors, by the one rule (relief/masking.py).
_NUMBERS, _PHONES = ("id_number",), ("phone",)

CLAIM = """
update imports set state = 'running', attempts = attempts + 1, claimed_until = now() + make_interval(secs => $1),
       resumed = resumed or state = 'running', started_at = coalesce(started_at, now())
 where id = (select id from imports
              where state = 'queued' or (state = 'running' and claimed_until < now())
              order by created_at for update skip locked limit 1)
returning *
"""

Progress = Callable[[int, int | None], None]


_Refusal = tuple[int, str, str, dict[str, str]]


@dataclass
class _Queued:
    """A valid row waiting for its batch's set-based write."""

    row_no: int
    columns: list[import_files.Column | None]
    cells: list[str]
    prepared: Prepared
    key: str
    identity: str


class LostClaim(Exception):
    """This run's claim lapsed (a batch took longer than the lease) and another run has the import."""


class _Rollback(Exception):
    """Ends a dry run's batch savepoint: its writes go, its refusals and progress stay."""


def masked_cells(columns: list[import_files.Column | None], cells: list[str]) -> dict[str, str]:
    out = {}
    for column, value in zip(columns, cells, strict=False):
        if column is None:
            continue
        if value and column.field in _NUMBERS:
            value = masking.mask_number(value)
        elif value and column.field in _PHONES:
            value = masking.mask_phone(value)
        out[column.zh] = value
    return out


def _header_name(columns: list[import_files.Column | None], field: str) -> str:
    for column in columns:
        if column is not None and (column.field == field or column.field.split(".")[0] == field):
            return column.zh
    return ""


class _Run:
    def __init__(self, conn: asyncpg.Connection, record: asyncpg.Record, secret: bytes,
                 progress: Progress | None, zone: str, lease: float) -> None:
        self.conn, self.record, self.progress, self.zone, self.lease = conn, record, progress, zone, lease
        self.kind: str = record["kind"]
        self.counts = {name: record[f"rows_{name}"] for name in ("read", "written", "present", "duplicate", "refused")}
        actor = Principal(role=Role.dispatcher, key_id=record["created_by"], name="import")
        self.ctx = Context(incident_id=record["incident_id"], import_id=record["id"], actor=actor, secret=secret)
        self.seen: set[str] = set()  # row keys of this run: the same row twice in one file is written once

    async def batch(self, columns: list[import_files.Column | None], rows: list[tuple[int, list[str]]]) -> None:
        conn, dry = self.conn, self.record["dry_run"]
        refused: list[_Refusal] = []
        counts = dict(self.counts)
        async with conn.transaction():
            await conn.execute(db.FENCE_SHARED)
            await conn.execute("select set_config('relief.import_id', $1, true)", str(self.ctx.import_id))
            try:
                async with conn.transaction():
                    queued: list[_Queued] = []
                    for row_no, cells in rows:
                        outcome = await self._row(columns, row_no, cells, refused, queued)
                        counts["read"] += 1
                        if outcome != "queued":
                            counts[outcome] += 1
                    for outcome in await self._set(queued, refused):
                        counts[outcome] += 1
                    if dry:
                        raise _Rollback
            except _Rollback:
                pass
            # Unmarked again for whatever follows in this transaction (the demo runs an import inside its own).
            await conn.execute("select set_config('relief.import_id', '', true)")
            if refused:
                await conn.executemany(
                    """
                    insert into import_errors (import_id, row_no, column_name, reason, cells)
                    values ($1, $2, $3, $4, $5) on conflict do nothing
                    """,
                    [(self.ctx.import_id, *r) for r in refused],
                )
            still_ours = await conn.execute(
                """
                update imports set rows_read = $2, rows_written = $3, rows_present = $4, rows_duplicate = $5,
                       rows_refused = $6, claimed_until = now() + make_interval(secs => $7)
                 where id = $1 and attempts = $8 and state = 'running'
                """,
                self.ctx.import_id, counts["read"], counts["written"], counts["present"], counts["duplicate"],
                counts["refused"], self.lease, self.record["attempts"],
            )
            if still_ours == "UPDATE 0":  # our claim lapsed and another runner took the import over
                raise LostClaim(f"import {self.ctx.import_id} was taken over; this run stops")
        self.counts = counts
        if self.progress:
            self.progress(counts["read"], self.record["rows_total"])

    async def _row(self, columns: list[import_files.Column | None], row_no: int, cells: list[str],
                   refused: list[_Refusal], queued: list[_Queued]) -> str:
        body = import_files.row_body(self.kind, columns, cells, zone=self.zone)
        if "_error" in body:
            self._refuse(refused, row_no, columns, cells, RowError(body["_error"]["column"], body["_error"]["reason"]))
            return "refused"
        explicit = body.pop("_key", None)
        refs = body.pop("_refs", {})
        try:
            prepared = prepare(self.ctx, self.kind, body, refs)
        except RowError as exc:
            self._refuse(refused, row_no, columns, cells, exc)
            return "refused"
        identity = key = _identity(self.kind, prepared, body, refs, explicit, self.ctx.secret)
        if identity in self.seen:
            return "duplicate"
        self.seen.add(identity)
        if import_bulk.takes(self.kind, prepared):
            queued.append(_Queued(row_no, columns, cells, prepared, key, identity))
            return "queued"
        return await self._one(_Queued(row_no, columns, cells, prepared, key, identity), refused)

    def _refuse(self, refused: list[_Refusal], row_no: int, columns: list[import_files.Column | None],
                cells: list[str], error: RowError) -> None:
        """Note a refused row: its column as the file's header names it, the reason in the import's
        language (the console's, or Chinese), its cells masked."""
        language = self.record["language"]
        reason = (import_reasons.from_pydantic(error.error, language) if error.error is not None
                  else import_reasons.translate(error.reason, language))
        refused.append((row_no, _header_name(columns, error.column) or error.column, reason,
                        masked_cells(columns, cells)))

    async def _one(self, row: _Queued, refused: list[_Refusal]) -> str:
        """One row through its use case; a refused row takes back only its own writes."""
        try:
            async with self.conn.transaction():
                return await apply(self.conn, self.ctx, self.kind, row.prepared, row.key)
        except RowError as exc:
            self.seen.discard(row.identity)  # not written: the same row later in the file may be
            self._refuse(refused, row.row_no, row.columns, row.cells, exc)
            return "refused"
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            # A rule the API's models do not know yet: this row is refused, the rest go on (an error here
            # would stop the import and its retries would meet the same row for ever).
            self.seen.discard(row.identity)
            log.warning("import_row_refused_by_database", import_id=str(self.ctx.import_id), row=row.row_no,
                        error=type(exc).__name__, constraint=getattr(exc, "constraint_name", None))
            name = getattr(exc, "constraint_name", None) or type(exc).__name__
            self._refuse(refused, row.row_no, row.columns, row.cells,
                         RowError("", f"the database refused the row ({name})"))
            return "refused"

    async def _set(self, queued: list[_Queued], refused: list[_Refusal]) -> list[str]:
        """The batch's queued rows in one set-based write (relief/import_bulk.py): their outcomes. A set
        the database refuses is taken again row by row, so the refusal lands on its row."""
        if not queued:
            return []
        try:
            async with self.conn.transaction():
                written = await import_bulk.write(self.conn, self.ctx, self.kind,
                                                  [(q.prepared, q.key) for q in queued])
        except (Invalid, Conflict, NotFound) as exc:  # the incident is closed or gone: every row says so
            error = domain_error(exc)
            for q in queued:
                self._refuse(refused, q.row_no, q.columns, q.cells, error)
            return ["refused"] * len(queued)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            log.info("import_set_refused", import_id=str(self.ctx.import_id), error=type(exc).__name__)
            return [await self._one(q, refused) for q in queued]
        return ["written"] * written + ["present"] * (len(queued) - written)


def _identity(kind: str, row: Prepared, body: dict[str, Any], refs: dict[str, str], explicit: str | None,
              secret: bytes) -> str:
    """What makes two rows the same, in one file or across imports: the person (the keyed hash of the
    ID number, hex), the receipt, else the row key (the key column, or a hash of the row's values)."""
    if kind == "residents":
        return residents.id_hash(secret, row.data.id_number).hex()  # as register() hashes it
    if kind == "donations" and row.data.receipt_no is not None:
        return "receipt:" + row.data.receipt_no
    return explicit or import_files.normalized_key(kind, {**body, **({"_refs": refs} if refs else {})})


def _count(rows: Iterator[tuple[int, list[str]]]) -> int:
    next(rows, None)  # the header
    return sum(1 for _, cells in rows if any(c.strip() for c in cells))


async def process(conn: asyncpg.Connection, record: asyncpg.Record, *, secret: bytes, zone: str = "Asia/Shanghai",
                  lease: float = LEASE_SECONDS, progress: Progress | None = None) -> None:
    """Run the claimed import `record` to its end (or to the first failure of the database). Times
    without an offset are read in `zone` (the bureau's); each batch renews the claim for `lease` s."""
    run = _Run(conn, record, secret, progress, zone, lease)
    await run.ctx.load(conn)
    with imports.spooled(record["format"]) as handle:
        path = await imports.spool(conn, record["id"], handle)

        def rows() -> Iterator[tuple[int, list[str]]]:
            return imports.file_rows(path, record["format"], record["charset"])

        if record["rows_total"] is None:
            total = await asyncio.to_thread(_count, rows())
            await conn.execute("update imports set rows_total = $2, claimed_until = now() + make_interval(secs => $3)"
                               " where id = $1", record["id"], total, run.lease)
            run.record = record = await conn.fetchrow("select * from imports where id = $1", record["id"])
        reading = rows()
        _, header = next(reading)
        columns = import_files.map_header(run.kind, header)
        skip, pending = record["rows_read"], []
        for row_no, cells in reading:
            if not any(c.strip() for c in cells):
                continue
            if skip:
                skip -= 1
                continue
            pending.append((row_no, cells))
            if len(pending) >= BATCH_ROWS:
                await run.batch(columns, pending)
                pending = []
        if pending:
            await run.batch(columns, pending)
    await _finish(conn, record, run.counts)


async def _finish(conn: asyncpg.Connection, record: asyncpg.Record, counts: dict[str, int]) -> None:
    async with conn.transaction():
        await conn.execute(db.FENCE_SHARED)
        ended = await conn.execute(
            "update imports set state = 'done', finished_at = now(), claimed_until = null"
            " where id = $1 and attempts = $2 and state = 'running'", record["id"], record["attempts"])
        if ended == "UPDATE 0":  # another run took it over: it ends it, once
            raise LostClaim(f"import {record['id']} was taken over; this run stops")
        await conn.execute("delete from import_chunks where import_id = $1", record["id"])
        if not record["dry_run"]:
            await events.emit(conn, type="import.completed", actor=Principal(role=Role.dispatcher,
                              key_id=record["created_by"]), entity_type="import", entity_id=record["id"],
                              incident_id=record["incident_id"], after=ImportCompleted(
                                  id=record["id"], kind=record["kind"], resumed=record["resumed"], **counts))
    log.info("import_done", import_id=str(record["id"]), kind=record["kind"], dry_run=record["dry_run"], **counts)


async def run_next(pool: asyncpg.Pool, *, secret: bytes, zone: str = "Asia/Shanghai", lease: float = LEASE_SECONDS,
                   progress: Progress | None = None) -> UUID | None:
    """Claim and run the oldest waiting import; None when there is none."""
    async with pool.acquire() as conn:
        record = await conn.fetchrow(CLAIM, lease)
        if record is None:
            return None
        if record["attempts"] > 1:
            log.info("import_resumed", import_id=str(record["id"]), after_rows=record["rows_read"],
                     attempt=record["attempts"])
        try:
            await process(conn, record, secret=secret, zone=zone, lease=lease, progress=progress)
        except (import_files.HeaderMismatch, import_files.Unreadable) as exc:  # said once, not retried for ever
            log.warning("import_failed", import_id=str(record["id"]), error=str(exc))
            await imports.fail(conn, record["id"], str(exc))
        except LostClaim as exc:
            log.warning("import_taken_over", import_id=str(record["id"]), error=str(exc))
        return record["id"]


class ImportWatch:
    """In every `relief serve` (and `relief worker`): wake on NOTIFY relief_imports, or every few seconds
    (an import whose runner died), and run what waits."""

    def __init__(self, pool: asyncpg.Pool, url: str, *, secret: bytes, zone: str, lease: float = LEASE_SECONDS,
                 poll_seconds: float = 5.0) -> None:
        self.pool, self.url, self.secret, self.zone, self.lease = pool, url, secret, zone, lease
        self.poll = min(poll_seconds, lease)
        self.wake = asyncio.Event()

    async def run(self) -> None:
        listener: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        listener = await db.connect(self.url)
                        await listener.add_listener("relief_imports", lambda *_: self.wake.set())
                    while await run_next(self.pool, secret=self.secret, zone=self.zone, lease=self.lease) is not None:
                        pass
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("import_watch_error", error=f"{type(exc).__name__}: {exc}")
                    if listener is not None:
                        listener.terminate()
                    listener = None
                self.wake.clear()
                await waits.woken(self.wake, self.poll)
        finally:
            if listener is not None:
                listener.terminate()


__all__ = ["BATCH_ROWS", "ImportWatch", "process", "run_next"]
