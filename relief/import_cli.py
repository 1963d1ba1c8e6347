"""`relief import FILE --incident ID --kind KIND [--dry-run]`: the same import as the API's, run here,
with a progress bar; it prints the counts and the first refused rows when it ends."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import asyncpg
from tqdm import tqdm

from models.imports import ImportKind
from relief import import_files, import_runner, imports
from relief.settings import Settings

SHOWN_ERRORS = 20


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(imports.CHUNK_BYTES):
            yield piece


def _format(path: Path, charset: str | None) -> tuple[str, str | None]:
    if path.suffix.lower() == ".xlsx":
        return "xlsx", None
    if path.suffix.lower() != ".csv":
        raise import_files.Unsupported(f"{path.name}: an import is a .csv or an .xlsx file")
    return "csv", charset


async def run(conn: asyncpg.Connection, settings: Settings, *, path: Path, incident_id: UUID, kind: ImportKind,
              dry_run: bool, charset: str | None = None) -> int:
    """Store the file as an upload would, then run it in this process; 0 when no row was refused."""
    file_format, declared = _format(path, charset)
    import_id, _ = await imports.start(
        conn, incident_id=incident_id, kind=kind, dry_run=dry_run, file_format=file_format, language="zh",
        scope="cli", key=str(uuid.uuid4()), created_by=None,
    )
    size, sniffed = await imports.receive(conn, import_id, _read(path), max_bytes=settings.import_max_bytes)
    used = (declared or sniffed) if file_format == "csv" else None
    await imports.check_header(conn, import_id, kind=kind, file_format=file_format, charset=used)
    # Claimed here at once (not queued for the runners of `relief serve`): this process runs it.
    record = await imports.claim_here(conn, import_id, size=size, charset=used, lease=settings.import_lease_seconds)
    print(f"import {import_id}: {path.name} ({size} bytes, {file_format}{', ' + used if used else ''}), "
          f"{kind}{' — dry run, nothing is written' if dry_run else ''}", file=sys.stderr)
    with tqdm(unit=" rows", file=sys.stderr, dynamic_ncols=True) as bar:
        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        await import_runner.process(conn, record, secret=settings.secret_key.get_secret_value().encode(),
                                    zone=settings.timezone, lease=settings.import_lease_seconds, progress=progress)
    found = await imports.get(conn, import_id=import_id)
    if found is None:
        raise RuntimeError(f"import {import_id} vanished while it ran")
    c = found.counts
    print(f"{c.read} rows: {c.written} written, {c.present} already present, {c.duplicate} repeated in the file, "
          f"{c.refused} refused", file=sys.stderr)
    for error in found.errors[:SHOWN_ERRORS]:
        print(f"  row {error.row}, {error.column or 'the row'}: {error.reason}", file=sys.stderr)
    if c.refused > SHOWN_ERRORS:
        print(f"  … and {c.refused - SHOWN_ERRORS} more: GET /v1/imports/{import_id}/errors.csv", file=sys.stderr)
    return 0 if c.refused == 0 else 1
