"""Imports through the API: a township's sheet of residents, checked row by row, written once."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import pytest
from openpyxl import Workbook

from tests.conftest import WATCH, Api, incident_body
from tests.test_shelters import new_shelter, resident_id

# These imports run in the test's app, as in `relief serve`.
pytestmark = pytest.mark.parametrize("settings", [{"imports_in_process": True}], indirect=True)

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["姓名", "证件号码", "联系电话", "家庭人数", "原住地区划代码", "特殊需要", "安置点"]


async def open_incident(dispatcher: Api) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


def rows(count: int, *, bad: set[int] = frozenset(), shelter: str = "", start: int = 0) -> list[list[str]]:
    """Residents 0…count−1; those in `bad` have an ID number whose check character is wrong."""
    out = []
    for n in range(start, start + count):
        number = resident_id(n)
        if n in bad:
            number = number[:-1] + ("0" if number[-1] != "0" else "1")
        out.append([f"居民{n}", number, f"1390000{n:04d}", "3", "320506", "老人、儿童" if n % 5 == 0 else "", shelter])
    return out


def as_csv(data: list[list[str]], encoding: str = "utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *data])
    return text.getvalue().encode(encoding)


def as_xlsx(data: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *data]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(api: Api, incident: str, data: bytes, *, content_type: str = CSV, dry_run: bool = False,
                 key: str | None = None, status: int = 202, language: str | None = None) -> dict:
    headers = {"Content-Type": content_type, "Idempotency-Key": key or str(uuid.uuid4())}
    if language:
        headers["Accept-Language"] = language
    response = await api.call(
        "POST", f"/v1/incidents/{incident}/imports?kind=residents&dry_run={'true' if dry_run else 'false'}",
        data=data, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


async def finished(api: Api, import_id: str, *, within: float = 60.0) -> dict:
    # A bound, not a speed test: 1,000 donations (each chained in the ledger) take a few seconds alone,
    # several times that on a machine running two suites at once (seen: 500 rows in 20 s).
    deadline = asyncio.get_running_loop().time() + within
    while True:
        state = await (await api.get(f"/v1/imports/{import_id}")).json()
        if state["state"] in ("done", "failed"):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"import {import_id} did not finish within {within:g} s: {state}")
        await asyncio.sleep(0.05)


async def test_a_dry_run_lists_the_bad_rows_and_writes_nothing_then_the_run_writes_the_rest(dispatcher, conn):
    incident = await open_incident(dispatcher)
    data = as_csv(rows(40, bad={3, 17, 29}))
    dry = await finished(dispatcher, (await upload(dispatcher, incident, data, dry_run=True))["id"])
    assert resident_id(0) in WATCH.values  # the suite-wide watch learnt the file's numbers (tests/personal_data.py)
    assert dry["state"] == "done" and dry["counts"]["refused"] == 3 and dry["counts"]["total"] == 40
    assert [(e["row"], e["column"]) for e in dry["errors"]] == [(5, "证件号码"), (19, "证件号码"), (31, "证件号码")]
    assert all("****" in e["cells"]["证件号码"] and "****" in e["cells"]["联系电话"] for e in dry["errors"])
    assert await conn.fetchval("select count(*) from residents") == 0

    real = await finished(dispatcher, (await upload(dispatcher, incident, data))["id"])
    assert real["counts"] | {"total": None} == {"total": None, "read": 40, "written": 37, "present": 0,
                                                "duplicate": 0, "refused": 3}
    assert await conn.fetchval("select count(*) from residents") == 37
    # One import.completed, and none of the 37 resident.registered reaches the fan-out.
    assert await conn.fetchval("select count(*) from events where type = 'resident.registered' "
                               "and import_id is not null") == 37
    assert await conn.fetchval("select count(*) from webhook_outbox o join events e on e.id = o.event_id "
                               "where e.import_id is not null") == 0
    completed = await conn.fetchrow("select after from events where type = 'import.completed'")
    assert completed["after"]["written"] == 37

    errors = await dispatcher.get(f"/v1/imports/{real['id']}/errors.csv")
    text = (await errors.read()).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][:3] == ["行号 row", "列 column", "原因 reason"] and len(lines) == 4
    assert resident_id(3)[:-1] not in text and "13900000003" not in text  # masked as everywhere

    again = await finished(dispatcher, (await upload(dispatcher, incident, data))["id"])
    assert (again["counts"]["written"], again["counts"]["present"]) == (0, 37)
    fixed = await finished(dispatcher, (await upload(dispatcher, incident, as_csv(rows(40))))["id"])
    assert (fixed["counts"]["written"], fixed["counts"]["present"]) == (3, 37)
    summary = await (await dispatcher.get(f"/v1/incidents/{incident}/summary")).json()
    assert summary["residents"]["individual"] == "40"


async def test_gb18030_and_xlsx_import_as_the_utf8_csv_does(dispatcher, conn):
    incident = await open_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident, name="东山中学体育馆", capacity=100)
    data = rows(6, shelter="东山中学体育馆")
    one = await finished(dispatcher, (await upload(dispatcher, incident, as_csv(data[:2], "gb18030")))["id"])
    assert one["charset"] == "gb18030" and one["counts"]["written"] == 2
    two = await finished(dispatcher, (await upload(dispatcher, incident, as_xlsx(data[2:4]), content_type=XLSX))["id"])
    assert two["format"] == "xlsx" and two["counts"]["written"] == 2
    three = await finished(dispatcher, (await upload(dispatcher, incident, as_csv(data[4:])))["id"])
    assert three["charset"] == "utf-8" and three["counts"]["written"] == 2
    names = [r["name"] for r in await conn.fetch("select name from residents order by name")]
    assert names == [f"居民{n}" for n in range(6)]
    occupancy = await conn.fetchval("select occupancy from shelters where id = $1", uuid.UUID(shelter["id"]))
    assert occupancy == 6


async def test_a_header_that_is_no_template_is_refused_whole(dispatcher, viewer):
    incident = await open_incident(dispatcher)
    bad = "姓名,证件号码,鞋码\n张三,110101199003077777,42\n".encode()
    problem = await upload(dispatcher, incident, bad, status=422)
    assert "鞋码" in problem["detail"] and "证件号码" in problem["errors"][0]["detail"]
    await upload(dispatcher, incident, b"{}", content_type="application/json", status=415)
    await upload(viewer, incident, as_csv(rows(1)), status=403)
    key = str(uuid.uuid4())
    first = await upload(dispatcher, incident, as_csv(rows(2)), key=key)
    replay = await upload(dispatcher, incident, as_csv(rows(2)), key=key, status=200)
    assert replay["id"] == first["id"]
    for kind in ("residents", "evacuations", "donations", "impacts"):
        template = await dispatcher.get(f"/v1/imports/templates/{kind}.csv")
        assert template.status == 200
        workbook = await dispatcher.get(f"/v1/imports/templates/{kind}.xlsx?incident_id={incident}")
        assert workbook.status == 200 and (await workbook.read())[:2] == b"PK"


async def test_the_reasons_are_in_the_callers_language(dispatcher):
    """The console asks in Chinese (or English); a caller that does not say gets Chinese, the bureau's."""
    incident = await open_incident(dispatcher)
    data = rows(4, bad={1})
    data[2][3] = "0"  # household size
    data[3][4] = "3205"  # a region code of 4 digits
    reasons = {}
    for language in ("zh-CN", "en", None):
        state = await finished(dispatcher, (await upload(dispatcher, incident, as_csv(data), dry_run=True,
                                                         language=language))["id"])
        assert [(e["row"], e["column"]) for e in state["errors"]] == [(3, "证件号码"), (4, "家庭人数"),
                                                                       (5, "原住地区划代码")]
        reasons[language] = [e["reason"] for e in state["errors"]]
    assert reasons["en"][0] == "the check character does not match (GB 11643)"
    assert reasons["zh-CN"][0].startswith("证件号码的校验码不符")
    assert reasons[None] == reasons["zh-CN"]
    for english, chinese in zip(reasons["en"], reasons["zh-CN"], strict=True):
        assert english != chinese and any("\u4e00" <= ch <= "\u9fff" for ch in chinese), (english, chinese)


async def test_a_row_the_database_refuses_is_refused_alone_and_the_batch_goes_on(dispatcher, conn):
    """The set-based write of a batch fails as a whole on a rule the models do not know; the runner then
    takes the batch row by row, so only the rows that break the rule are refused."""
    await conn.execute("alter table residents add constraint not_resident_7 check (name not in ('居民7', '居民8'))")
    incident = await open_incident(dispatcher)
    state = await finished(dispatcher, (await upload(dispatcher, incident, as_csv(rows(12)), language="en"))["id"])
    assert state["state"] == "done", state
    assert state["counts"] | {"total": None} == {"total": None, "read": 12, "written": 10, "present": 0,
                                                 "duplicate": 0, "refused": 2}
    assert [(e["row"], e["reason"]) for e in state["errors"]] == [
        (9, "the database refused the row (not_resident_7)"), (10, "the database refused the row (not_resident_7)")]
    assert await conn.fetchval("select count(*) from residents") == 10
    assert await conn.fetchval("select count(*) from events where type = 'resident.registered'") == 10
    summary = await (await dispatcher.get(f"/v1/incidents/{incident}/summary")).json()
    assert summary["residents"]["individual"] == "10"
