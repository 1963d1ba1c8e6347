"""Pledges on one call, coalesced: the requests that arrive while a batch commits form the next batch.

A hot call's row allows one commit at a time, and a commit waits for the disk: pledge by pledge, no
number of connections gets past one commit per pledge. Here the pledges that queue up behind a batch
are applied together in one transaction, so the commit (and the row's lock) is paid once per batch,
not once per pledge (TigerBeetle's lesson). There is no added wait: a pledge on an idle call starts its
batch at once, alone; the next batch forms only from what arrived while this one was committing.

In one batch's transaction, in arrival order:
1. every pledge's Idempotency-Key is claimed (one statement); a key already answered replays its
   answer, one used with another body is refused (422);
2. the call is read, and each pledge checked against what remains after the ones before it: taken
   (201), or refused with the exact `remaining` at its turn (409), or its own validation error (422);
3. the taken pledges, their events, their answers under their keys, the participants and the call's
   counters are written in one statement, guarded on the call being as it was read (another replica's
   batch in between sends us back to 2); refused pledges' keys are let go;
4. commit, and only then is each request answered. A crash after the commit loses no answer: the
   keys replay it.

One bad pledge never fails the others. If a batch fails for any other reason, each of its pledges is
run again alone (relief/pledges.py's create), so each still gets its own answer. Two requests with the
same key never share a batch (the second goes in the next one, where it replays or runs). Several
replicas each coalesce their own requests; the guarded write orders their batches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import asyncpg
import structlog

from models.calls import CallStatus
from models.pledges import Pledge, PledgeCreate
from relief import db, events, idempotency, pledges
from relief.auth import Principal
from relief.errors import Invalid, NotFound, ReliefError

log = structlog.get_logger("relief.pledges")

# A batch this large commits in a few milliseconds more than one pledge; past it, the next batch waits.
MAX_BATCH = 256
# Claiming fresh keys never waits on a lock; one that does is a retry of a request still running
# elsewhere. The batch then gives way: its pledges run alone, and that one waits its turn (as ever).
CLAIM_SECONDS = 1.0
# Another replica's batch between our read and our write sends us back to read; this many times, then
# the pledges run alone.
GUARD_ATTEMPTS = 20

CLAIM = f"""
with fence as ({db.FENCE_SHARED})
insert into idempotency_keys (scope, key, fingerprint)
select u.scope, u.key, u.fingerprint
  from fence, unnest($1::text[], $2::text[], $3::bytea[]) with ordinality as u(scope, key, fingerprint, n)
 order by u.n
on conflict (scope, key) do nothing
returning scope, key
"""

STORED = """
select k.scope, k.key, k.fingerprint, k.status, k.body, k.location
  from idempotency_keys k join unnest($1::text[], $2::text[]) as u(scope, key) using (scope, key)
"""

READ = """
select kind, currency, unit, status, incident_id, requested, committed, allow_overpledge, now() as now,
       (select coalesce(jsonb_object_agg(id::text, name), '{}'::jsonb)
          from organizations where id = any($2::uuid[])) as names
  from calls where id = $1
