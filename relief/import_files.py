"""The file side of imports (issue 14): columns per kind, CSV/XLSX rows streamed, headers matched, row bodies.

No database and no HTTP here: the import runner feeds bytes or a path in and gets rows and bodies out.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from relief.import_columns import (  # noqa: F401 - also the file layer's names
    CHANNEL_ZH,
    COLUMNS,
    FIGURE_ZH,
    ID_TYPE_ZH,
    ITEM_ZH,
    KIND_ZH,
    PLACEMENT_ZH,
    REF_FIELDS,
    SOURCE_ZH,
    UNIT_ZH,
    VULNERABILITY_ZH,
    Column,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOO_MANY_CELLS = "more cells than the header has columns"
NO_HEADER = "a value in a column without a header"



class Unsupported(ValueError):
    """A content type or charset imports do not read (the handler answers 415)."""


class Unreadable(ValueError):
    """A file that cannot be read as it claims to be: bytes not in its charset, a broken CSV or workbook."""


class HeaderMismatch(ValueError):
    """The header row is not a template's: the whole file is refused."""

    def __init__(self, kind: str, *, unknown: list[str], missing: list[str], duplicated: list[str]) -> None:
        self.kind = kind
        self.expected = [c.header for c in COLUMNS[kind]]
        self.required = [c.header for c in COLUMNS[kind] if c.required]
        self.unknown, self.missing, self.duplicated = unknown, missing, duplicated
        parts = [f"{label}: {', '.join(names)}" for label, names in
                 (("unknown columns", unknown), ("missing columns", missing), ("duplicated columns", duplicated))
                 if names]
        super().__init__(f"the header does not match the {kind} template ({'; '.join(parts)})")


def detect(content_type: str) -> tuple[str, str | None]:
    """("csv", charset or None) or ("xlsx", None) for an upload's Content-Type; Unsupported otherwise."""
    media, *params = (part.strip() for part in content_type.split(";"))
    media = media.lower()
    if media == XLSX:
        return "xlsx", None
    if media != "text/csv":
        raise Unsupported(f"imports take text/csv (UTF-8 or GB18030) or {XLSX}, not {media or 'nothing'}")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset is None:
        return "csv", None
    if charset in ("utf-8", "utf8"):
        return "csv", "utf-8"
    if charset in ("gb18030", "gbk", "gb2312"):
        return "csv", "gb18030"  # GB18030 is a superset of GBK and GB 2312
    raise Unsupported(f"CSV imports are in UTF-8 or GB18030, not {charset}")


