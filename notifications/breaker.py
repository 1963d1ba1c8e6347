"""A circuit breaker per destination (host:port), kept in webhook_destinations so every worker shares it.

A destination that fails `webhook_breaker_failures` times in a row (no answer, a timeout, 429, 502, 503
or 504: the answers of a host that is down or overloaded, not of one that dislikes a message) opens its
breaker: its deliveries keep their place and schedule but get no attempt, and one pending delivery is
sent as a probe per `webhook_breaker_probe_seconds`, claimed by one worker alone. The first answer that
does not count closes the breaker and the held deliveries go out as they fall due. A `Retry-After` on
a 429 or 503 holds the whole destination until then, whatever the breaker says, since the receiver
asked for a pause and every subscription on that host would otherwise keep knocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from notifications.sender import Outcome
from relief.deliveries import SENDABLE

COUNTED_STATUSES = frozenset({429, 502, 503, 504})


def counts(outcome: Outcome) -> bool:
    """Whether this attempt says the destination is down (and so counts towards opening its breaker).
    An address the SSRF guard refused is our policy, not the destination's health."""
    if outcome.status_code is None:
        return outcome.error is not None and not outcome.error.startswith("address refused")
    return outcome.status_code in COUNTED_STATUSES


@dataclass
class Tally:
    """What one batch of attempts says of one destination, in the order they were made."""

    answered: bool = False  # an attempt got an answer that does not count: the streak before it ends
    failures: int = 0  # counted failures since the last such answer (or in all, if none)
    hold: datetime | None = None  # the latest Retry-After among them

    def add(self, outcome: Outcome, retry_until: datetime | None) -> None:
        if counts(outcome):
            self.failures += 1
        else:
            self.answered, self.failures = True, 0
        if retry_until is not None and (self.hold is None or retry_until > self.hold):
            self.hold = retry_until


# Moves each destination's breaker on from a batch's tallies, in one statement: a destination that
# answered starts its count again; one that reaches the threshold opens (or, already open, waits for
# its next probe); a Retry-After holds it until then.
_RECORD = """
with u as (
    select * from unnest($1::text[], $2::bool[], $3::int[], $4::timestamptz[])
             as u(destination, answered, failures, hold)
), merged as (
    select u.destination, u.hold,
           case when u.answered then u.failures else coalesce(d.failures, 0) + u.failures end as failures,
           d.opened_at, d.destination is not null as known
      from u left join webhook_destinations d on d.destination = u.destination
)
insert into webhook_destinations as d (destination, failures, opened_at, held_until, updated_at)
select destination, failures,
       case when failures >= $6 then coalesce(opened_at, $5) end,
       case when failures >= $6 then greatest($5 + $7::interval, hold) else hold end,
       $5
  from merged
 where known or failures > 0 or hold is not null
on conflict (destination) do update
   set failures = excluded.failures, opened_at = excluded.opened_at, held_until = excluded.held_until,
       updated_at = excluded.updated_at
"""


async def record(conn: asyncpg.Connection, tallies: dict[str, Tally], *, now: datetime, threshold: int,
                 probe_every: timedelta) -> None:
    if not tallies:
        return
    names = sorted(tallies)  # one lock order for every worker
    await conn.execute(
        _RECORD, names, [tallies[n].answered for n in names], [tallies[n].failures for n in names],
        [tallies[n].hold for n in names], now, threshold, probe_every,
    )


# The destinations this worker may probe now: open, due for a probe, with a delivery waiting, and not
# being probed by another worker (skip locked). Their next probe moves on at once, so one worker alone
# sends each probe.
_PROBES = f"""
with due as (
    select b.destination from webhook_destinations b
     where b.opened_at is not null and coalesce(b.held_until, '-infinity') <= $1
       and b.destination <> all($3::text[])
       and exists (select 1 from webhook_deliveries d join webhooks w on w.id = d.webhook_id
                    where w.destination = b.destination and d.status = 'pending' and {SENDABLE})
       for update of b skip locked
)
update webhook_destinations b set held_until = $1 + $2::interval, updated_at = $1
  from due where b.destination = due.destination
returning b.destination
"""


async def take_probes(conn: asyncpg.Connection, *, now: datetime, probe_every: timedelta,
                      busy: Iterable[str]) -> list[str]:
    return [r["destination"] for r in await conn.fetch(_PROBES, now, probe_every, list(busy))]

