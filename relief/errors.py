"""Domain errors. No HTTP here: handlers' middleware maps each class to a status."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from models.common import ERROR_CODES

IfMatch = Set[int] | None
"""The versions an update may apply to, from If-Match; None for `*`; NO_IF_MATCH when it was not sent."""


class _NoIfMatch(frozenset[int]):
    """No version named because no If-Match was sent: the update is refused with the current version."""


NO_IF_MATCH: IfMatch = _NoIfMatch()


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
        """Raise unless the current version is one the client named in If-Match (None: any); without
        If-Match at all, VersionRequired names the current version."""
        if expected is NO_IF_MATCH:
            raise VersionRequired(
                f'updates need If-Match with the ETag of your last read: {what} is at version {current} '
                f'(If-Match: "{current}"); read it again first if you have not seen that version',
                current_version=current,
            )
        if expected is not None and current not in expected:
            named = ", ".join(str(v) for v in sorted(expected)) or "no version of ours"
            raise cls(f"{what} is at version {current}, not {named}", current_version=current)


class VersionRequired(ReliefError):
    """An update sent without If-Match (428): nothing tells whether its author saw the current version."""

    title = "Precondition required"


class Forbidden(ReliefError):
    title = "Forbidden"


class Invalid(ReliefError):
    """Input that passed the schema but breaks a domain rule; carries JSON pointers.

    Each item may name its `code` (models.common.ERROR_CODES); one that does not gets it from its detail
    where the problem is written (handlers/problems.py), `invalid` when nothing more precise fits."""

    title = "Validation failed"

    def __init__(self, detail: str, *, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)

    @classmethod
    def at(cls, pointer: str, detail: str, *, code: str = "invalid") -> Invalid:
        """One field at fault, with its code from the stable vocabulary."""
        if code not in ERROR_CODES:
            raise ValueError(f"{code!r} is not an error code of models.common.ERROR_CODES")
        return cls(detail, errors=[{"pointer": pointer, "code": code, "detail": detail}])


class Unavailable(ReliefError):
    title = "Service unavailable"
