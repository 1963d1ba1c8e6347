"""Benchmark: residents imported from a township's spreadsheet, beside a bare COPY of the same rows.

    make bench-imports                      # 10,000 and 100,000 residents, then 1,000,000 head counts
    .venv/bin/python bench/imports.py --rows 10000 --evacuations 0    # a quick run
    RELIEF_DATABASE_URL=postgresql://… make bench-imports   # on another server

With `relief serve` on a fresh database, for each size in `--rows`:
1. a CSV of that many residents (valid 18-character ID numbers, phones, households) is uploaded to
   `POST /v1/incidents/{id}/imports?kind=residents` and polled until done: rows/s from the upload to
   the end, and the server's peak RSS growth (psutil) while it runs;
2. the same rows as an .xlsx (into another incident, so nobody is "already present");
3. in the same run, the ceiling: `COPY` of the same rows into a bare table of the same columns (no
   keys, no hash, no events, no counters), by asyncpg on one connection.
The ratio rows/s ÷ COPY rows/s is the figure to compare (absolute times drift on shared machines); the
RSS growth of the largest size beside the smallest's shows whether memory stays flat. Then a CSV of
`--evacuations` aggregate head counts (one village's count per row) shows the scale.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
import time
import uuid

import aiohttp
import asyncpg
import psutil
from harness import fresh_database, progress, relief_serve
from openpyxl import Workbook

from models.keys import Role
from relief import db, keys
from relief.auth import SYSTEM

HEADER = ["姓名", "证件号码", "联系电话", "家庭人数", "原住地区划代码", "原住地址"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def resident_id(index: int) -> str:
    """A valid 18-character resident ID (GB 11643), distinct per index."""
    first17 = f"130681{19500101 + index // 1000:08d}{index % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
    return first17 + check


def rows(count: int) -> list[list[str]]:
    return [[f"居民{n}", resident_id(n), f"139{n:08d}", str(n % 5 + 1), "130681", f"涿州市码头镇{n % 40}村"]
            for n in range(count)]


def as_csv(data: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *data])
    return out.getvalue().encode()


def as_xlsx(data: list[list[str]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def evacuation_rows(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行键", "人数", "转出地区划代码", "安置方式", "转移时间"])
    for n in range(count):
        writer.writerow([f"ZZ-{n}", n % 300 + 1, "130681", "分散安置", f"2023-08-0{n % 9 + 1} {n % 24:02d}:00"])
    return out.getvalue().encode()


async def prepare(url: str, count: int) -> tuple[str, list[str]]:
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        key = (await keys.create(conn, actor=SYSTEM, name="bench dispatcher", role=Role.dispatcher)).key
        incidents = [str(await conn.fetchval(
            "insert into incidents (code, title, type, severity, regions, started_at) values ($1, '涿州防汛（压测）',"
            " 'flood', 'I', '{130681}', now()) returning id", f"BENCH-IMPORT-{n}")) for n in range(count)]
    finally:
        await conn.close()
    return key, incidents


async def upload(base: str, key: str, incident: str, data: bytes, content_type: str, pid: int,
                 kind: str = "residents") -> tuple[float, int]:
    """Seconds from the upload to the import's end, and the server's RSS growth (bytes) meanwhile."""
    server = psutil.Process(pid)
    rss0, peak = server.memory_info().rss, 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
    started = time.perf_counter()
    async with aiohttp.ClientSession(base) as http:
        async with http.post(f"/v1/incidents/{incident}/imports?kind={kind}", data=data, headers=headers) as r:
            if r.status != 202:
                sys.exit(f"upload refused: {r.status} {await r.text()}")
            import_id = (await r.json())["id"]
        while True:
            peak = max(peak, server.memory_info().rss - rss0)
            async with http.get(f"/v1/imports/{import_id}", headers=headers) as r:
                state = await r.json()
            if state["state"] in ("done", "failed"):
                break
            progress(f"  {state['counts']['read']}/{state['counts']['total']} rows")
            await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    if state["state"] != "done" or state["counts"]["written"] != state["counts"]["total"]:
        sys.exit(f"import did not write every row: {state['state']} {state['counts']} {state['failure']}")
    return elapsed, peak


async def bare_copy(url: str, data: list[list[str]]) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("create temporary table bare (name text, id_number text, phone text, household_size int,"
                           " origin_region text, origin_address text)")
        records = [(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in data]
        started = time.perf_counter()
        await conn.copy_records_to_table("bare", records=records)
        return time.perf_counter() - started
    finally:
        await conn.close()


def model_ceiling(data: list[list[str]]) -> float:
    """Seconds to read the same rows as the import reads them and validate each by the API's own model
    (ResidentCreate), in this process, with no database at all: what any import that checks every row
    by that model can reach on one core, whatever it does with the database."""
    from models.residents import ResidentCreate
    from relief import import_files

    text = as_csv(data).decode()
    started = time.perf_counter()
    parsed = csv.reader(io.StringIO(text))
    columns = import_files.map_header("residents", next(parsed))
    for cells in parsed:
        body = import_files.row_body("residents", columns, cells, zone="Asia/Shanghai")
        body.pop("_key", None)
        body.pop("_refs", None)
        ResidentCreate.model_validate(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000", help="resident counts, comma-separated")
    parser.add_argument("--evacuations", type=int, default=1_000_000, help="head-count rows (0: none)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",") if n]
    results = []
    with fresh_database() as database:
        key, incidents = asyncio.run(prepare(database.url, 2 * len(sizes) + 1))
        with relief_serve(database) as served:
            for i, size in enumerate(sizes):
                data = rows(size)
                progress(f"CSV: {size} residents")
                csv_run = asyncio.run(upload(served.base, key, incidents[2 * i], as_csv(data), "text/csv", served.pid))
                progress(f"XLSX: {size} residents")
                xlsx_run = asyncio.run(upload(served.base, key, incidents[2 * i + 1], as_xlsx(data), XLSX,
                                              served.pid))
                copy_seconds = asyncio.run(bare_copy(database.url, data))
                results.append((size, copy_seconds, csv_run, xlsx_run, model_ceiling(data)))
            if args.evacuations:
                progress(f"CSV: {args.evacuations} head counts")
                evacuations = asyncio.run(upload(served.base, key, incidents[-1], evacuation_rows(args.evacuations),
                                                 "text/csv", served.pid, kind="evacuations"))
    for size, copy_seconds, csv_run, xlsx_run, model_seconds in results:
        copy_rate = size / copy_seconds
        print(f"\n{size:,} residents, same run:")
        print(f"  bare COPY (the ceiling)   {copy_rate:>10,.0f} rows/s")
        model_rate = size / model_seconds
        print(f"  the API's model alone     {model_rate:>10,.0f} rows/s   ratio {model_rate / copy_rate:.4f}   "
              "(read + validate each row by ResidentCreate, no database: the most a validated import can do)")
        for name, (seconds, rss) in (("import, CSV", csv_run), ("import, XLSX", xlsx_run)):
            rate = size / seconds
            print(f"  {name:<25} {rate:>10,.0f} rows/s   ratio {rate / copy_rate:.4f}   "
                  f"server RSS growth {rss / 2**20:.1f} MiB")
    if len(results) > 1:
        small, large = results[0], results[-1]
        csv_more, xlsx_more = ((large[i][1] - small[i][1]) / 2**20 for i in (2, 3))
        print(f"\nRSS growth, {large[0]:,} rows beside {small[0]:,}: CSV {csv_more:+.1f} MiB,"
              f" XLSX {xlsx_more:+.1f} MiB (target < 50 MiB)")
    if args.evacuations:
        seconds, rss = evacuations
        print(f"\n{args.evacuations:,} head counts (CSV): {seconds:.0f} s, {args.evacuations / seconds:,.0f} rows/s,"
              f" server RSS growth {rss / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
