"""When to try a failed delivery again: the Standard Webhooks schedule, with jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# Attempt n+1 waits SCHEDULE[n] after attempt n failed; attempt 1 is immediate. Ten attempts over
# about 3.5 days, then the delivery is marked failed.
SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
ATTEMPTS = len(SCHEDULE)
# Each wait is stretched by up to this fraction, so receivers that failed together (an outage) are
# not all retried in the same second when they come back.
JITTER = 0.1
# A receiver's Retry-After is honoured up to this (a longer one is a mistake or an attack on the queue).
MAX_RETRY_AFTER = timedelta(hours=24)


def next_attempt(attempts_made: int, now: datetime, *, retry_after: timedelta | None = None,
                 rng: random.Random | None = None) -> datetime | None:
    """When to try again after `attempts_made` attempts all failed; None: give up."""
    if attempts_made >= ATTEMPTS:
        return None
    wait = SCHEDULE[attempts_made] * (1 + (rng or random).uniform(0, JITTER))
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit alone takes "²", which int() refuses
        if len(value) > 9:  # past the cap anyway; int() would refuse thousands of digits
            return MAX_RETRY_AFTER
        return timedelta(seconds=min(int(value), MAX_RETRY_AFTER.total_seconds()))
    if len(value) > 64:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))
