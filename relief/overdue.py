"""No one unaccounted for: a member still on site past expected_back_at plus the grace raises
deployment.overdue, once per crossing, whichever replica sees it first.

Once: the alarm is raised by one UPDATE that sets overdue_raised_at on rows where it is still null, in
the transaction that writes the event; FOR UPDATE SKIP LOCKED lets two replicas raising at the same
moment take different rows, and a row one of them already raised no longer matches for the other.
An extension sets overdue_raised_at back to null with the new deadline (armed again); a check-out ends
the stint, and the alarm with it.

On time: every replica runs an OverdueWatch (relief/app.py) that sleeps until the earliest deadline
still to raise, never longer than POLL_SECONDS, and is woken early by the NOTIFY a check-in or an
extension sends (relief.deployments.CHANNEL) when the earliest deadline may have moved. Times are
the database's clock, so replicas with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from relief import db, escalations, events, waits
from relief.auth import SYSTEM
from relief.deployments import CHANNEL

log = structlog.get_logger("relief.overdue")

# The longest sleep: a deadline is looked at within this even if every notification was lost (the
# listening connection down), well inside the 30 s the issue allows.
POLL_SECONDS = 10.0
# The shortest: when the earliest due row is locked by a transaction in progress (a check-out under
# way), looking again in a busy loop would only spin.
MIN_SLEEP_SECONDS = 0.2
BATCH = 200
CONNECT_SECONDS = 5.0


async def raise_due(conn: asyncpg.Connection, *, grace: float, now: datetime | None = None,
                    limit: int = BATCH) -> list[asyncpg.Record]:
    """Raise deployment.overdue for up to `limit` members on site past their deadline plus `grace`
    seconds whose alarm is not raised yet; returns their stints. `now` is a clock for tests."""
    async with db.atomic(conn):
        rows = await conn.fetch(
            """
            with due as (
                select id from deployments
                 where checked_out_at is null and overdue_raised_at is null
                   and expected_back_at <= coalesce($2::timestamptz, now()) - make_interval(secs => $1)
                 order by expected_back_at
                 limit $3
                 for update skip locked
            )
            update deployments d
               set overdue_raised_at = coalesce($2::timestamptz, now()), version = d.version + 1
              from due
             where d.id = due.id
            returning d.*, d.expected_back_at + make_interval(secs => $1) as overdue_since
            """,
            grace, now, limit,
        )
        for row in rows:
            await events.emit(
                conn, type="deployment.overdue", actor=SYSTEM, entity_type="deployment", entity_id=row["id"],
                incident_id=row["incident_id"], organization_id=row["organization_id"],
                after={"deployment_id": str(row["id"]), "task_id": str(row["task_id"]),
                       "member_id": str(row["member_id"]), "pledge_id": str(row["pledge_id"]),
                       "organization_id": str(row["organization_id"]),
                       "checked_in_at": row["checked_in_at"].isoformat(),
                       "expected_back_at": row["expected_back_at"].isoformat(),
                       "overdue_since": row["overdue_since"].isoformat(), "grace_seconds": int(grace)},
            )
    return rows


async def seconds_to_next(conn: asyncpg.Connection, *, grace: float) -> float | None:
    """Seconds until the earliest alarm still to raise falls due (negative if it is due), or None."""
    due = await conn.fetchval(
        """
        select extract(epoch from min(expected_back_at) + make_interval(secs => $1) - now())
          from deployments where checked_out_at is null and overdue_raised_at is null
        """,
        grace,
    )
    return None if due is None else float(due)


class OverdueWatch:
    """One replica's watch: raise what is due, sleep until the next deadline, wake on a NOTIFY.

    It borrows a pooled connection for each round only; the LISTEN has a connection of its own (a
    pooled one would be held for ever). A database outage is waited out with a warning, like upkeep.
    """

    def __init__(self, pool: asyncpg.Pool, database_url: str, *, grace: float,
                 delays: escalations.Delays | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        self.pool = pool
        # The other deadlines this loop keeps (relief/escalations.py): alerts unanswered, pledges late.
        self.delays = delays
        self.database_url = database_url
        self.grace = grace
        self.poll_seconds = poll_seconds
        self.wake = asyncio.Event()
        self.listener: asyncpg.Connection | None = None

    def _notified(self, *_: Any) -> None:
        self.wake.set()

    async def _listen(self) -> None:
        if self.listener is not None and not self.listener.is_closed():
            return
        self.listener = None
        try:
            # A bare connection (no codecs to set up: it only listens), closed if anything, a shutdown
            # included, interrupts us before it is ours to close.
            listener = await asyncpg.connect(self.database_url, timeout=CONNECT_SECONDS)
            try:
                await listener.add_listener(CHANNEL, self._notified)
            except BaseException:
                listener.terminate()
                raise
        except Exception as exc:  # polling still finds every deadline; the next round listens again
            if not db.unavailable(exc):
                raise
            log.warning("overdue_listen_failed", error=str(exc) or type(exc).__name__)
            return
        self.listener = listener

    async def round(self) -> float:
        """Raise what is due; the seconds to sleep before the next round."""
        async with self.pool.acquire() as conn:
            raised = await raise_due(conn, grace=self.grace)
            escalated = await escalations.raise_due(conn, self.delays) if self.delays else 0
            if len(raised) >= BATCH or escalated >= escalations.BATCH:
                return 0.0  # more may be waiting
            due = await seconds_to_next(conn, grace=self.grace)
            if self.delays:
                later = await escalations.seconds_to_next(conn, self.delays)
                due = later if due is None else (due if later is None else min(due, later))
        if raised:
            log.warning("deployment_overdue", members=len(raised))
        if escalated:
            log.info("escalations_raised", events=escalated)
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(due, MIN_SLEEP_SECONDS))

    async def run(self) -> None:
        """Watch until cancelled."""
        try:
            while True:
                self.wake.clear()  # before the round: a notification during it means look again
                wait = self.poll_seconds
                try:
                    await self._listen()
                    wait = await self.round()
                except Exception as exc:  # keep watching: the next round may well succeed
                    if db.unavailable(exc):
                        log.warning("overdue_watch_skipped", error=str(exc) or type(exc).__name__)
                    else:
                        log.exception("overdue_watch_failed")
                await waits.woken(self.wake, wait)
        finally:
            await self.close()

    async def close(self) -> None:
        if self.listener is not None:
            with suppress(Exception):
                await self.listener.close()
            self.listener = None