class CharsetSniffer:
    """Fed an upload chunk by chunk: utf-8 if all of it decodes as UTF-8, else gb18030."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._utf8 = True

    def feed(self, chunk: bytes) -> None:
        if self._utf8:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self._utf8 = False

    def result(self) -> str:
        if self._utf8:
            try:
                self._decoder.decode(b"", final=True)  # a sequence cut off at the end is not UTF-8
            except UnicodeDecodeError:
                self._utf8 = False
        return "utf-8" if self._utf8 else "gb18030"


class _ChunkStream(io.RawIOBase):
    """Bytes chunks as a raw stream, so TextIOWrapper decodes incrementally and splits lines in C."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        n = min(len(buffer), len(self._view))
        buffer[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


def csv_rows(chunks: Iterable[bytes], charset: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for each record not blank; a record is one spreadsheet row, the header row 1."""
    encoding = "utf-8-sig" if charset == "utf-8" else charset
    raw = io.BufferedReader(_ChunkStream(chunks), buffer_size=1 << 16)
    lines = io.TextIOWrapper(raw, encoding=encoding, newline="")  # newline="": csv sees quoted newlines
    number = 0
    try:
        for number, record in enumerate(csv.reader(lines), 1):
            if number == 1 and record and record[0].startswith("\ufeff"):
                record[0] = record[0][1:]  # a GB18030 byte-order mark (UTF-8's is gone with utf-8-sig)
            while record and not record[-1].strip():
                record.pop()
            if record:
                yield number, record
    except UnicodeDecodeError:
        raise Unreadable(f"row {number + 1}: the bytes are not {charset}") from None
    except csv.Error as exc:
        raise Unreadable(f"row {number + 1}: {exc}") from None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel keeps 15 significant digits: 12.5 → "12.5", 3.0 → "3", 0.1+0.2 → "0.3", never "1e-05".
        return format(Decimal(format(value, ".15g")), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        # Excel stores times as fractions of a day; round away the float's noise below a millisecond.
        noise = value.microsecond % 1000
        value += timedelta(microseconds=1000 - noise if noise >= 500 else -noise)
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def xlsx_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of the first sheet's rows that are not blank, read in read-only mode."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise Unreadable("not a readable .xlsx workbook") from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers declare a wrong A1:… range; read what is there
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            cells = [_text(v) for v in row]
            while cells and not cells[-1].strip():
                cells.pop()
            if cells:
                yield number, cells
    finally:
        workbook.close()


def _norm(text: str) -> str:
    return re.sub(r"[\s_.\-*]+", "", unicodedata.normalize("NFKC", text)).casefold()


@cache
def _names(kind: str) -> dict[str, Column]:
    return {_norm(name): c for c in COLUMNS[kind] for name in (c.zh, c.en)}


def _match(kind: str, cell: str) -> Column | None:
    names = _names(kind)
    if (column := names.get(_norm(cell))) is not None:
        return column
    text = unicodedata.normalize("NFKC", cell).strip()
    parts = m.groups() if (m := re.fullmatch(r"(.+?)\((.+)\)", text)) else text.split("/", 1)
    if len(parts) == 2:
        first, second = names.get(_norm(parts[0])), names.get(_norm(parts[1]))
        if first is not None and first is second:
            return first
    return None


def map_header(kind: str, cells: list[str]) -> list[Column | None]:
    """The column of each header cell (None: blank); HeaderMismatch for unknown, missing or repeated ones."""
    mapping: list[Column | None] = []
    unknown: list[str] = []
    duplicated: list[str] = []
    seen: set[str] = set()
    for cell in cells:
        column = _match(kind, cell) if cell.strip() else None
        if cell.strip() and column is None:
            unknown.append(cell.strip())
        elif column is not None and column.field in seen:
            duplicated.append(column.header)
        elif column is not None:
            seen.add(column.field)
        mapping.append(column)
    missing = [c.header for c in COLUMNS[kind] if c.required and c.field not in seen]
    if unknown or missing or duplicated:
        raise HeaderMismatch(kind, unknown=unknown, missing=missing, duplicated=duplicated)
    return mapping


@cache
def _lookup(codes: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {_norm(word): code for code, zh in codes for word in (code, zh)}


_BOOLEANS = {_norm(w): v for v, words in ((True, "是 yes y true t 1"), (False, "否 no n false f 0"))
             for w in words.split()}
_DATE_TIME = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
                        r"(?:[ T]+(\d{1,2})[:：时](\d{1,2})分?(?:[:：](\d{1,2})(?:\.(\d{1,6}))?秒?)?)?")


def _timestamp(value: str, zone: str) -> str:
    # A spreadsheet's times have no offset: they are the bureau's local time (RELIEF_TIMEZONE).
    try:
        if m := _DATE_TIME.fullmatch(value):
            y, mo, d, h, mi, s, frac = m.groups()
            moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                              int((frac or "0").ljust(6, "0")))
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return value  # the model says what is wrong with it


def _convert(column: Column, value: str, zone: str) -> Any:
    if column.shape == "code":
        return _lookup(column.codes).get(_norm(value), value)
    if column.shape == "flags":
        words = _lookup(column.codes)
        return [words.get(_norm(w), w) for w in re.split(r"[,，;；、\s]+", value) if w]
    if column.shape == "bool":
        return _BOOLEANS.get(_norm(value), value)
    if column.shape == "time":
        return _timestamp(value, zone)
    return value


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def row_body(kind: str, mapping: list[Column | None], cells: list[str], *,
             zone: str = "Asia/Shanghai") -> dict[str, Any]:
    """The model's body for one row, with "_refs" to resolve and "_key"; or {"_error": {column, reason}}."""
    body: dict[str, Any] = {}
    refs: dict[str, str] = {}
    donor: dict[str, Any] = {}
    for index, cell in enumerate(cells):
        value = cell.strip()
        column = mapping[index] if index < len(mapping) else None
        if column is None:
            if value:
                reason = TOO_MANY_CELLS if index >= len(mapping) else NO_HEADER
                return {"_error": {"column": _letter(index), "reason": reason}}
            continue
        if not value:
            continue  # the model's default applies
        if column.field == "key":
            body["_key"] = value
        elif column.field in REF_FIELDS[kind]:
            refs[column.field] = value
        elif column.field.startswith("donor."):
            donor[column.field.removeprefix("donor.")] = _convert(column, value, zone)
        else:
            body[column.field] = _convert(column, value, zone)
    for column in COLUMNS[kind]:
        if column.default is not None:
            body.setdefault(column.field, column.default)
    if donor:
        body["donor"] = donor
    if refs:
        body["_refs"] = refs
    return body


_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _canonical(value: Any, number: bool) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v, False) for k, v in value.items()}
    if isinstance(value, list):
        return sorted(_canonical(v, False) for v in value)
    if not isinstance(value, str):
        return value
    value = " ".join(value.split())
    if number and _NUMBER.fullmatch(value):
        try:
            return format(Decimal(value).normalize(), "f")  # 10, 10.0 and 010 are one value
        except InvalidOperation:
            return value
    return value


def normalized_key(kind: str, body: dict[str, Any]) -> str:
    """sha256 hex of the row's normalized values: the row key when a file has no key column."""
    numbers = {c.field for c in COLUMNS[kind] if c.shape == "number"}
    values = {k: _canonical(v, k in numbers) for k, v in body.items() if k not in ("_key", "_error")}
    text = json.dumps({"kind": kind, "values": values}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
