"""A subscription's pace (webhooks.rate_limit, deliveries per second), shared by every worker.

Each worker, in the transaction that claims, first takes "slots": for each paced subscription whose
turn has come (rate_next_at null or past) and that has deliveries the claim could take, it moves
rate_next_at on by slots / rate_limit and may then claim that many of its deliveries (claims.CLAIM
skips a paced subscription that got no slot). The UPDATE takes the turn atomically: a worker that
finds the row locked skips it (SKIP LOCKED), and one that finds it changed since its snapshot re-checks
the where on the new version (READ COMMITTED) and no longer sees the turn as come, so two workers never
both take one. Turns are not saved up: after a quiet hour a subscription gets one window's worth, not
an hour's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import asyncpg

from relief.deliveries import SENDABLE

# The slots a turn takes are the deliveries the pace allows in this many seconds (at least one, so that
# a pace under one a second still sends: 0.5 → one, then nothing for two seconds). One second is about
# a claim round; longer would send in larger bursts, shorter would need more rounds for the same rate.
WINDOW_SECONDS = 1

# Slots are also no more than the deliveries waiting (so a turn is not spent on nothing: the next one
# comes slots / rate later), nor than this worker may send now, in all ($3) and to one destination ($4):
# what the claim could not take would be a part of the pace lost. A delivery counts as the claim counts
# it: due (or its destination's probe), sendable, held by no live worker, its destination neither busy
# here ($5) nor held by its breaker.
_TAKE = f"""
with live as (
    select objid::bigint as worker from pg_locks
     where locktype = 'advisory' and classid = $7::oid and objsubid = 2 and granted
       and database = (select oid from pg_database where datname = current_database())
), turns as (
    select w.id, least(greatest(1, floor(w.rate_limit * $2::int)), waiting.count, $3::int, $4::int)::int as slots
      from webhooks w
      cross join lateral (
          select count(*) from (
              select 1 from webhook_deliveries d
                left join webhook_destinations b on b.destination = w.destination
               where d.webhook_id = w.id and d.status = 'pending'
                 and (d.next_attempt_at <= $1 or w.destination = any($6::text[]))
                 and {SENDABLE}
                 and w.destination <> all($5::text[])
                 and (w.destination = any($6::text[])
                      or (b.opened_at is null and (b.held_until is null or b.held_until <= $1)))
                 and (d.claimed_by is null or d.claimed_until < $1 or d.claimed_by not in (select worker from live))
               limit least($3::int, $4::int)
          ) counted
      ) waiting
     where w.rate_limit is not null and (w.rate_next_at is null or w.rate_next_at <= $1::timestamptz)
       and waiting.count > 0
       for update of w skip locked
)
update webhooks w
   set rate_next_at = $1 + (turns.slots / w.rate_limit)::float8 * interval '1 second'
  from turns
 where w.id = turns.id
returning w.id, turns.slots
"""


async def take_slots(conn: asyncpg.Connection, *, now: datetime, limit: int, per_destination: int,
                     busy: Iterable[str], probes: Iterable[str], lock_class: int) -> dict[UUID, int]:
    """Paced subscriptions whose turn this worker took, with the deliveries each may claim now. Call it in
    the claim's transaction: the turn is taken only if the claim commits."""
    rows = await conn.fetch(_TAKE, now, WINDOW_SECONDS, limit, per_destination, list(busy), list(probes),
                            lock_class)
    return {r["id"]: r["slots"] for r in rows}