"""

# Everything a batch writes, in one round trip, only if the call is still as READ saw it.
WRITE = f"""
with counted as (
    update calls
       set committed = committed + $2, committed_value = committed_value + $3, updated_at = now()
     where id = $1 and status = 'open' and committed = $4 and requested = $5 and allow_overpledge = $6
    returning id
), pledged as (
    insert into pledges (id, call_id, incident_id, organization_id, kind, quantity, currency, unit,
                         estimated_value, available_from, available_until, lead, note)
    select u.id, $1, $7, u.org, $8, u.quantity, $9, $10, u.value, u.available_from, u.available_until,
           u.lead::jsonb, u.note
      from counted, unnest($11::uuid[], $12::uuid[], $13::numeric[], $14::numeric[], $15::timestamptz[],
                           $16::timestamptz[], $17::text[], $18::text[]) with ordinality
           as u(id, org, quantity, value, available_from, available_until, lead, note, n)
     order by u.n
    returning id
), joined as (
    -- An organization takes part in the incident from its first pledge on.
    insert into incident_participants (incident_id, organization_id)
    select $7, o from counted, unnest($19::uuid[]) as o
    on conflict do nothing
    returning organization_id
), participants as (
    insert into incident_counters (incident_id, name, key, value)
    select $7, 'participants', '', count(*) from joined having count(*) > 0
    on conflict (incident_id, name, key) do update set value = incident_counters.value + excluded.value
), logged as (
    insert into events ({events.COLUMNS})
    select 'pledge.created', 'pledge', u.id, $7, u.org, u.key_id, u.role, u.org, null, u.after::jsonb
      from counted, unnest($11::uuid[], $12::uuid[], $20::uuid[], $21::text[], $22::text[]) with ordinality
           as u(id, org, key_id, role, after, n)
     order by u.n
    returning id
), answered as (
    update idempotency_keys k set status = 201, body = u.body, location = u.location
      from counted, unnest($23::text[], $24::text[], $25::bytea[], $26::text[]) as u(scope, key, body, location)
     where k.scope = u.scope and k.key = u.key
    returning 1
)
select (select count(*) from counted) as counted, (select count(*) from pledged) as pledged,
       (select count(*) from logged) as logged, (select count(*) from answered) as answered
"""

RELEASE = """
delete from idempotency_keys k using unnest($1::text[], $2::text[]) as u(scope, key)
 where k.scope = u.scope and k.key = u.key
"""


@dataclass
class Ask:
    """One request's pledge, waiting for its answer."""

    actor: Principal
    data: PledgeCreate
    scope: str
    key: str
    fingerprint: bytes
    answer: asyncio.Future[idempotency.Response] = field(repr=False)


Outcome = idempotency.Response | ReliefError


def created(pledge: Pledge) -> idempotency.Response:
    return idempotency.Response(201, pledge.model_dump_json().encode(), f"/v1/pledges/{pledge.id}")


