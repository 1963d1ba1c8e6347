"""Issue 14's acceptance, for each kind: 1,000 rows with 37 bad ones of different kinds. The dry run lists
exactly those 37 (row, column, reason) and writes nothing; the real run writes 963; then either the 37
rows fixed, or the whole fixed file, add exactly the 37, and the counters equal what reconcile counts."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest

from relief import summary
from tests.conftest import Api, incident_body
from tests.test_imports import finished
from tests.test_shelters import new_shelter, resident_id

ROWS = 1000
BAD = [k * 27 + 5 for k in range(37)]  # 37 rows spread over the file


def _resident(n: int, bad: int | None) -> dict[str, str]:
    row = {"姓名": f"居民{n}", "证件号码": resident_id(n), "联系电话": f"139{n:08d}", "家庭人数": "2",
           "原住地区划代码": "320506", "特殊需要": "", "安置点": ""}
    faults: list[tuple[str, str]] = [("证件号码", resident_id(n)[:-1] + ("0" if resident_id(n)[-1] != "0" else "1")),
                                     ("原住地区划代码", "999999"), ("家庭人数", "0"), ("特殊需要", "会飞"),
                                     ("安置点", "不存在的安置点"), ("姓名", "")]
    if bad is not None:
        column, value = faults[bad % len(faults)]
        row[column] = value
    return row


def _evacuation(n: int, bad: int | None) -> dict[str, str]:
    row = {"行键": f"E-{n}", "人数": str(n % 50 + 1), "转出地区划代码": "320506", "安置方式": "分散安置", "安置点": "",
           "转移时间": "2023-07-30 10:00", "备注": ""}
    faults = [("人数", "0"), ("转出地区划代码", "12345"), ("安置方式", "空投"), ("安置方式", "集中安置"),
              ("转移时间", "昨天")]
    if bad is not None:
        column, value = faults[bad % len(faults)]
        row[column] = value
    return row


def _donation(n: int, bad: int | None) -> dict[str, str]:
    row = {"类型": "资金", "金额": f"{n % 900 + 100}.00", "币种": "CNY", "渠道": "银行转账", "收据编号": f"R-{n}",
           "捐赠人": "", "收到时间": "2023-07-30 10:00"}
    faults = [("金额", "-5"), ("金额", "12.345"), ("类型", "股票"), ("币种", "XX"), ("渠道", "飞鸽传书"),
              ("收到时间", "2199-07-30 10:00")]
    if bad is not None:
        column, value = faults[bad % len(faults)]
        row[column] = value
    return row


def _impact(n: int, bad: int | None) -> dict[str, str]:
    row = {"行键": f"I-{n}", "区划代码": f"3205{n % 90 + 10:02d}", "指标": "受灾人口", "数值": str(100 + n),
           "来源": "政府", "统计时间": "2023-07-31 12:00"}
    faults = [("指标", "受灾猫口"), ("数值", "12.5"), ("来源", "社会组织"), ("区划代码", "990000"), ("数值", "-1")]
    if bad is not None:
        column, value = faults[bad % len(faults)]
        row[column] = value
    return row


KINDS: dict[str, tuple[Callable[[int, int | None], dict[str, str]], str]] = {
    "residents": (_resident, "select count(*) from residents"),
    "evacuations": (_evacuation, "select count(*) from evacuations"),
    "donations": (_donation, "select count(*) from donations"),
    "impacts": (_impact, "select count(*) from impacts"),
}


def sheet(make: Callable[[int, int | None], dict[str, str]], numbers: list[int], bad: set[int]) -> bytes:
    out = io.StringIO()
    rows = [make(n, BAD.index(n) if n in bad else None) for n in numbers]
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def run(api: Api, incident: str, kind: str, data: bytes, *, dry_run: bool = False) -> dict:
    response = await api.call(
        "POST", f"/v1/incidents/{incident}/imports?kind={kind}&dry_run={str(dry_run).lower()}", data=data,
        headers={"Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 202, await response.text()
    done = await finished(api, (await response.json())["id"])
    assert done["state"] == "done", done
    return done


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("settings", [{"rate_limit_burst": 10_000, "imports_in_process": True}], indirect=True)
async def test_a_thousand_rows_with_37_bad_ones(kind: str, dispatcher: Api, conn):
    make, count = KINDS[kind]
    incident = (await (await dispatcher.post("/v1/incidents", json=incident_body())).json())["id"]
    await new_shelter(dispatcher, incident, name="东山中学体育馆", capacity=2000)
    everything = list(range(ROWS))
    data = sheet(make, everything, set(BAD))

    dry = await run(dispatcher, incident, kind, data, dry_run=True)
    assert dry["counts"] | {"duplicate": 0} == {"total": ROWS, "read": ROWS, "written": ROWS - 37, "present": 0,
                                                "duplicate": 0, "refused": 37}
    errors = await (await dispatcher.get(f"/v1/imports/{dry['id']}/errors.csv")).read()
    listed = list(csv.reader(io.StringIO(errors.decode("utf-8-sig"))))[1:]
    assert [int(line[0]) for line in listed] == [n + 2 for n in BAD]  # the header is row 1
    assert all(line[1] and line[2] for line in listed), listed[:3]  # each names its column and reason
    assert await conn.fetchval(count) == 0

    real = await run(dispatcher, incident, kind, data)
    assert (real["counts"]["written"], real["counts"]["refused"]) == (ROWS - 37, 37)
    if kind == "donations":  # received in the sheet's time, in the bureau's zone; recorded now
        assert await conn.fetchval("select count(*) from donations where received_at = '2023-07-30 10:00+08'"
                                   " and created_at > '2024-01-01'") == ROWS - 37
    assert await conn.fetchval(count) == ROWS - 37

    if kind in ("residents", "donations"):  # the whole sheet fixed: only the 37 are new
        fixed = await run(dispatcher, incident, kind, sheet(make, everything, set()))
        assert (fixed["counts"]["written"], fixed["counts"]["present"]) == (37, ROWS - 37)
    else:  # only the 37 rows, fixed
        fixed = await run(dispatcher, incident, kind, sheet(make, BAD, set()))
        assert (fixed["counts"]["written"], fixed["counts"]["present"]) == (37, 0)
    assert await conn.fetchval(count) == ROWS
    again = await run(dispatcher, incident, kind, data)  # the first file once more adds nothing
    assert again["counts"]["written"] == 0
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
