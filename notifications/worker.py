"""The delivery worker: fans out committed events and sends the deliveries, at least once.

Any number of workers (the one inside `relief serve`, `relief worker` processes on other machines)
share one database and nothing else:
- each holds a session advisory lock (WORKER_LOCK_CLASS, its number) on its own connection; it is
  released the moment the worker dies, however it dies;
- a worker claims due deliveries with FOR UPDATE SKIP LOCKED, stamping its number and a lease; a
  claim whose worker no longer holds its lock, or whose lease ran out, is taken over, so a SIGKILLed
  worker's deliveries go out again at once (with the same webhook-id) instead of being lost;
- LISTEN relief_events (sent by the events trigger) and relief_deliveries (new deliveries, retries)
  wake a worker; it also polls, so a lost notification only delays.
Deliveries are claimed in large breadth-first batches, up to CLAIM_AHEAD × the concurrency held at once:
the next batch waits in `ready` while the current one is sent, so sending never stops for a claim, and a
claim is made only once there is room for at least half a concurrency's worth (a claim's cost is mostly
its scan of what is due, whatever its size). Results are written in batches, one statement per batch,
so a fan-out to thousands of teams costs a few round trips rather than one transaction per delivery.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from notifications import breaker, cap, claims, envelope, fanout, pacing, schedule, sender
from notifications.email import rules as email_rules
from notifications.email.sender import BATCH as _MAIL_BATCH
from notifications.email.sender import Mailer
from notifications.signing import Signer
from relief import db, deliveries, waits, webhooks
from relief.auth import SYSTEM
from relief.sealing import Sealer
from relief.settings import Settings

log = structlog.get_logger("relief.worker")

WORKER_LOCK_CLASS = 0x52454C  # "REL": the first key of every worker's advisory lock
EVENTS_CHANNEL = "relief_events"  # an event was queued for fan-out
DELIVERIES_CHANNEL = "relief_deliveries"  # deliveries were created or put back: every worker may take some
FLUSH_EVERY = 0.05  # seconds results may wait to be written together
FLUSH_AT = 512  # results that are written at once, without waiting for FLUSH_EVERY
CLAIM_AHEAD = 2  # deliveries held (sending, or claimed and waiting for a slot) per unit of concurrency
WAKE_DEBOUNCE = 0.02  # seconds a wake-up waits for others to arrive
@dataclass(frozen=True)
class Job:
    delivery_id: UUID
    webhook_id: UUID
    event_id: int
    attempts: int
    url: str
    destination: str
    body: str
    probe: bool = False  # sent while its destination's breaker is open (notifications/breaker.py)
    content_type: str = "application/json"
    claimed_at: float = 0.0  # time.monotonic() of the claim: an attempt not started while it holds is not made


@dataclass(frozen=True)
class Result:
    job: Job
    outcome: sender.Outcome


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Worker:
    """One delivery worker. `run()` serves until stopped; tests drive `tick()` step by step, with a
    `clock` they control for the retry schedule (signatures always carry the real time)."""

    def __init__(self, settings: Settings, database_url: str, *, clock: Callable[[], datetime] = _utcnow,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.database_url = database_url
        self.clock = clock
        self.rng = rng or random.Random()
        self.number = 0
        self.former_numbers: list[int] = []  # held before a reconnect: results of their claims are still ours
        self.sealer = Sealer(settings.secret_key.get_secret_value())
        self.pool: asyncpg.Pool | None = None
        self.listener: asyncpg.Connection | None = None
        self.client = sender.make_client(
            allow_private=settings.webhook_allow_private,
            connections=settings.webhook_concurrency,
            connect_timeout=settings.webhook_connect_timeout,
            total_timeout=settings.webhook_timeout,
        )
        self.wake = asyncio.Event()
        self.flush_now = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.ready: deque[Job] = deque()  # claimed, waiting for one of the webhook_concurrency slots
        self.claim_batch = max(1, settings.webhook_concurrency // 2)
        # An attempt must end before its claim does (or another worker may send it meanwhile): one not
        # started this long after its claim is left for its claim to run out (the settings keep this > 0).
        self.start_within = settings.webhook_claim_seconds - settings.webhook_timeout - 5
        self.per_destination: Counter[str] = Counter()
        self.gates: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.webhook_destination_concurrency)
        )
        self.results: list[Result] = []
        # (event, for the bureau, format) → body
        self.bodies: dict[tuple[int, bool, str], str] = {}
        self.zone = ZoneInfo(settings.timezone)
        # Per subscription: the sealed secrets a signer was made from, and the signer.
        self.signers: dict[UUID, tuple[tuple[bytes, bytes | None], Signer]] = {}
        self.delivered = 0
        self.failed_attempts = 0
        self._probe_every = timedelta(seconds=settings.webhook_breaker_probe_seconds)
        # Email (notifications/email/): the rules' messages are made at fan-out, sent by mail_loop.
        self.mail_rules = email_rules.Config.of(settings)
        self.mailer = Mailer(settings, lock_class=WORKER_LOCK_CLASS, clock=clock, rng=self.rng)
        self.mail_wake = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.pool = await db.create_pool(self.database_url, min_size=1, max_size=4,
                                         timeout=self.settings.db_connect_timeout)
        await self._listen()
        if not self.mailer.on:
            log.info("email_off", reason="RELIEF_SMTP_HOST is not set: the notification rules send nothing")

    async def _listen(self) -> None:
        listener = await db.connect(self.database_url)
        # A number no live worker holds: the lock is this worker's liveness, seen by all the others.
        # After a reconnect the same number again if it is free, so claims in flight stay ours.
        candidate = self.number or random.randint(1, 2**31 - 1)
        while not await listener.fetchval("select pg_try_advisory_lock($1, $2)", WORKER_LOCK_CLASS, candidate):
            candidate = random.randint(1, 2**31 - 1)
        if self.number and candidate != self.number:
            self.former_numbers.append(self.number)
        await listener.add_listener(EVENTS_CHANNEL, self._notified)
        await listener.add_listener(DELIVERIES_CHANNEL, self._notified)
        self.listener, self.number = listener, candidate
        log.info("worker_listening", worker=self.number)

    def _notified(self, *_: Any) -> None:
        self.wake.set()

    async def close(self) -> None:
        """Let attempts in flight finish (up to the attempt timeout), record them, release the rest."""
        self.ready.clear()  # not started: released below with the rest of this worker's claims
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=self.settings.webhook_timeout + 1)
        for task in self.in_flight:
            task.cancel()
        try:
            await self.flush()
        except Exception as exc:  # its deliveries are sent again once released: at least once holds
            log.warning("worker_final_flush_failed", error=str(exc) or type(exc).__name__)
        with suppress(Exception):
            if self.pool is not None:
                async with self.pool.acquire() as conn:
                    await conn.execute(
                        "update webhook_deliveries set claimed_by = null, claimed_until = null where claimed_by = $1",
                        self.number,
                    )
                    await conn.execute(
                        "update notifications set claimed_by = null, claimed_until = null where claimed_by = $1",
                        self.number,
                    )
        await self.client.aclose()
        if self.listener is not None:
            with suppress(Exception):
                await self.listener.close()  # releases the advisory lock
        if self.pool is not None:
            await self.pool.close()
        log.info("worker_stopped", worker=self.number, delivered=self.delivered, failed_attempts=self.failed_attempts)

    def _pool(self) -> asyncpg.Pool:
        """The pool start() opened; a plain check rather than an assert, which python -O would remove."""
        if self.pool is None:
            raise RuntimeError("the worker is not started: call start() first")
        return self.pool

    async def run(self, stop: asyncio.Event) -> None:
        """Fan out and deliver until `stop` is set. Database outages are waited out, not fatal."""
        flusher = asyncio.create_task(self._flush_loop(), name="relief-worker-flush")
        mail = asyncio.create_task(self._mail_loop(stop), name="relief-worker-email") if self.mailer.on else None
        try:
            while not stop.is_set():
                self.wake.clear()  # before the round: a wake-up during it means look again
                saturated = False
                try:
                    await self._keep_listening()
                    saturated = await self.step()
                    if self._room() < self.claim_batch:
                        wait = self.settings.webhook_poll_interval  # woken when there is room (_finished)
                    else:
                        wait = 0.01 if saturated else await self._idle_wait()
                except Exception as exc:
                    if db.unavailable(exc):  # an outage (a restart, a failover): waited out, a warning
                        log.warning("worker_database_unavailable", error=str(exc) or type(exc).__name__)
                    else:  # a bug must not silently end deliveries: log it, back off, go on
                        log.exception("worker_round_failed")
                    wait = self.settings.webhook_poll_interval
                stopping = asyncio.ensure_future(stop.wait())
                woken = asyncio.ensure_future(self.wake.wait())
                await asyncio.wait({stopping, woken}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for future in (stopping, woken):
                    future.cancel()
                if self.wake.is_set() and not stop.is_set() and not saturated:
                    # Under a burst of writes every commit notifies: gather a few before the next
                    # round instead of running one per event (it costs the API's CPU).
                    await asyncio.sleep(WAKE_DEBOUNCE)
        finally:
            await waits.stop(flusher)  # close() writes what is left, after the attempts in flight end
            if mail is not None:  # a message being sent is sent again by the next worker: at least once
                await waits.stop(mail)

    async def _mail_loop(self, stop: asyncio.Event) -> None:
        """Send due email beside the deliveries (an SMTP server's slowness never holds webhooks back)."""
        while not stop.is_set():
            self.mail_wake.clear()
            wait = self.settings.webhook_poll_interval
            try:
                if await self.mail_round() >= _MAIL_BATCH:
                    wait = 0
            except Exception as exc:
                if db.unavailable(exc):
                    log.warning("email_database_unavailable", error=str(exc) or type(exc).__name__)
                else:
                    log.exception("email_round_failed")
            await waits.woken(self.mail_wake, wait)

    async def mail_round(self) -> int:
        return await self.mailer.round(self._pool(), number=self.number, owned=[self.number, *self.former_numbers])

    async def _keep_listening(self) -> None:
        """The listening connection carries the worker's lock: if it dropped (a database restart),
        the claims it held are up for others already, so take a new number and carry on."""
        if self.listener is not None and not self.listener.is_closed():
            return
        await self._listen()

    async def _idle_wait(self) -> float:
        """Seconds until the next retry falls due (at most the poll interval)."""
        async with self._pool().acquire() as conn:
            # When the next delivery falls due, or the claim on it runs out (claims held by live
            # workers are theirs to finish; a dead worker's are also found by the next poll).
            # A held destination's deliveries fall due when it does (its next probe, its Retry-After);
            # a paced subscription's not before its next turn (greatest() passes over the nulls).
            due = await conn.fetchval(
                f"""
                select min(greatest(case when b.opened_at is not null then b.held_until
                                         else greatest(d.next_attempt_at, coalesce(d.claimed_until, d.next_attempt_at),
                                                       coalesce(b.held_until, d.next_attempt_at)) end,
                                    case when w.rate_limit is not null then w.rate_next_at end))
                  from webhook_deliveries d join webhooks w on w.id = d.webhook_id
                  left join webhook_destinations b on b.destination = w.destination
                 where d.status = 'pending' and {deliveries.SENDABLE}
                """
            )
        wait = self.settings.webhook_poll_interval
        if due is not None:
            wait = min(wait, max((due - self.clock()).total_seconds(), 0.05))
        return wait

    # --- one round -------------------------------------------------------------------------------

    async def step(self) -> bool:
        """Fan out what is queued, then claim and start sending what is due. True if the worker is
        full (more may be waiting)."""
        async with self._pool().acquire() as conn:
            created = 0
            while True:
                events, deliveries, emails = await fanout.fan_out(conn, now=self.clock(), mail=self.mail_rules)
                created += deliveries
                if emails:
                    self.mail_wake.set()
                if events < fanout.BATCH:
                    break
            if created:
                # New work for every worker, not just this one: wake the others to share it.
                await conn.execute("select pg_notify($1, '')", DELIVERIES_CHANNEL)
            room = self._room()
            if room < self.claim_batch and (self.in_flight or self.ready):
                return True  # enough on hand: claim once there is room for a batch
            jobs = await self._claim(conn, room)
        for job in jobs:
            self.per_destination[job.destination] += 1
        self.ready.extend(jobs)
        self._start()
        return len(jobs) >= room

    def _room(self) -> int:
        """Deliveries this worker may claim now."""
        return CLAIM_AHEAD * self.settings.webhook_concurrency - len(self.in_flight) - len(self.ready)

    def _start(self) -> None:
        """Start claimed deliveries, in their order, while a slot is free."""
        while self.ready and len(self.in_flight) < self.settings.webhook_concurrency:
            job = self.ready.popleft()
            task = asyncio.create_task(self._deliver(job))
            self.in_flight.add(task)
            task.add_done_callback(self._finished(job))

    def _finished(self, job: Job) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.in_flight.discard(task)
            self.per_destination[job.destination] -= 1
            if self.per_destination[job.destination] <= 0:
                del self.per_destination[job.destination]
            self._start()  # a slot is free: the next claimed delivery takes it
            if self._room() >= self.claim_batch:
                self.wake.set()  # room for another batch

        return done

    async def tick(self) -> int:
        """One whole round, waited for: fan out, send every due delivery, record them. Returns the
        number of attempts made. For tests and tools; `run()` overlaps these steps instead."""
        attempts = 0
        while True:
            full = await self.step()
            attempts += len(self.in_flight) + len(self.ready)
            while self.in_flight:  # finishing ones start the claimed ones still waiting
                await asyncio.gather(*list(self.in_flight))
            await self.flush()
            if not full:
                while self.mailer.on and (sent := await self.mail_round()):
                    attempts += sent
                return attempts

    async def _claim(self, conn: asyncpg.Connection, limit: int) -> list[Job]:
        busy = [d for d, n in self.per_destination.items() if n >= self.settings.webhook_destination_concurrency]

        now = self.clock()
        async with conn.transaction():  # a probe or a paced turn taken is claimed, or neither is taken
            probes = await breaker.take_probes(conn, now=now, probe_every=self._probe_every, busy=busy)
            slots = await pacing.take_slots(
                conn, now=now, limit=limit, per_destination=self.settings.webhook_destination_concurrency,
                busy=busy, probes=probes, lock_class=WORKER_LOCK_CLASS,
            )
            rows = await conn.fetch(
                claims.CLAIM, WORKER_LOCK_CLASS, now, self.number, limit, busy,
                self.settings.webhook_destination_concurrency, timedelta(seconds=self.settings.webhook_claim_seconds),
                probes, list(slots), list(slots.values()),
            )
        if not rows:
            return []
        # Started in the order the events were written: a receiver sees a task assigned before it is
        # declined (the claim's own order is breadth first across destinations, not by event).
        rows = sorted(rows, key=lambda r: r["event_id"])
        if len(self.bodies) > 10_000:
            self.bodies.clear()  # jobs already made carry their own body
        for bureau in (False, True):  # the bureau's own subscriptions get its documents whole (envelope.render)
            missing = list({r["event_id"] for r in rows if r["format"] == "json"
                            and (r["organization_id"] is None) == bureau
                            and (r["event_id"], bureau, "json") not in self.bodies})
            if missing:
                loaded = await envelope.load(conn, missing, bureau=bureau)
                self.bodies.update({(event_id, bureau, "json"): text for event_id, text in loaded.items()})
        # CAP documents are public alerts: the same for everyone.
        missing = list({r["event_id"] for r in rows
                        if r["format"] == "cap" and (r["event_id"], False, "cap") not in self.bodies})
        if missing:
            loaded = await cap.load(conn, missing, zone=self.zone)
            self.bodies.update({(event_id, False, "cap"): text for event_id, text in loaded.items()})
        jobs = []
        now, claimed_at = _utcnow(), time.monotonic()
        for r in rows:
            previous = r["previous_secret"] if r["previous_secret"] and r["previous_secret_expires_at"] > now else None
            cached = self.signers.get(r["webhook_id"])
            if cached is None or cached[0] != (r["secret"], previous):
                secrets_ = [self.sealer.open(r["secret"])] + ([self.sealer.open(previous)] if previous else [])
                self.signers[r["webhook_id"]] = ((r["secret"], previous), Signer(*secrets_))
            cap_format = r["format"] == "cap"
            jobs.append(Job(r["id"], r["webhook_id"], r["event_id"], r["attempts"], r["url"], r["destination"],
                            self.bodies[(r["event_id"], not cap_format and r["organization_id"] is None, r["format"])],
                            r["probe"], cap.MEDIA_TYPE if cap_format else "application/json", claimed_at))
        return jobs

    async def _deliver(self, job: Job) -> None:
        signer = self.signers[job.webhook_id][1]
        try:
            async with self.gates[job.destination]:
                if time.monotonic() - job.claimed_at > self.start_within:
                    # Sent now, it could still be on its way when the claim runs out and another worker
                    # sends it too. Not sent, it goes out once the claim runs out (at least once holds).
                    log.warning("worker_claim_too_old_to_send", delivery_id=str(job.delivery_id))
                    return
                outcome = await sender.attempt(
                    self.client, url=job.url, message_id=str(job.delivery_id), body=job.body, signer=signer,
                    allow_private=self.settings.webhook_allow_private, total_timeout=self.settings.webhook_timeout,
                    content_type=job.content_type,
                )
        except Exception as exc:  # a bug of ours: still an attempt on record, retried on the schedule
            log.exception("worker_attempt_failed", delivery_id=str(job.delivery_id))
            outcome = sender.Outcome(datetime.now(UTC), 0, None, f"internal error: {type(exc).__name__}", None)
        self.results.append(Result(job, outcome))
        if len(self.results) >= FLUSH_AT:
            self.flush_now.set()

    # --- recording -------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            self.flush_now.clear()
            if len(self.results) < FLUSH_AT:  # (what arrived during the last flush may be a batch already)
                await waits.woken(self.flush_now, FLUSH_EVERY)
            if self.results:
                try:
                    await self.flush()
                except Exception as exc:  # kept for the next flush; the claims' leases hold meanwhile
                    log.warning("worker_flush_failed", error=str(exc) or type(exc).__name__)

    async def flush(self) -> None:
        """Write the attempts made so far; move deliveries to delivered, retry or failed.

        A batch the database refuses for what is in it (not for being unreachable) is written one
        result at a time, so one odd answer cannot hold the others back; a result that still fails
        is dropped with a log line, and its delivery goes out again when its claim runs out.
        """
        if not self.results or self.pool is None:
            return
        batch, self.results = self.results, []
        try:
            await self._record(batch)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or db.unavailable(exc):
                # Written next time (twice is harmless: attempts are keyed by number, and a delivery
                # is moved on only while we hold its claim); the claims' leases keep them ours meanwhile.
                self.results[:0] = batch
                raise
            if not isinstance(exc, Exception):
                raise
            for result in batch:
                try:
                    await self._record([result])
                except Exception:
                    log.exception("worker_result_dropped", delivery_id=str(result.job.delivery_id))

    async def _record(self, batch: list[Result]) -> None:
        pool = self._pool()
        now = self.clock()
        columns: list[list[Any]] = [[] for _ in range(9)]
        gone: set[UUID] = set()
        ok: set[UUID] = set()
        failing: set[UUID] = set()
        tallies: defaultdict[str, breaker.Tally] = defaultdict(breaker.Tally)
        for result in sorted(batch, key=lambda r: r.outcome.attempted_at):
            job, out = result.job, result.outcome
            number = job.attempts + 1
            retry_after = None
            if out.ok:
                outcome, next_at = "delivered", None
                ok.add(job.webhook_id)
            else:
                retry_after = schedule.parse_retry_after(out.retry_after, now) \
                    if out.status_code in (429, 503) else None
                next_at = schedule.next_attempt(number, now, retry_after=retry_after, rng=self.rng)
                if next_at is None and job.probe and breaker.counts(out):
                    # A probe of a destination that is down spends no delivery's last attempt: while the
                    # breaker is open, deliveries wait (the subscription's own disable rule still ends it).
                    next_at = now + schedule.SCHEDULE[-1]
                outcome = "pending" if next_at is not None else "failed"
                (gone if out.status_code == 410 else failing).add(job.webhook_id)
            tallies[job.destination].add(out, now + retry_after if retry_after else None)
            for column, value in zip(columns, (
                job.delivery_id, number, out.attempted_at, out.status_code, out.latency_ms, out.error,
                out.response_body, outcome, next_at,
            ), strict=True):
                column.append(value)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(claims.RECORD, self.number, *columns, [self.number, *self.former_numbers])
            await breaker.record(conn, tallies, now=now, threshold=self.settings.webhook_breaker_failures,
                                 probe_every=self._probe_every)
            if ok:
                await conn.execute(
                    "update webhooks set failing_since = null, failing_noticed_at = null"
                    " where id = any($1::uuid[]) and failing_since is not null",
                    list(ok),
                )
            stale = []
            if failing - ok:
                stale = await conn.fetch(
                    """
                    update webhooks set failing_since = coalesce(failing_since, $2)
                     where id = any($1::uuid[]) and status <> 'disabled'
                    returning id, failing_since, failing_noticed_at
                    """,
                    list(failing - ok), now,
                )
        delivered = sum(1 for r in batch if r.outcome.ok)
        self.delivered += delivered
        self.failed_attempts += len(batch) - delivered
        limit = timedelta(hours=self.settings.webhook_disable_after_hours)
        notice = timedelta(hours=self.settings.webhook_failing_notice_hours)
        to_disable = {w: "the receiver answered 410 Gone" for w in gone}
        for row in stale:
            if now - row["failing_since"] >= limit and row["id"] not in to_disable:
                to_disable[row["id"]] = f"deliveries have failed since {row['failing_since'].isoformat()}"
            elif now - row["failing_since"] >= notice and row["failing_noticed_at"] is None:
                async with pool.acquire() as conn:  # once per run of failures (webhooks.notice_failing)
                    if await webhooks.notice_failing(conn, webhook_id=row["id"], now=now):
                        log.warning("webhook_failing", webhook_id=str(row["id"]))
        for webhook_id, reason in to_disable.items():
            async with pool.acquire() as conn:
                if await webhooks.disable(conn, actor=SYSTEM, webhook_id=webhook_id, reason=reason):
                    log.warning("webhook_disabled", webhook_id=str(webhook_id), reason=reason)
