"""The demo's spreadsheet: 临湖镇's list of relocated residents, sent to the bureau as a CSV and imported as
`POST /v1/incidents/{id}/imports` would (issue 14), two of its rows refused so the errors show.

Every person is fictional; the ID numbers are valid in form (GB 11643 check characters) and belong to no
one. The import runs inside the demo's own transaction, its batches as savepoints.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from models.imports import ImportKind
from relief import import_runner, imports
from relief.auth import Principal
from relief.demo_data import resident_id

HEADER = ["姓名", "证件号码", "联系电话", "家庭人数", "原住地区划代码", "原住地址", "特殊需要", "安置点"]
SURNAMES = "陈周吴郑王冯蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海峰", "雅琴", "国平", "玉珍", "文斌", "丽华"]
SHELTER = "吴中区临湖镇中心小学安置点"
ROWS = 30


def _rows() -> list[list[str]]:
    out = []
    for n in range(ROWS):
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)]
        number = resident_id("320506", f"19{40 + n % 50:02d}0{n % 9 + 1}1{n % 9}", 300 + n)
        out.append([name, number, f"1390000{3000 + n:04d}", str(n % 4 + 1), "320506", f"临湖镇湖桥村{n % 12 + 1}组",
                    "老人" if n % 7 == 0 else "", SHELTER])
    out[11][1] = out[11][1][:-1] + ("0" if out[11][1][-1] != "0" else "1")  # a misread check character
    out[23][4] = "3205"  # a region code cut short
    return out


def sheet() -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *_rows()])
    return text.getvalue().encode()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def record(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID, secret: bytes,
                 zone: str) -> tuple[int, int]:
    """Import the township's list; (written, refused)."""
    import_id, _ = await imports.start(
        conn, incident_id=incident_id, kind=ImportKind.residents, dry_run=False, file_format="csv", language="zh",
        scope=f"key:{dispatcher.key_id}", key=str(uuid.uuid4()), created_by=dispatcher.key_id,
    )
    size, charset = await imports.receive(conn, import_id, _one(sheet()), max_bytes=1 << 20)
    await imports.check_header(conn, import_id, kind=ImportKind.residents, file_format="csv", charset=charset)
    record = await imports.claim_here(conn, import_id, size=size, charset=charset, lease=import_runner.LEASE_SECONDS)
    await import_runner.process(conn, record, secret=secret, zone=zone)
    counts = await conn.fetchrow("select rows_written, rows_refused from imports where id = $1", import_id)
    return counts["rows_written"], counts["rows_refused"]


__all__ = ["record", "sheet"]
