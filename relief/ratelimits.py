"""Token buckets: how many requests a key, or failed sign-ins an address, may spend, and when more come.

Buckets live in this process's memory only: with N `relief serve` replicas behind a load balancer a
client may spend N times the limits. That is deliberate — the limits protect each process and the
database from floods and key guessing, not an exact quota — and it keeps PostgreSQL out of the hot path.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]  # monotonic seconds; tests pass a fake one

# Enough buckets for every key and client of a busy bureau many times over, few enough (≈ 150 bytes
# each) that a flood of addresses cannot exhaust memory.
MAX_BUCKETS = 100_000
# How often full buckets are swept out even when the registry is far from its bound.
SWEEP_SECONDS = 60.0
# Debt (see Buckets.spend) stops at what refills in an hour, so one flood locks an address out an hour at most.
MAX_DEBT_SECONDS = 3600.0
# Clock readings are floats: 0.02 s at 50/s may refill 0.9999999999 of a token. That is a whole one.
EPSILON = 1e-9


@dataclass(frozen=True)
class Decision:
    """What a bucket says about one request: allowed or not, and the figures the RateLimit headers show."""

    allowed: bool
    limit: int  # the burst: most requests the bucket holds
    remaining: int  # whole tokens left after this request
    retry_after: int  # whole seconds (≥ 1) until the next token, for Retry-After
    reset: int  # whole seconds until the bucket is full again
    window: int  # whole seconds an empty bucket takes to fill (limit / rate)


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` per second. Not shared across processes."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, *, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        # max(): a clock that steps back (a fake one in a test) must not drain the bucket.
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.capacity - EPSILON

    def decision(self, allowed: bool) -> Decision:
        """The bucket's figures as they stand (call refill first)."""
        missing = max(0.0, 1.0 - self.tokens - EPSILON)
        return Decision(
            allowed=allowed,
            limit=int(self.capacity),
            remaining=max(0, math.floor(self.tokens + EPSILON)),
            retry_after=max(1, math.ceil(missing / self.rate - EPSILON)),
            reset=max(0, math.ceil((self.capacity - self.tokens) / self.rate - EPSILON)),
            window=max(1, math.ceil(self.capacity / self.rate)),
        )


class Buckets:
    """A bounded registry of token buckets by key (an API key's id, a client address), per process.

    A bucket that has refilled to full says nothing a fresh one would not, so it is dropped: memory
    follows the keys that spent something recently, not every key or address ever seen. Past
    `max_buckets` the least recently used go first (their owners start afresh, which errs towards
    letting requests through).
    """

    def __init__(
        self, *, capacity: float, rate: float, clock: Clock = time.monotonic, max_buckets: int = MAX_BUCKETS
    ) -> None:
        if capacity < 1 or rate <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive rate")
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(capacity=self.capacity, rate=self.rate, now=now)
        else:
            self._buckets.move_to_end(key)
            bucket.refill(now)
        return bucket

    def _sweep(self, now: float) -> None:
        over = len(self._buckets) >= self.max_buckets
        if not over and now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]
        # Still full of busy buckets: drop the oldest tenth, so the next sweep is that many inserts away.
        while len(self._buckets) >= self.max_buckets * 0.9 and over:
            self._buckets.popitem(last=False)

    def take(self, key: str) -> Decision:
        """Spend one token for a request if there is one; refuse it otherwise."""
        now = self.clock()
        bucket = self._bucket(key, now)
        allowed = bucket.tokens >= 1 - EPSILON
        if allowed:
            bucket.tokens -= 1
        return bucket.decision(allowed)

    def check(self, key: str) -> Decision:
        """Whether one token is there, spending none (the failed-sign-in limit spends only on failure)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            fresh = TokenBucket(capacity=self.capacity, rate=self.rate, now=now)
            return fresh.decision(True)
        bucket.refill(now)
        return bucket.decision(bucket.tokens >= 1 - EPSILON)

    def spend(self, key: str) -> Decision:
        """Spend one token whatever is left, going into debt below zero.

        Debt is what keeps the limit true under concurrency: wrong keys sent all at once pass the check
        together, and each still costs its token, so the address waits until the whole debt is repaid.
        """
        now = self.clock()
        bucket = self._bucket(key, now)
        bucket.tokens = max(bucket.tokens - 1, -self.rate * MAX_DEBT_SECONDS)
        return bucket.decision(bucket.tokens >= -EPSILON)
