"""The `relief` command: serve, deliver webhooks, migrate, and manage API keys."""

from __future__ import annotations

import argparse
import asyncio
import base64
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import structlog
from pydantic import ValidationError

from models.keys import Role
from relief import db, embedded, import_runner, incidents, keys, waits
from relief import logging as relief_logging
from relief.auth import SYSTEM
from relief.errors import ReliefError
from relief.settings import Settings

log = structlog.get_logger("relief.cli")

DATABASE_WAIT_SECONDS = 60


def database_url(settings: Settings) -> str:
    """RELIEF_DATABASE_URL, or the embedded server under the data folder when it is unset."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded.database_url(settings.data_dir)


async def _migrate(url: str) -> list[str]:
    conn = await db.wait_for_database(url, timeout=DATABASE_WAIT_SECONDS)
    try:
        return await db.migrate(conn)
    finally:
        await conn.close()


def serve(settings: Settings) -> int:
    """Migrate, then serve until SIGTERM/SIGINT; in-flight requests finish first."""
    from relief.app import CannotListen, create_app
    from relief.app import serve as serve_app

    url = database_url(settings)
    applied = asyncio.run(_migrate(url))
    log.info("migrations_checked", applied=applied)
    announce(settings)
    loaded = _demo_if_empty(settings, url) if settings.demo else None
    app = create_app(settings, database_url=url)
    log.info("starting", env=settings.env, database=db.mask_url(url))

    def ready(listening: str) -> None:
        # After the listener is up: where to point a browser. On stdout for a person (a terminal, or after
        # the demo's keys); a service manager's pipe gets only the log, whose `serving` line says it too.
        if loaded is None and not sys.stdout.isatty():
            return
        base = settings.public_url.rstrip("/") if settings.public_url else listening
        print(f"Relief is ready: console {base}/", flush=True)
        if loaded is not None:
            print(f"public page of the demo incident: {base}/public/incidents/{loaded}", flush=True)

    try:
        asyncio.run(serve_app(app, settings, ready=ready))
    except CannotListen as exc:
        print(f"relief: {exc}", file=sys.stderr)
        return 1
    log.info("stopped")
    return 0


def announce(settings: Settings) -> None:
    """Say at start what the settings allow that an operator should know of (a warning where it is risky)."""
    if settings.webhook_allow_private:
        if settings.production:
            log.warning("webhooks_to_private_addresses",
                        detail="RELIEF_WEBHOOK_ALLOW_PRIVATE is on: webhooks may reach loopback and private addresses")
        else:
            log.info("webhooks_to_private_addresses",
                     detail="development: webhooks may go to loopback and private addresses (a receiver on this "
                     "machine); RELIEF_WEBHOOK_ALLOW_PRIVATE=false refuses them, as production does")
    if settings.production and settings.public_url is None:
        log.warning("public_url_unset", detail="RELIEF_PUBLIC_URL is unset: the cookie's Secure flag, HSTS and the "
                    "console's Origin check follow each request (through RELIEF_TRUSTED_PROXIES)")
    elif settings.production and settings.public_url.startswith("http://"):
        log.warning("public_url_not_https", public_url=settings.public_url,
                    detail="the console's cookie is not Secure and no HSTS is sent: sign-ins cross the network "
                    "in clear; serve https (at a proxy) on anything but a closed intranet")
    if settings.trusted_proxy_hops and not settings.trusted_proxies:
        log.warning("trusted_proxy_hops_from_any_peer",
                    detail="RELIEF_TRUSTED_PROXY_HOPS without RELIEF_TRUSTED_PROXIES: X-Forwarded-For is believed "
                    "from any peer (for per-address limits), X-Forwarded-Proto and -Host from none; list the proxies")


def worker(settings: Settings) -> int:
    """Deliver webhooks until SIGTERM/SIGINT: attempts in flight finish, the rest are released."""
    from notifications.worker import Worker

    url = database_url(settings)
    applied = asyncio.run(_migrate(url))
    log.info("migrations_checked", applied=applied)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        delivery = Worker(settings, url)
        await delivery.start()
        # Imports are taken up by workers too (any replica or worker may run one): a pool of its own.
        imports_pool = await db.create_pool(url, min_size=0, max_size=2, timeout=settings.db_connect_timeout)
        runner = import_runner.ImportWatch(imports_pool, url, secret=settings.secret_key.get_secret_value().encode(),
                                           zone=settings.timezone, lease=settings.import_lease_seconds)
        imports_task = asyncio.create_task(runner.run(), name="relief-imports") if settings.imports_in_process \
            else None
        try:
            await delivery.run(stop)
        finally:
            if imports_task is not None:
                await waits.stop(imports_task)
            await imports_pool.close()
            await delivery.close()

    asyncio.run(run())
    log.info("stopped")
    return 0


def migrate(settings: Settings) -> int:
    applied = asyncio.run(_migrate(database_url(settings)))
    print("\n".join(applied) if applied else "database is up to date")
    return 0


async def _with_conn(url: str, work):  # type: ignore[no-untyped-def]
    conn = await db.wait_for_database(url, timeout=DATABASE_WAIT_SECONDS)
    try:
        await db.migrate(conn)
        return await work(conn)
    finally:
        await conn.close()


def keys_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn):  # type: ignore[no-untyped-def]
        return await keys.create(
            conn, actor=SYSTEM, name=args.name, role=Role(args.role), organization_id=args.org
        )

    created = asyncio.run(_with_conn(database_url(settings), work))
    # The key alone on stdout, so `KEY=$(relief keys create …)` works; the rest goes to the log.
    print(created.key)
    log.info("key_created", key_id=str(created.id), role=str(created.role), prefix=created.prefix)
    return 0


def keys_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn):  # type: ignore[no-untyped-def]
        found, cursor = [], None
        while True:
            page = await keys.list_keys(conn, limit=200, cursor=cursor, include_revoked=args.all)
            found += page.items
            if (cursor := page.next_cursor) is None:
                return found

    every = asyncio.run(_with_conn(database_url(settings), work))
    print(f"{'id':36}  {'role':12}  {'prefix':10}  {'last used':25}  name")
    for key in every:
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        state = " (revoked)" if key.revoked_at else ""
        print(f"{key.id!s:36}  {key.role!s:12}  {key.prefix:10}  {used:25}  {key.name}{state}")
    return 0


def keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn):  # type: ignore[no-untyped-def]
        return await keys.revoke(conn, actor=SYSTEM, key_id=args.id)

    revoked = asyncio.run(_with_conn(database_url(settings), work))
    print(f"revoked {revoked.id} ({revoked.name})")
    return 0


def reconcile(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute every counter from the rows; print differences; exit 1 if there are any."""
    from relief import summary

    async def work(conn):  # type: ignore[no-untyped-def]
        if args.incident is not None:
            await incidents.require(conn, args.incident)
            ids = [args.incident]
        else:
            ids = [r["id"] for r in await conn.fetch("select id from incidents order by created_at, id")]
        found = []
        for number, incident_id in enumerate(ids, 1):
            print(f"reconciling incident {incident_id} ({number}/{len(ids)})", file=sys.stderr)
            found += await summary.reconcile(conn, incident_id=incident_id)
        return ids, found

    ids, differences = asyncio.run(_with_conn(database_url(settings), work))
    for d in differences:
        print(f"{d.incident_id}  {d.counter}[{d.key}]  stored {d.stored}  recomputed {d.recomputed}")
    print(f"{len(ids)} incident(s) checked, {len(differences)} difference(s)")
    return 1 if differences else 0


