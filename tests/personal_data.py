"""A watch on residents' personal data for the whole suite (DESIGN.md invariant 10).

Every ID number and phone a test sends when registering a resident is remembered; every response
body, every log line and, before a test's database is dropped, every event payload is searched for
them. Residents' and individual donors' names are remembered too, and every public response (no key:
`/v1/public/…`, `/public/…`) is searched for them. Finding one fails the test that leaked it.

Team members' phones and their emergency contacts' phones (issue 12), and members' and team leads'
emails (issue 15), remembered from every `PUT /v1/pledges/{id}/roster` and personnel pledge, may be read
whole by some readers, so the watch asks who is reading:
each client (tests/conftest.py `Api`) names itself a *reader* — `STAFF` for dispatcher and admin keys,
the organization's id for an organization's keys (so all of them are one reader), else its own key
(a viewer, a key nobody marked) or None (no key). A number is allowed in answers to `STAFF` and to the
readers who sent it, and searched for in every other answer (viewers, other organizations, anonymous
callers), in every export whoever asks (a file leaves the building), in every log line, and in every
event as a webhook and the outside would receive it (notifications/envelope.py's rendering). An
unmarked organization key is therefore strict: it may see only what it sent itself.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import traceback
from typing import Any
from urllib.parse import parse_qs

_RESIDENT_CREATE = re.compile(r"^/v1/incidents/[^/]+/residents$")
_DONATION_CREATE = re.compile(r"^/v1/incidents/[^/]+/donations$")
_ROSTER_SET = re.compile(r"^/v1/pledges/[^/]+/roster$")
_IMPORT_CREATE = re.compile(r"^/v1/incidents/[^/]+/imports$")
_PLEDGE_CREATE = re.compile(r"^/v1/calls/[^/]+/pledges$")
PUBLIC_PATHS = ("/v1/public/", "/public/")
STAFF = "staff"
"""The reader dispatchers' and admins' clients name: they read every team's contacts whole."""


def _upload_cells(kind: str, data: bytes, content_type: str) -> list[tuple[str, str]]:
    """(field, value) of every cell of an uploaded sheet, read as the import reads it; [] if unreadable."""
    from relief import import_files

    try:
        file_format, charset = import_files.detect(content_type)
        if file_format == "xlsx":
            with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
                handle.write(data)
                handle.flush()
                rows = list(import_files.xlsx_rows(handle.name))
        else:
            sniffer = import_files.CharsetSniffer()
            sniffer.feed(data)
            rows = list(import_files.csv_rows([data], charset or sniffer.result()))
        columns = import_files.map_header(kind, rows[0][1])
    except (ValueError, IndexError, OSError):
        return []
    return [(column.field, value.strip()) for _, cells in rows[1:]
            for column, value in zip(columns, cells, strict=False) if column is not None and value.strip()]


def _variants(value: str) -> set[str]:
    """A number as sent, upper-cased, and without the spaces and dashes a client may write in it."""
    return {value.strip(), value.strip().upper(), re.sub(r"[\s-]", "", value)}


class PersonalDataWatch(logging.Handler):
    """Holds this test's residents' ID numbers and phones, and the log text written meanwhile."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.values: set[str] = set()
        self.names: set[str] = set()  # people's names: staff may read them, the public never
        self.contacts: dict[str, set[str]] = {}  # team members' numbers → the readers who sent them
        self.log: list[str] = []

    def reset(self) -> None:
        self.values.clear()
        self.names.clear()
        self.contacts.clear()
        self.log.clear()

    @property
    def watching(self) -> bool:
        """Whether this test sent anything to watch for."""
        return bool(self.values or self.contacts)

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

    def remember(self, method: str, path: str, body: Any, *, reader: str | None = None) -> None:
        """Note the personal data in a resident registration (a named donor's gift, a roster) about to be sent."""
        if method == "PUT" and isinstance(body, dict) and _ROSTER_SET.match(path.split("?")[0]):
            self._remember_roster(body, reader)
            return
        if method != "POST" or not isinstance(body, dict):
            return
        if _PLEDGE_CREATE.match(path.split("?")[0]):
            lead = body.get("lead")
            if isinstance(lead, dict):
                self._remember_contact(lead.get("email"), reader)
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
                self.values |= _variants(value)

    def remember_upload(self, method: str, path: str, data: Any, content_type: str) -> None:
        """Note the ID numbers, phones and names in a spreadsheet sent to an import (issue 14)."""
        route, _, query = path.partition("?")
        if method != "POST" or not isinstance(data, bytes | bytearray) or not _IMPORT_CREATE.match(route):
            return
        kinds = parse_qs(query).get("kind", [])
        if kinds not in (["residents"], ["donations"]):
            return
        for column, value in _upload_cells(kinds[0], bytes(data), content_type):
            if column in ("id_number", "phone") and len(value) >= 6:
                self.values |= _variants(value)
            elif column in ("name", "donor.name") and len(value) >= 2:
                self.names.add(value)

    def _remember_roster(self, body: dict[str, Any], reader: str | None) -> None:
        members = body.get("members")
        for member in members if isinstance(members, list) else ():
            if not isinstance(member, dict):
                continue
            contact = member.get("emergency_contact")
            for value in (member.get("phone"), contact.get("phone") if isinstance(contact, dict) else None):
                if isinstance(value, str) and len(value.strip()) >= 6:
                    for variant in _variants(value):
                        senders = self.contacts.setdefault(variant, set())
                        if reader is not None:
                            senders.add(reader)
            self._remember_contact(member.get("email"), reader)

    def _remember_contact(self, email: Any, reader: str | None) -> None:
        """A person's email (a roster member's, a team lead's): read whole as their phone is (issue 15)."""
        if isinstance(email, str) and "@" in email and len(email.strip()) >= 6:
            senders = self.contacts.setdefault(email.strip(), set())
            if reader is not None:
                senders.add(reader)

    def check(self, text: str, where: str, *, public: bool = False, reader: str | None = None) -> None:
        """Fail if `text` holds any remembered ID number or phone (or, said in public, a person's name),
        or a team member's number that `reader` may not read whole (None: nobody may, as in logs)."""
        found = {v for v in self.values | (self.names if public else set()) if v in text}
        if reader != STAFF:
            found |= {v for v, senders in self.contacts.items() if reader not in senders and v in text}
        leaked = sorted(found)
        if leaked:  # not an assert: the watch must hold under python -O too
            raise AssertionError(f"personal data left the service in {where}: {leaked}")

    def check_log(self) -> None:
        self.check("\n".join(self.log), "the logs")


WATCH = PersonalDataWatch()
