"""Situation reports: issue one (sitrep.issued), preview one, read and list them.

A report's figures come from one snapshot, and the report names the event-stream position that
snapshot saw: every event of the incident at or before it is counted, none after it. Positions order
events by (transaction id, event id), but transactions commit out of that order, so a snapshot taken
at an arbitrary moment may see a transaction's events while missing an older transaction's, still
running, that will commit later with a smaller position. Such a snapshot has no exact position, so
issue() refuses it and tries again with a fresh one: a snapshot is exact when the incident's last
visible event belongs to a transaction older than every transaction still running (its txid is
below the snapshot's xmin), because then every smaller position is already decided.

Under a steady stream of concurrent writes such a moment may not come by itself, so the report makes
one: it holds the write fence (db.WRITE_FENCE) exclusively on a second connection while it takes
and reads its snapshot. Every write transaction passes the fence as its first statement, before it
has a transaction id; so once the fence is held the writes in flight have finished and the next ones
wait without an id, and the snapshot is exact unless some unfenced transaction is running (it is then
tried again). Writes wait for the report's reads (tens of milliseconds); the fence waits at most
FENCE_WAIT_SECONDS for the writes in flight, so a long write never stalls the others behind a report
for longer than that. After WAIT_SECONDS without an exact snapshot the caller gets a 503 to retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

import asyncpg

from models.sitreps import (
    Change,
    Issuer,
    OpenNeed,
    PreviousReport,
    Sitrep,
    SitrepCreate,
    SitrepFigures,
    SitrepIncident,
    SitrepKind,
    SitrepListItem,
    TeamOnSite,
    remaining,
)
from relief import db, events, impacts, summary
from relief.auth import Principal
from relief.errors import InvalidState, NotFound, Unavailable

WAIT_SECONDS = 10.0
FENCE_WAIT_SECONDS = 1.0
T = TypeVar("T")


class NotExact(Exception):
    """This snapshot has no exact stream position; take another (see the module's docstring)."""


async def foreign_transactions(conn: asyncpg.Connection) -> list[int]:
    """The transactions running now in the server's other databases. Transaction ids are the server's,
    so theirs sit in this database's snapshots too, but they can write no event here: read before the
    report's snapshot, they are the running transactions exact_position may pass over. (Without the
    right to read other sessions' backend_xid the list is empty, and the check only gets stricter.)"""
    return await conn.fetchval(
        """
        select coalesce(array_agg(backend_xid::text::bigint), '{}') from pg_stat_activity
         where datname is distinct from current_database() and backend_xid is not null
        """
    )


async def exact_position(conn: asyncpg.Connection, incident_id: UUID, foreign: Sequence[int] = ()) -> str:
    """The stream position of the current snapshot for this incident, or NotExact. Call it first in a
    repeatable-read transaction, so it judges the snapshot every later read uses; `foreign` from
    foreign_transactions(), read before that transaction began."""
    row = await conn.fetchrow(
        """
        select pg_current_xact_id_if_assigned()::text::bigint as own, e.txid, e.id,
               (select count(*) from pg_snapshot_xip(pg_current_snapshot()) x
                 where x::text::bigint < e.txid and x::text::bigint <> all($2::bigint[])) as blockers
          from (select 1) one
          left join lateral (
                select txid::text::bigint as txid, id from events
                 where incident_id = $1 order by txid desc, id desc limit 1) e on true
        """,
        incident_id, list(foreign),
    )
    if row["txid"] is None:
        return "0-0"
    # Events of the caller's own transaction count too: only a caller that made the incident in it
    # (the demo) has any before this check, and no other transaction can write an incident it cannot see.
    if row["blockers"] and row["txid"] != row["own"]:
        raise NotExact
    return events.encode_position(row["txid"], row["id"])


@asynccontextmanager
async def write_fence(pool: asyncpg.Pool, *, wait_seconds: float = FENCE_WAIT_SECONDS) -> AsyncIterator[bool]:
    """Hold the write fence exclusively for the block (see the module's docstring). Yields False,
    holding nothing, when the writes in flight did not finish within `wait_seconds` (0: do not take
    it): the report then goes on without it (and is exact only if its snapshot turns out to be)."""
    if wait_seconds <= 0:
        yield False
        return
    try:
        fence = await pool.acquire(timeout=wait_seconds)  # a busy pool is no reason to wait longer
    except TimeoutError:
        yield False
        return
    try:
        held = False
        transaction = fence.transaction()
        await transaction.start()
        try:
            await fence.execute(f"set local lock_timeout = {int(wait_seconds * 1000)}")
            try:
                await fence.execute("select pg_advisory_xact_lock($1)", db.WRITE_FENCE)
                held = True
            except asyncpg.LockNotAvailableError:
                pass
            yield held
        finally:
            await transaction.rollback()  # it wrote nothing; ending it releases the fence
    finally:
        await pool.release(fence)


async def retrying(attempt: Callable[[], Awaitable[T]], *, wait_seconds: float = WAIT_SECONDS) -> T:
    """Run `attempt` (one repeatable-read transaction) until its snapshot is exact and its number
    free: a concurrent report taking the same number, or a serialization failure, tries again too."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.002
    while True:
        try:
            return await attempt()
        except (NotExact, asyncpg.SerializationError, asyncpg.UniqueViolationError):
            if time.monotonic() > deadline:
                raise Unavailable(
                    "the incident is too busy to take an exact snapshot right now; retry the report"
                ) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)


async def _incident(conn: asyncpg.Connection, incident_id: UUID) -> SitrepIncident:
    row = await conn.fetchrow(
        "select id, code, title, type, severity, status, regions, started_at from incidents where id = $1",
        incident_id,
    )
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return SitrepIncident.model_validate(dict(row))


async def _open_needs(conn: asyncpg.Connection, incident_id: UUID) -> list[OpenNeed]:
    rows = await conn.fetch(
        """
        select id as call_id, title, kind, item, unit, currency, skill, priority, requested, committed,
               delivered, deadline
          from calls where incident_id = $1 and status = 'open' and committed < requested
         order by case priority when 'critical' then 0 when 'high' then 1 when 'medium' then 2 else 3 end,
                  created_at, id
        """,
        incident_id,
    )
    return [OpenNeed(**dict(r), remaining=remaining(r["requested"], r["committed"])) for r in rows]


async def _teams_on_site(conn: asyncpg.Connection, incident_id: UUID) -> list[TeamOnSite]:
    rows = await conn.fetch(
        """
        select d.organization_id, o.name as organization_name, count(*) as on_site
          from deployments d join organizations o on o.id = d.organization_id
         where d.incident_id = $1 and d.checked_out_at is null
         group by d.organization_id, o.name order by o.name, d.organization_id
        """,
        incident_id,
    )
    return [TeamOnSite.model_validate(dict(r)) for r in rows]


def flatten(figures: SitrepFigures) -> dict[str, Decimal]:
    """The figures a change list compares, by a path that names each one."""
    s = figures.summary
    out: dict[str, Decimal] = {}
    for m in s.money:
        out[f"money.pledged.{m.currency}"] = m.pledged
        out[f"money.received.{m.currency}"] = m.received
    for u in s.use.money:
        out[f"money.paid.{u.currency}"] = u.paid
    for g in s.goods.items:
        out[f"goods.pledged.{g.item}.{g.unit}"] = g.pledged
        out[f"goods.received.{g.item}.{g.unit}"] = g.received
    for gu in s.use.goods:
        out[f"goods.distributed.{gu.item}.{gu.unit}"] = gu.distributed
        out[f"goods.on_hand.{gu.item}.{gu.unit}"] = gu.on_hand
    out["personnel.pledged"] = s.personnel.pledged
    out["personnel.delivered"] = s.personnel.delivered
    for name in ("evacuated", "sheltered_now", "returned"):
        out[f"residents.{name}"] = getattr(s.residents, name)
    out["field.on_site"] = s.field.on_site
    out["field.person_hours"] = s.field.person_hours
    out["tasks.people_rescued"] = s.tasks.people_rescued
    out["tasks.people_transferred"] = s.tasks.people_transferred
    out["needs.open"] = Decimal(len(figures.open_needs))
    for i in figures.impacts:
        who = f".{i.organization_id}" if i.organization_id else ""  # by id: a name may change or repeat
        out[f"impacts.{i.region}.{i.figure}.{i.source}{who}"] = i.value
    return out


def changes(previous: SitrepFigures | None, current: SitrepFigures) -> list[Change]:
    """What moved since `previous`: figures that differ, appeared or went (every figure for the first)."""
    before = flatten(previous) if previous is not None else {}
    after = flatten(current)
    out = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is not None and new is not None and old == new:
            continue
        out.append(Change(figure=path, previous=old, current=new,
                          delta=new - old if old is not None and new is not None else None))
    return out


async def _previous(conn: asyncpg.Connection, incident_id: UUID) -> Sitrep | None:
    document = await conn.fetchval(
        "select document from sitreps where incident_id = $1 order by number desc limit 1", incident_id
    )
    return Sitrep.model_validate_json(document) if document is not None else None


async def compose(conn: asyncpg.Connection, *, incident_id: UUID, time_zone: str, bureau: str
                  ) -> tuple[SitrepFigures, Sitrep | None]:
    """Every figure of a report, read in the caller's snapshot (a repeatable-read transaction), and the
    report before it."""
    incident = await _incident(conn, incident_id)
    figures = await summary.summary(conn, incident_id=incident_id)  # joins the caller's snapshot
    current = await impacts.current(conn, incident_id=incident_id)
    for item in current.items:
        if item.source == "relief":  # Relief's own count holds at the report's moment
            item.as_of = figures.as_of
    previous = await _previous(conn, incident_id)
    composed = SitrepFigures(
        incident=incident, as_of=figures.as_of, time_zone=time_zone, bureau=bureau, summary=figures,
        impacts=current.items, open_needs=await _open_needs(conn, incident_id),
        teams_on_site=await _teams_on_site(conn, incident_id),
        previous=(PreviousReport(id=previous.id, number=previous.number, kind=previous.kind,
                                 issued_at=previous.issued_at) if previous else None),
        changes=[],
    )
    composed.changes = changes(previous.figures if previous else None, composed)
    return composed, previous


async def issue(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: SitrepCreate,
                time_zone: str, bureau: str, at: datetime | None = None, foreign: Sequence[int] = ()
                ) -> tuple[Sitrep, str]:
    """Freeze a report (call it inside a repeatable-read transaction that has read nothing yet, or only
    claimed its idempotency key; see retrying()). Returns the report and its JSON, as stored.

    `at` dates the report and its figures (the demo's reports, inside its July 2023 incident); the API
    never passes it: a report is dated by the snapshot it was read in."""
    position = await exact_position(conn, incident_id, foreign)
    figures, previous = await compose(conn, incident_id=incident_id, time_zone=time_zone, bureau=bureau)
    if at is not None:
        figures.as_of = figures.summary.as_of = at
        for item in figures.impacts:
            if item.source == "relief":
                item.as_of = at
    number = previous.number + 1 if previous else 1
    if data.kind == SitrepKind.initial and previous is not None:
        raise InvalidState(f"report {previous.number} was issued already: only the first report is initial; "
                           "issue an update or a verified report", state="issued")
    if data.kind != SitrepKind.initial and previous is None:
        raise InvalidState("the first report of an incident is its initial report (初报)", state="none")
    row = await conn.fetchrow("select gen_random_uuid() as id, now() as at")
    sitrep = Sitrep(
        id=row["id"], incident_id=incident_id, number=number, kind=data.kind, narrative=data.narrative,
        issued_by=Issuer(key_id=actor.key_id, name=actor.name or str(actor.role)), issued_at=at or row["at"],
        position=position, figures=figures,
    )
    document = sitrep.model_dump_json()
    await conn.execute(
        """
        insert into sitreps (id, incident_id, number, kind, issued_by, issued_by_name, issued_at, position, document)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        sitrep.id, incident_id, number, str(data.kind), actor.key_id, sitrep.issued_by.name, sitrep.issued_at,
        position, document,
    )
    await events.emit(conn, type="sitrep.issued", actor=actor, entity_type="sitrep", entity_id=sitrep.id,
                      incident_id=incident_id, after=sitrep)
    return sitrep, document


async def preview(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, kind: SitrepKind | None,
                  narrative: str, time_zone: str, bureau: str) -> Sitrep:
    """What issuing now would freeze, issuing nothing: the next number, the figures, the changes."""
    foreign = await foreign_transactions(conn)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        position = await exact_position(conn, incident_id, foreign)
        figures, previous = await compose(conn, incident_id=incident_id, time_zone=time_zone, bureau=bureau)
        at = await conn.fetchval("select now()")
    number = previous.number + 1 if previous else 1
    return Sitrep(
        id=UUID(int=0), incident_id=incident_id, number=number,
        kind=kind or (SitrepKind.initial if previous is None else SitrepKind.update), narrative=narrative,
        issued_by=Issuer(key_id=actor.key_id, name=actor.name or str(actor.role)), issued_at=at,
        position=position, figures=figures,
    )


async def document(conn: asyncpg.Connection, *, sitrep_id: UUID) -> tuple[UUID, str] | None:
    """A report's incident and its JSON exactly as frozen."""
    row = await conn.fetchrow("select incident_id, document from sitreps where id = $1", sitrep_id)
    return (row["incident_id"], row["document"]) if row else None


async def list_sitreps(conn: asyncpg.Connection, *, incident_id: UUID) -> list[SitrepListItem]:
    rows = await conn.fetch(
        """
        select id, incident_id, number, kind, issued_by, issued_by_name, issued_at, position
          from sitreps where incident_id = $1 order by number desc
        """,
        incident_id,
    )
    return [SitrepListItem(id=r["id"], incident_id=r["incident_id"], number=r["number"], kind=r["kind"],
                           issued_by=Issuer(key_id=r["issued_by"], name=r["issued_by_name"]),
                           issued_at=r["issued_at"], position=r["position"]) for r in rows]


async def latest_public(conn: asyncpg.Connection, *, incident_id: UUID) -> tuple[str, bool] | None:
    """The report the public page shows: the latest verified one, else the latest (provisional)."""
    row = await conn.fetchrow(
        """
        select document, kind = 'verified' as verified from sitreps where incident_id = $1
         order by kind = 'verified' desc, number desc limit 1
        """,
        incident_id,
    )
    return (row["document"], not row["verified"]) if row else None


__all__ = ["NotExact", "compose", "document", "issue", "latest_public", "list_sitreps", "preview", "retrying"]
