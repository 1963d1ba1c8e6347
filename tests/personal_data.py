"""A watch on residents' personal data for the whole suite (DESIGN.md invariant 10).

Every ID number and phone a test sends when registering a resident is remembered; every response
body, every log line and, before a test's database is dropped, every event payload is searched for
them. Residents' and individual donors' names are remembered too, and every public response (no key:
`/v1/public/…`, `/public/…`) is searched for them. Finding one fails the test that leaked it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from typing import Any

_RESIDENT_CREATE = re.compile(r"^/v1/incidents/[^/]+/residents$")
_DONATION_CREATE = re.compile(r"^/v1/incidents/[^/]+/donations$")
PUBLIC_PATHS = ("/v1/public/", "/public/")


class PersonalDataWatch(logging.Handler):
    """Holds this test's residents' ID numbers and phones, and the log text written meanwhile."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.values: set[str] = set()
        self.names: set[str] = set()  # people's names: staff may read them, the public never
        self.log: list[str] = []

    def reset(self) -> None:
        self.values.clear()
        self.names.clear()
        self.log.clear()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg if isinstance(record.msg, dict) else record.getMessage()
        self.log.append(json.dumps(message, default=str, ensure_ascii=False) if isinstance(message, dict) else message)
        # Tracebacks too: structlog's log.exception() leaves exc_info=True in the event for the formatter,
        # which formats the exception being handled right now.
        exc_info = record.exc_info
        if isinstance(record.msg, dict) and record.msg.get("exc_info"):
            exc_info = sys.exc_info() if record.msg["exc_info"] is True else record.msg["exc_info"]
        if exc_info and exc_info[0] is not None:
            self.log.append("".join(traceback.format_exception(*exc_info)))

    def remember(self, method: str, path: str, body: Any) -> None:
        """Note the personal data in a resident registration (or a named donor's gift) about to be sent."""
        if method != "POST" or not isinstance(body, dict):
            return
        if _DONATION_CREATE.match(path.split("?")[0]):
            donor = body.get("donor")
            name = donor.get("name") if isinstance(donor, dict) else None
            if isinstance(name, str) and len(name.strip()) >= 2:
                self.names.add(name.strip())
            return
        if not _RESIDENT_CREATE.match(path.split("?")[0]):
            return
        name = body.get("name")
        if isinstance(name, str) and len(name.strip()) >= 2:
            self.names.add(name.strip())
        for field in ("id_number", "phone"):
            value = body.get(field)
            if isinstance(value, str) and len(value.strip()) >= 6:
                self.values.add(value.strip())
                self.values.add(value.strip().upper())
                self.values.add(re.sub(r"[\s-]", "", value))

    def check(self, text: str, where: str, *, public: bool = False) -> None:
        """Fail if `text` holds any remembered ID number or phone (or, said in public, a person's name)."""
        leaked = sorted(v for v in self.values | (self.names if public else set()) if v in text)
        if leaked:  # not an assert: the watch must hold under python -O too
            raise AssertionError(f"personal data left the service in {where}: {leaked}")

    def check_log(self) -> None:
        self.check("\n".join(self.log), "the logs")


WATCH = PersonalDataWatch()