class Coalescer:
    """Per process: a queue per call, and at most one batch of each call's pledges in flight."""

    # Called after a batch commits and before its answers go out, with the batch's size: the fault
    # tests kill the process there, to show that the keys replay what the dead process never said.
    after_commit: ClassVar[Callable[[int], Awaitable[None]] | None] = None

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = MAX_BATCH) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self.queues: dict[UUID, list[Ask]] = {}
        self.tasks: dict[UUID, asyncio.Task[None]] = {}
        self.sizes: Counter[int] = Counter()  # batches by size, since start (the tests look; so may /metrics)

    async def pledge(self, *, actor: Principal, call_id: UUID, data: PledgeCreate, scope: str, key: str,
                     fingerprint: bytes) -> idempotency.Response:
        """The pledge's answer (201 or a replay), or the error it was refused with, raised."""
        pledges.check_pledger(actor)
        answer: asyncio.Future[idempotency.Response] = asyncio.get_running_loop().create_future()
        # Retrieved even when nobody waits any more (a client that left): no "never retrieved" noise.
        answer.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.queues.setdefault(call_id, []).append(Ask(actor, data, scope, key, fingerprint, answer))
        if call_id not in self.tasks:
            self.tasks[call_id] = asyncio.create_task(self._drain(call_id), name=f"relief-pledges-{call_id}")
        # A client that leaves does not take its pledge back: the batch goes on, and the key replays it.
        return await asyncio.shield(answer)

    async def close(self) -> None:
        """Let the batches in flight finish (their requests are being answered)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks.values()))

    async def _drain(self, call_id: UUID) -> None:
        try:
            while self.queues.get(call_id):
                batch = self._next_batch(call_id)
                outcomes = await self._run(call_id, batch)
                for ask, outcome in zip(batch, outcomes, strict=True):
                    if ask.answer.done():
                        continue
                    if isinstance(outcome, BaseException):
                        ask.answer.set_exception(outcome)
                    else:
                        ask.answer.set_result(outcome)
        finally:
            # No await between the loop's last look at the queue and here: nothing can slip in unseen.
            del self.tasks[call_id]
            if not self.queues.get(call_id):
                self.queues.pop(call_id, None)

    def _next_batch(self, call_id: UUID) -> list[Ask]:
        """The oldest asks, up to max_batch, each key once (a repeat waits for the next batch)."""
        queue = self.queues[call_id]
        batch: list[Ask] = []
        rest: list[Ask] = []
        keys: set[tuple[str, str]] = set()
        for ask in queue:
            if len(batch) < self.max_batch and (ask.scope, ask.key) not in keys:
                keys.add((ask.scope, ask.key))
                batch.append(ask)
            else:
                rest.append(ask)
        self.queues[call_id] = rest
        return batch

    async def _run(self, call_id: UUID, batch: list[Ask]) -> list[Outcome | BaseException]:
        try:
            async with self.pool.acquire() as conn:
                outcomes = await apply(conn, call_id, batch)
                self.sizes[len(batch)] += 1
                if self.after_commit is not None:
                    await self.after_commit(len(batch))
                return outcomes
        except Exception as exc:
            if db.unavailable(exc):
                return [exc] * len(batch)  # 503 for each: nothing was taken, and the retries run again
            if not isinstance(exc, _GiveWay):
                log.exception("pledge_batch_failed", call_id=str(call_id), pledges=len(batch))
            return [await self._alone(call_id, ask) for ask in batch]

    async def _alone(self, call_id: UUID, ask: Ask) -> Outcome | BaseException:
        """The pledge on its own, as if it had never been batched."""
        try:
            async with self.pool.acquire() as conn:
                return await idempotency.run_once(conn, scope=ask.scope, key=ask.key, fingerprint=ask.fingerprint,
                                                  work=alone(ask.actor, call_id, ask.data))
        except Exception as exc:  # the request's own answer: its problem, or its 503
            return exc


def alone(actor: Principal, call_id: UUID, data: PledgeCreate) -> idempotency.Work:
    """One pledge in its own transaction (idempotency.run_once's work): its answer is stored before the
    call's row is locked, so the lock is held for the last statement and the commit only."""

    async def work(conn: asyncpg.Connection, store: idempotency.Store) -> idempotency.Response:
        async def answer_first(pledge: Pledge) -> None:
            await store(created(pledge))

        return created(await pledges.create(conn, actor=actor, call_id=call_id, data=data, before_write=answer_first))

    return work


class _GiveWay(Exception):
    """The batch steps aside for its pledges to run alone (a key held by a request still running, or
    the call changing under every attempt): not a fault."""


async def apply(conn: asyncpg.Connection, call_id: UUID, batch: list[Ask]) -> list[Outcome]:
    """Apply `batch` (distinct keys, in arrival order) in one transaction: each ask's outcome."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    async with conn.transaction():
        try:
            claimed = await conn.fetch(CLAIM, [a.scope for a in batch], [a.key for a in batch],
                                       [a.fingerprint for a in batch], timeout=CLAIM_SECONDS)
        except TimeoutError:
            raise _GiveWay("a key is held by a request still running") from None
        mine = {(r["scope"], r["key"]) for r in claimed}
        earlier = [i for i, a in enumerate(batch) if (a.scope, a.key) not in mine]
        if earlier:
            await _replay(conn, batch, earlier, outcomes)
        live = [i for i in range(len(batch)) if outcomes[i] is None]
        if live:
            refused = await _take(conn, call_id, batch, live, outcomes)
            if refused:
                await conn.execute(RELEASE, [batch[i].scope for i in refused], [batch[i].key for i in refused])
    if any(outcome is None for outcome in outcomes):
        raise RuntimeError("a pledge in the batch was left without an answer")  # after commit: run alone, replay
    return outcomes  # type: ignore[return-value]


async def _replay(conn: asyncpg.Connection, batch: list[Ask], earlier: list[int],
                  outcomes: list[Outcome | None]) -> None:
    """Keys answered before: their answer again, or 422 for a key reused with another request."""
    rows = await conn.fetch(STORED, [batch[i].scope for i in earlier], [batch[i].key for i in earlier])
    stored = {(r["scope"], r["key"]): r for r in rows}
    for i in earlier:
        ask = batch[i]
        row = stored.get((ask.scope, ask.key))
        if row is None or row["status"] is None:
            # Claimed and let go, or still being written elsewhere, between the two statements.
            raise _GiveWay("a key changed hands during the batch")
        if row["fingerprint"] != ask.fingerprint:
            outcomes[i] = Invalid(
                f"Idempotency-Key {ask.key!r} was already used with a different request",
                errors=[{"parameter": "Idempotency-Key", "detail": "reused with a different body or path"}],
            )
        else:
            outcomes[i] = idempotency.Response(row["status"], bytes(row["body"]), row["location"], replayed=True)


async def _take(conn: asyncpg.Connection, call_id: UUID, batch: list[Ask], live: list[int],
                outcomes: list[Outcome | None]) -> list[int]:
    """Check the live asks in order against the call and write the ones taken; the refused indexes."""
    organizations = sorted({str(batch[i].actor.organization_id) for i in live})
    for _attempt in range(GUARD_ATTEMPTS):
        call = await conn.fetchrow(READ, call_id, organizations)
        decided = _decide(call_id, call, batch, live)
        taken = [(i, p) for i, p in decided.items() if isinstance(p, Pledge)]
        if not taken or await _write(conn, call_id, call, batch, taken):
            for i, outcome in decided.items():
                outcomes[i] = created(outcome) if isinstance(outcome, Pledge) else outcome
            return [i for i, outcome in decided.items() if not isinstance(outcome, Pledge)]
    raise _GiveWay("the call changed under every attempt")


def _decide(call_id: UUID, call: asyncpg.Record | None, batch: list[Ask],
            live: list[int]) -> dict[int, Pledge | ReliefError]:
    """Each live ask's fate, in order, against what the call still needs after the ones before it."""
    if call is None or call["status"] == CallStatus.draft:
        return {i: NotFound(f"call {call_id} does not exist") for i in live}
    committed: Decimal = call["committed"]
    fates: dict[int, Pledge | ReliefError] = {}
    for i in live:
        ask = batch[i]
        try:
            quantity = pledges.quantity_of(call, ask.data)
        except Invalid as exc:
            fates[i] = exc
            continue
        fits = call["allow_overpledge"] or committed + quantity <= call["requested"]
        if call["status"] != CallStatus.open or not fits:
            fates[i] = pledges.refusal(call["status"], call["requested"] - committed)
            continue
        committed += quantity
        name = call["names"].get(str(ask.actor.organization_id))
        fates[i] = pledges.new_pledge(call_id, call, ask.actor, ask.data, quantity, name)
    return fates


async def _write(conn: asyncpg.Connection, call_id: UUID, call: asyncpg.Record, batch: list[Ask],
                 taken: list[tuple[int, Pledge]]) -> bool:
    """Write the taken pledges, if the call is still as read; False sends the batch back to read."""
    pledged = [p for _, p in taken]
    rows: list[list[Any]] = [pledges.created_event(batch[i].actor, p) for i, p in taken]
    answers = [created(p) for p in pledged]
    counts = await conn.fetchrow(
        WRITE,
        call_id,
        sum((p.quantity for p in pledged), Decimal(0)),
        sum((p.estimated_value or Decimal(0) for p in pledged), Decimal(0)),
        call["committed"], call["requested"], call["allow_overpledge"],
        call["incident_id"], call["kind"], call["currency"], call["unit"],
        [p.id for p in pledged],
        [p.organization_id for p in pledged],
        [p.quantity for p in pledged],
        [p.estimated_value for p in pledged],
        [p.available_from for p in pledged],
        [p.available_until for p in pledged],
        [db.dumps(p.lead) if p.lead is not None else None for p in pledged],
        [p.note for p in pledged],
        sorted({p.organization_id for p in pledged}),
        [row[5] for row in rows],  # actor_key_id
        [row[6] for row in rows],  # actor_role
        [db.dumps(row[9]) for row in rows],  # after
        [batch[i].scope for i, _ in taken],
        [batch[i].key for i, _ in taken],
        [a.body for a in answers],
        [a.location for a in answers],
    )
    if not counts["counted"]:
        return False
    if not (counts["pledged"] == counts["logged"] == counts["answered"] == len(taken)):
        raise RuntimeError(f"a batch of {len(taken)} pledges wrote {dict(counts)}")  # rolls the batch back
    return True


__all__ = ["MAX_BATCH", "Ask", "Coalescer", "alone", "apply", "created"]