def verify_ledger(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute every incident's hash chain from the ledger rows; name the first entry that does not match."""
    from relief import chain

    async def work(conn):  # type: ignore[no-untyped-def]
        if args.incident is not None:
            await incidents.require(conn, args.incident)
            ids = [args.incident]
        else:
            ids = [r["id"] for r in await conn.fetch("select id from incidents order by created_at, id")]
        broken = 0
        for number, incident_id in enumerate(ids, 1):
            checked, mismatch = await chain.verify(conn, incident_id=incident_id)
            head = await chain.head(conn, incident_id)
            if mismatch is None:
                print(f"{incident_id}  {checked} entries  head {head.head}  ok ({number}/{len(ids)})", flush=True)
                continue
            broken += 1
            where = f"entry {mismatch.position}" if mismatch.position is not None else "an entry"
            print(f"{incident_id}  MISMATCH at {where} ({mismatch.kind} {mismatch.entry_id}): {mismatch.problem}; "
                  f"{checked} entries before it verify", flush=True)
        return ids, broken

    ids, broken = asyncio.run(_with_conn(database_url(settings), work))
    print(f"{len(ids)} incident(s) checked, {broken} with a broken chain")
    return 1 if broken else 0


def ledger_key() -> int:
    """Print a new Ed25519 key for RELIEF_LEDGER_KEY (stdout, once) and its public key (stderr); it needs no
    settings, so it runs where the service is not configured yet (a production image before its first start)."""
    from relief import chain

    key = chain.new_key()
    signer = chain.Signer.from_setting(key, "")
    print(key)
    print(f"public key {base64.b64encode(signer.public_raw).decode()}  key id {signer.key_id}", file=sys.stderr)
    return 0


def _demo_secret(settings: Settings) -> bytes:
    return settings.secret_key.get_secret_value().encode()


def _print_demo(settings: Settings, result) -> None:  # type: ignore[no-untyped-def]
    """The demo's keys and where to look, on stdout (the keys never go to the log)."""
    base = settings.base_url  # RELIEF_PUBLIC_URL, else this process's own address
    state = "loaded" if result.loaded else "already loaded"
    print(f"Doksuri demo {result.incident_code} {state}")
    print(f"demo dispatcher key: {result.dispatcher_key}")
    print(f"demo approver key: {result.approver_key}  (a second dispatcher: four eyes on disbursements)")
    print(f"demo organization key: {result.organization_key}  ({result.organization_name})")
    print(f"console: {base}/  (sign in with the dispatcher key)")
    print(f"public page: {base}/public/incidents/{result.incident_id}")
    print(f"incident: {base}/v1/incidents/{result.incident_id}")
    print(f"summary: {base}/v1/incidents/{result.incident_id}/summary")
    print(f"use report: {base}/v1/public/incidents/{result.incident_id}/use")
    print(f'try: curl -H "Authorization: Bearer {result.dispatcher_key}" {base}/v1/incidents/{result.incident_id}',
          flush=True)


def _demo_if_empty(settings: Settings, url: str) -> UUID | None:
    """RELIEF_DEMO: load the demo into a database with no incidents at all; never touch real data.
    Returns the demo incident's id when it was loaded."""
    from relief import demo as scenario

    async def work(conn):  # type: ignore[no-untyped-def]
        return await scenario.load_if_empty(conn, secret=_demo_secret(settings), sender=settings.cap_sender)

    result = asyncio.run(_with_conn(url, work))
    if result is None:
        log.info("demo_skipped", reason="the database has incidents; `relief demo` issues fresh demo keys")
        return None
    _print_demo(settings, result)
    return result.incident_id


def demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load the Doksuri demo (once) and print fresh keys for two demo dispatchers and a demo organization."""
    from relief import demo as scenario

    async def work(conn):  # type: ignore[no-untyped-def]
        return await scenario.load(conn, secret=_demo_secret(settings), sender=settings.cap_sender)

    _print_demo(settings, asyncio.run(_with_conn(database_url(settings), work)))
    return 0


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    from models.imports import ImportKind
    from relief import import_cli, import_files

    async def work(conn):  # type: ignore[no-untyped-def]
        return await import_cli.run(conn, settings, path=args.file, incident_id=args.incident,
                                    kind=ImportKind(args.kind), dry_run=args.dry_run, charset=args.charset)

    try:
        return asyncio.run(_with_conn(database_url(settings), work))
    except import_files.Unsupported as exc:
        print(f"relief: {exc}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="relief", description="Relief: disaster relief coordination.")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations, then serve the API")
    commands.add_parser("worker", help="deliver webhooks (run any number, on any machines, on one database)")
    commands.add_parser("migrate", help="apply pending migrations and exit")
    check = commands.add_parser("reconcile", help="recompute every counter from the rows and report differences")
    check.add_argument("--incident", type=UUID, default=None, help="one incident (default: all)")
    verify = commands.add_parser(
        "verify-ledger", help="recompute the ledger's hash chain from its rows; exit 1 naming the first mismatch"
    )
    verify.add_argument("--incident", type=UUID, default=None, help="one incident (default: all)")
    commands.add_parser("ledger-key", help="print a new key for RELIEF_LEDGER_KEY (the ledger head's signing key)")
    commands.add_parser(
        "demo", help="load the Doksuri demo incident (once) and print fresh demo dispatcher, approver and org keys"
    )
    importing = commands.add_parser(
        "import", help="import a spreadsheet (.csv or .xlsx) of residents, evacuations, donations or impact figures"
    )
    importing.add_argument("file", type=Path, help="the .csv (UTF-8 or GB18030) or .xlsx file")
    importing.add_argument("--incident", type=UUID, required=True, help="the incident's id")
    importing.add_argument("--kind", required=True, choices=["residents", "evacuations", "donations", "impacts"])
    importing.add_argument("--dry-run", action="store_true", help="validate every row and write nothing")
    importing.add_argument("--charset", choices=["utf-8", "gb18030"], default=None,
                           help="a CSV's encoding (default: UTF-8 if the file decodes as it, else GB18030)")
    key_commands = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = key_commands.add_parser("create", help="issue a key and print it (once) on stdout")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--org", type=UUID, default=None, help="organization id (role organization)")
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'duty dispatcher'")
    listing = key_commands.add_parser("list", help="list keys (never the secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=UUID)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "ledger-key":
        return ledger_key()
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            print(f"relief: invalid setting {field}: {error['msg']}", file=sys.stderr)
        return 2
    relief_logging.configure(settings)
    try:
        if args.command == "serve":
            return serve(settings)
        if args.command == "worker":
            return worker(settings)
        if args.command == "migrate":
            return migrate(settings)
        if args.command == "reconcile":
            return reconcile(settings, args)
        if args.command == "demo":
            return demo(settings, args)
        if args.command == "verify-ledger":
            return verify_ledger(settings, args)
        if args.command == "import":
            return import_file(settings, args)
        handler = {"create": keys_create, "list": keys_list, "revoke": keys_revoke}[args.keys_command]
        return handler(settings, args)
    except ReliefError as exc:
        print(f"relief: {exc.detail}", file=sys.stderr)
        return 1
    except (*db.UNAVAILABLE_ERRORS,) as exc:
        print(f"relief: the database is unreachable: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
