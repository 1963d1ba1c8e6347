"""A watch on residents' personal data for the whole suite (DESIGN.md invariant 10).

Every ID number and phone a test sends when registering a resident is remembered; every response
body, every log line and, before a test's database is dropped, every event payload is searched for
them. Finding one fails the test that leaked it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from typing import Any

_RESIDENT_CREATE = re.compile(r"^/v1/incidents/[^/]+/residents$")


class PersonalDataWatch(logging.Handler):
    """Holds this test's residents' ID numbers and phones, and the log text written meanwhile."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.values: set[str] = set()
        self.log: list[str] = []

    def reset(self) -> None:
        self.values.clear()
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
        """Note the personal data in a resident registration about to be sent."""
        if method != "POST" or not _RESIDENT_CREATE.match(path.split("?")[0]) or not isinstance(body, dict):
            return
        for field in ("id_number", "phone"):
            value = body.get(field)
            if isinstance(value, str) and len(value.strip()) >= 6:
                self.values.add(value.strip())
                self.values.add(value.strip().upper())
                self.values.add(re.sub(r"[\s-]", "", value))

    def check(self, text: str, where: str) -> None:
        """Fail if `text` holds any remembered ID number or phone."""
        leaked = sorted(v for v in self.values if v in text)
        assert not leaked, f"personal data left the service in {where}: {leaked}"

    def check_log(self) -> None:
        self.check("\n".join(self.log), "the logs")


WATCH = PersonalDataWatch()
