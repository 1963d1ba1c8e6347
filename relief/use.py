"""How donations were used: the figures of the public use report and of the summary, from counters.

Everything here is read from the incident's counters and its funds (one row per currency and earmark),
moved in the transactions of the ledger entries, so the report is O(1) in the size of the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

import asyncpg

from models.use import FundFigures, GoodsUse, LedgerFigures, MoneyUse, PublicUse, UseFigures
from relief import chain, counters
from relief.errors import NotFound

ZERO = Decimal(0)

Tally = dict[tuple[str, str], Decimal]


async def funds(conn: asyncpg.Connection, incident_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "select currency, purpose, region, received, paid from funds where incident_id = $1 "
        "order by currency, purpose, region",
        incident_id,
    )


def figures(tally: Tally, fund_rows: Iterable[asyncpg.Record]) -> UseFigures:
    """Money and goods in and out, from the counters (names in relief/ledger.py, relief/stock.py and
    relief/disbursements.py) and the funds."""
    money: dict[str, dict] = {}

    def currency(code: str) -> dict:
        return money.setdefault(code, {"received": ZERO, "paid": ZERO, "by_purpose": {}, "funds": []})

    goods: dict[tuple[str, str], dict[str, Decimal]] = {}

    def item(key: str) -> dict[str, Decimal]:
        name, _, unit = key.partition("|")
        return goods.setdefault((name, unit), dict.fromkeys(
            ("received", "distributed", "written_off", "in_transit", "people_reached"), ZERO))

    goods_counters = {"goods_received": "received", "goods_distributed": "distributed",
                      "goods_written_off": "written_off", "goods_in_transit": "in_transit"}
    for (name, key), value in tally.items():
        if name == "money_received":
            currency(key)["received"] += value
        elif name == "money_disbursed":
            currency(key)["paid"] += value
        elif name == "disbursed_by_purpose":
            code, _, purpose = key.partition("|")
            by_purpose = currency(code)["by_purpose"]
            by_purpose[purpose] = by_purpose.get(purpose, ZERO) + value
        elif name in goods_counters:
            item(key)[goods_counters[name]] += value
        elif name == "people_reached" and key:
            item(key)["people_reached"] += value
    for fund in fund_rows:
        currency(fund["currency"])["funds"].append(FundFigures(
            purpose=fund["purpose"] or None, region=fund["region"] or None, received=fund["received"],
            paid=fund["paid"], balance=fund["received"] - fund["paid"],
        ))
    return UseFigures(
        money=[
            MoneyUse(currency=code, received=m["received"], paid=m["paid"], balance=m["received"] - m["paid"],
                     paid_by_purpose={p: v for p, v in sorted(m["by_purpose"].items()) if v},
                     funds=m["funds"])
            for code, m in sorted(money.items())
        ],
        goods=[
            GoodsUse(item=name, unit=unit, **g, on_hand=g["received"] - g["distributed"] - g["written_off"]
                    - g["in_transit"])
            for (name, unit), g in sorted(goods.items())
        ],
        people_reached=tally.get(("people_reached", ""), ZERO),
    )


async def report(conn: asyncpg.Connection, *, incident_id: UUID) -> PublicUse:
    """The public use report: one consistent picture of the incident's use of donations."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        incident = await conn.fetchrow("select id, code, title, now() as now from incidents where id = $1",
                                       incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        tally = await counters.read(conn, incident_id)
        fund_rows = await funds(conn, incident_id)
        names = await conn.fetch(
            """
            select o.name from incident_participants p join organizations o on o.id = p.organization_id
             where p.incident_id = $1
            union
            select o.name from disbursements d join organizations o on o.id = d.recipient_organization_id
             where d.incident_id = $1 and d.status = 'approved' and d.reverses is null
               and not exists (select 1 from disbursements r where r.reverses = d.id)  -- a reversed payment paid no one
            order by 1
            """,
            incident_id,
        )
        head = await chain.head(conn, incident_id)
    use = figures(tally, fund_rows)
    return PublicUse(
        incident_id=incident["id"], code=incident["code"], title=incident["title"], as_of=incident["now"],
        organizations=[r["name"] for r in names], **dict(use),
        ledger=LedgerFigures(entries=head.entries, head=head.head, as_of=head.as_of),
    )
