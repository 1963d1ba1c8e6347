"""The suite-wide catalog check: every event a test writes is in the catalog and matches its models.

tests/conftest.py runs check() on each test's database before it is dropped. Validation is pydantic's,
with the models of models/event_payloads.py, forbidding fields a model does not name (a field that leaked
into a payload is an error too): the stored payloads from their JSON text as PostgreSQL holds it, and the
envelope's data as notifications/envelope.py builds it for each kind of receiver. Not strict: the decimal
types take their strings through a validator of their own, which strict mode refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from models.event_payloads import PAYLOADS, adapter
from models.events import EVENT_TYPES
from notifications import envelope
from relief import masking

# Who receives an envelope: an organization's subscription or stream, and the bureau's own.
_RECEIVERS = {"outside": masking.OUTSIDE, "the bureau's webhooks": masking.BUREAU_OUTSIDE}
_SHOWN = 10  # problems listed in a failure; the rest are counted
# What check() needs of each event row, the payloads also as PostgreSQL's JSON text.
COLUMNS = "id, type, entity_type, incident_id, before, after, before::text as before_text, after::text as after_text"


def _invalid(tp: Any, value: Any, *, text: str | None = None) -> str | None:
    try:
        if text is not None:
            adapter(tp).validate_json(text, extra="forbid")
        else:
            adapter(tp).validate_python(value, extra="forbid")
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    return None


def problems(row: Any) -> Iterable[str]:
    """What is wrong with one event row (COLUMNS)."""
    where = f"event {row['id']} ({row['type']})"
    payload = PAYLOADS.get(row["type"])
    if row["type"] not in EVENT_TYPES or payload is None:
        yield f"{where}: the type is not in the catalog (models/events.py, models/event_payloads.py)"
        return
    for side in ("before", "after"):
        value, declared = row[side], getattr(payload, side)
        if value is None:
            if side == "after" and declared is not None:
                yield f"{where}: no `after`, where the catalog says {declared}"
            continue
        if declared is None:
            yield f"{where}: writes a `{side}` the catalog does not describe"
            continue
        if error := _invalid(declared, value, text=row[f"{side}_text"]):
            yield f"{where}: `{side}` does not match {declared}: {error}"
    for receiver, audience in _RECEIVERS.items():
        if error := _invalid(payload.sent, envelope.data_of(row, audience)):
            yield f"{where}: the envelope's data for {receiver} does not match its schema: {error}"


def check(rows: Iterable[Any]) -> None:
    """Fail, naming the first few, if any event row is outside the catalog or off its schema."""
    found = [problem for row in rows for problem in problems(row)]
    if found:
        more = f"\n… and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
        raise AssertionError("events off the catalog:\n" + "\n".join(found[:_SHOWN]) + more)
