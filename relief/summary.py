"""The incident summary (served from counters) and reconcile (recompute every counter from the rows)."""

from __future__ import annotations

from collections import Counter as Tally
from contextlib import nullcontext
from decimal import Decimal
from uuid import UUID

import asyncpg

from models.summary import (
    CallFigures,
    Difference,
    GoodsFigures,
    GoodsItem,
    MoneyFigures,
    PersonnelFigures,
    ResidentFigures,
    ShelterFigures,
    Summary,
)
from relief import counters, deployments, disbursements, ledger, residents, shelters, stock, stock_levels, tasks, use
from relief.errors import NotFound

ZERO = Decimal(0)


async def summary(conn: asyncpg.Connection, *, incident_id: UUID) -> Summary:
    """Every figure from counters and per-call totals: no scan of pledges, donations or residents."""
    # One consistent picture: its own snapshot, or the caller's (a situation report reads more with it).
    snapshot = nullcontext() if conn.is_in_transaction() else conn.transaction(isolation="repeatable_read",
                                                                               readonly=True)
    async with snapshot:
        incident = await conn.fetchrow("select id, code, title, status, now() as now from incidents where id = $1",
                                       incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        tally = await counters.read(conn, incident_id)
        calls = await conn.fetch(
            """
            select id, title, kind, status, requested, committed, delivered, committed_value, currency, item, unit
              from calls where incident_id = $1 and status <> 'draft' order by created_at, id
            """,
            incident_id,
        )
        shelter_rows = await conn.fetch(
            "select id, name, capacity, occupancy, status from shelters where incident_id = $1 order by created_at, id",
            incident_id,
        )
        fund_rows = await use.funds(conn, incident_id)

    def count(name: str, key: str = "") -> Decimal:
        return tally.get((name, key), ZERO)

    money: dict[str, dict[str, Decimal]] = {}
    items: dict[tuple[str, str], dict[str, Decimal]] = {}
    personnel = {"pledged": ZERO, "delivered": ZERO}
    value_pledged = ZERO
    for call in calls:
        if call["kind"] == "money":
            money.setdefault(call["currency"], {"pledged": ZERO, "received": ZERO})["pledged"] += call["committed"]
        elif call["kind"] == "goods":
            item = items.setdefault((call["item"], call["unit"]), {"pledged": ZERO, "received": ZERO})
            item["pledged"] += call["committed"]
            value_pledged += call["committed_value"]
        else:
            personnel["pledged"] += call["committed"]
            personnel["delivered"] += call["delivered"]
    for (name, key), value in tally.items():
        if name == "money_received":
            money.setdefault(key, {"pledged": ZERO, "received": ZERO})["received"] += value
        elif name == "goods_received":
            item_name, _, unit = key.partition("|")
            items.setdefault((item_name, unit), {"pledged": ZERO, "received": ZERO})["received"] += value
    return Summary(
        incident_id=incident["id"],
        code=incident["code"],
        title=incident["title"],
        status=incident["status"],
        as_of=incident["now"],
        organizations_participating=int(count("participants")),
        money=[MoneyFigures(currency=c, **v) for c, v in sorted(money.items())],
        goods=GoodsFigures(
            value_pledged=value_pledged,
            value_received={k: v for (n, k), v in sorted(tally.items()) if n == "goods_received_value"},
            items=[GoodsItem(item=i, unit=u, **v) for (i, u), v in sorted(items.items())],
        ),
        personnel=PersonnelFigures(**personnel),
        residents=ResidentFigures(
            evacuated=count("evacuated", "individual") + count("evacuated", "aggregate"),
            individual=count("evacuated", "individual"),
            aggregate=count("evacuated", "aggregate"),
            sheltered_now=count("sheltered"),
            centralized=count("placement", "centralized"),
            dispersed=count("placement", "dispersed"),
            returned=count("returned"),
        ),
        shelters=[ShelterFigures(**dict(r)) for r in shelter_rows],
        calls_by_status=dict(Tally(c["status"] for c in calls)),
        calls=[
            CallFigures(
                id=c["id"], title=c["title"], kind=c["kind"], status=c["status"], requested=c["requested"],
                committed=c["committed"], delivered=c["delivered"],
                coverage=min(Decimal(1), c["delivered"] / c["requested"]).quantize(Decimal("0.0001")),
                item=c["item"] if c["kind"] == "goods" else None,
                unit=c["unit"] if c["kind"] == "goods" else None,
                currency=c["currency"] if c["kind"] == "money" else None,
            )
            for c in calls
        ],
        use=use.figures(tally, fund_rows),
        field=deployments.figures(tally, incident["now"]),  # people on site, person-hours
        tasks=tasks.figures(tally),  # tasks by status, outcome figures
    )


async def open_incidents(conn: asyncpg.Connection, *, limit: int = 200) -> list[asyncpg.Record]:
    """The open incidents, newest first, with only what the public may see of them."""
    return await conn.fetch(
        """
        select id as incident_id, code, title, type, severity, status, regions, started_at
          from incidents where status = 'open' order by started_at desc, id desc limit $1
        """,
        limit,
    )


async def participant_names(conn: asyncpg.Connection, *, incident_id: UUID) -> list[str]:
    """The names of the organizations taking part (for the public page: names only)."""
    rows = await conn.fetch(
        """
        select o.name from incident_participants p join organizations o on o.id = p.organization_id
         where p.incident_id = $1 order by o.name
        """,
        incident_id,
    )
    return [r["name"] for r in rows]


async def _expected_participants(conn: asyncpg.Connection, incident_id: UUID) -> set[UUID]:
    rows = await conn.fetch(
        """
        select organization_id from pledges where incident_id = $1
        union select donor_organization_id from donations where incident_id = $1 and donor_organization_id is not null
        union select organization_id from offers where incident_id = $1
        union select assisted_by from residents where incident_id = $1 and assisted_by is not null
        union select assisted_by from evacuations where incident_id = $1 and assisted_by is not null
        """,
        incident_id,
    )
    return {r[0] for r in rows}


async def _call_differences(conn: asyncpg.Connection, incident_id: UUID) -> list[Difference]:
    rows = await conn.fetch(
        """
        select c.id, c.committed, c.in_transit, c.delivered, c.committed_value,
               coalesce(sum(case when p.status in ('pledged', 'accepted', 'dispatched') then p.quantity
                                 when p.status = 'delivered' then p.delivered_quantity end), 0) as e_committed,
               coalesce(sum(p.quantity) filter (where p.status = 'dispatched'), 0) as e_in_transit,
               coalesce(sum(p.delivered_quantity) filter (where p.status = 'delivered'), 0) as e_delivered,
               coalesce(sum(p.estimated_value) filter (where p.status not in ('rejected', 'withdrawn')), 0)
                   as e_committed_value
          from calls c left join pledges p on p.call_id = c.id
         where c.incident_id = $1
         group by c.id
        """,
        incident_id,
    )
    out = []
    for r in rows:
        for name in ("committed", "in_transit", "delivered", "committed_value"):
            if r[name] != r[f"e_{name}"]:
                out.append(Difference(incident_id=incident_id, counter=f"call.{name}", key=str(r["id"]),
                                      stored=r[name], recomputed=r[f"e_{name}"]))
    return out


async def reconcile(conn: asyncpg.Connection, *, incident_id: UUID) -> list[Difference]:
    """Recompute every counter of an incident from its rows; the differences (there should be none)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        stored = await counters.read(conn, incident_id)
        members = {r[0] for r in await conn.fetch(
            "select organization_id from incident_participants where incident_id = $1", incident_id)}
        expected = {
            **await ledger.expected_counters(conn, incident_id),
            **await residents.expected_counters(conn, incident_id),
            **await disbursements.expected_counters(conn, incident_id),
            **await stock.expected_counters(conn, incident_id),  # goods moved, people reached
            **await tasks.expected_counters(conn, incident_id),  # tasks by status, people rescued
            **await deployments.expected_counters(conn, incident_id),  # on site, person-hours
        }
        expected_members = await _expected_participants(conn, incident_id)
        expected[("participants", "")] = Decimal(len(expected_members))
        differences = await _call_differences(conn, incident_id)
        differences += await disbursements.differences(conn, incident_id)  # funds' received and paid
        differences += await stock_levels.differences(conn, incident_id)  # each location's stock levels
        differences += await deployments.state_differences(conn, incident_id)  # members on site = open stints
        for shelter in await shelters.occupancy_differences(conn, incident_id):
            differences.append(Difference(incident_id=incident_id, counter="shelter.occupancy",
                                          key=str(shelter["shelter_id"]), stored=shelter["stored"],
                                          recomputed=shelter["expected"]))
    for key in sorted(set(stored) | set(expected)):
        if stored.get(key, ZERO) != expected.get(key, ZERO):
            differences.append(Difference(incident_id=incident_id, counter=key[0], key=key[1],
                                          stored=stored.get(key, ZERO), recomputed=expected.get(key, ZERO)))
    if members != expected_members:
        differences.append(Difference(incident_id=incident_id, counter="participants.members", key="",
                                      stored=len(members), recomputed=len(expected_members)))
    return differences
