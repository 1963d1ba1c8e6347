"""Domain errors. No HTTP here: handlers' middleware maps each class to a status."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

IfMatch = Set[int] | None
"""The versions an update may apply to, from If-Match; None for `*`."""


class ReliefError(Exception):
    """Base of every error the use cases raise on purpose."""

    title = "Request failed"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ReliefError):
    title = "Not found"


class Conflict(ReliefError):
    """A unique value taken, or an action the current state forbids."""

    title = "Conflict"


class InvalidState(Conflict):
    title = "Not allowed in the current state"

    def __init__(self, detail: str, *, state: str, **extra: Any) -> None:
        super().__init__(detail, state=state, **extra)


class OverCommitted(Conflict):
    """A pledge larger than what the call still needs."""

    title = "Over-commitment"

    def __init__(self, detail: str, *, remaining: str, **extra: Any) -> None:
        super().__init__(detail, remaining=remaining, **extra)


class Insufficient(Conflict):
    """More asked for than there is: goods on hand at a location, or money in a fund (decided by a
    guarded update, never by reading first)."""

    title = "Insufficient"

    def __init__(self, detail: str, *, available: str, **extra: Any) -> None:
        super().__init__(detail, available=available, **extra)


class InProgress(Conflict):
    """A duplicate of a request that is still running (same Idempotency-Key)."""

    title = "Request in progress"


class StaleVersion(ReliefError):
    title = "Precondition failed"

    @classmethod
    def check(cls, what: str, *, current: int, expected: IfMatch) -> None:
        """Raise unless the current version is one the client named in If-Match (None: any)."""
        if expected is not None and current not in expected:
            named = ", ".join(str(v) for v in sorted(expected)) or "no version of ours"
            raise cls(f"{what} is at version {current}, not {named}", current_version=current)


class Forbidden(ReliefError):
    title = "Forbidden"


class Invalid(ReliefError):
    """Input that passed the schema but breaks a domain rule; carries JSON pointers."""

    title = "Validation failed"

    def __init__(self, detail: str, *, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)


class Unavailable(ReliefError):
    title = "Service unavailable"
