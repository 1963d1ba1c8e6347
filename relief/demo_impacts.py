"""The Doksuri demo's impact figures (灾情统计): what the districts reported upward, and two other counts.

The government's figures come in two rounds, a first count on the evening of 29 July and a verified,
higher one at noon on 31 July (as district reports do while water recedes and inspectors reach every
village); nobody died or went missing. Two organizations counted the people affected where they worked,
and a newspaper printed a figure of its own, each differing from the government's: the console shows
every source side by side. Every figure is made up, in proportion to the demo's own evacuations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from models.impacts import ImpactCreate
from relief import impacts
from relief.auth import Principal


def _beijing(month: int, day: int, hour: int) -> datetime:
    return datetime(2023, month, day, hour, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


FIRST_COUNT = _beijing(7, 29, 18)
VERIFIED_COUNT = _beijing(7, 31, 12)

# region → figure → (first count, verified count). People and houses are whole; hectares and yuan exact.
GOVERNMENT: dict[str, dict[str, tuple[str, str]]] = {
    "320506": {  # 吴中区: the Taihu shore polders
        "affected": ("8600", "12400"), "emergency_relocated": ("1200", "1860"), "houses_damaged": ("14", "37"),
        "crops_affected_ha": ("420.5", "886.3"), "direct_loss": ("3850000.00", "7620000.00"),
        "dead": ("0", "0"), "missing": ("0", "0"),
    },
    "320507": {  # 相城区
        "affected": ("5200", "7300"), "emergency_relocated": ("700", "1050"), "houses_damaged": ("9", "21"),
        "crops_affected_ha": ("310.0", "512.8"), "direct_loss": ("2100000.00", "3960000.00"),
        "dead": ("0", "0"), "missing": ("0", "0"),
    },
    "320583": {  # 昆山市: 锦溪, 周庄
        "affected": ("4100", "6350"), "emergency_relocated": ("690", "960"), "houses_damaged": ("6", "18"),
        "crops_affected_ha": ("265.2", "430.6"), "direct_loss": ("1750000.00", "3280000.00"),
        "dead": ("0", "0"), "missing": ("0", "0"),
    },
    "320585": {  # 太仓市: 浏河 on the Yangtze
        "affected": ("1500", "2150"), "emergency_relocated": ("220", "310"), "houses_damaged": ("3", "7"),
        "crops_affected_ha": ("118.4", "205.9"), "direct_loss": ("640000.00", "1180000.00"),
        "dead": ("0", "0"), "missing": ("0", "0"),
    },
}
NOTES = ("区（市）应急管理局初报", "区（市）应急管理局核报")

# (organization slug, region, figure, value, as of, note): the organizations' own counts.
ORGANIZATION_COUNTS = [
    ("wz_bluesky", "320506", "affected", "13800", _beijing(7, 30, 20), "队员沿太湖各村入户摸排，含投亲靠友人员"),
    ("ks_charity", "320583", "affected", "5600", _beijing(7, 30, 15), "慈善总会志愿者在锦溪、周庄走访统计"),
]
# (region, figure, value, as of, note)
MEDIA_COUNTS = [
    ("320507", "affected", "9000", _beijing(7, 30, 9), "《苏州日报》报道：相城区约9000人受灾"),
]


async def _record(conn: asyncpg.Connection, dispatcher: Principal, incident_id: UUID, bodies: list[dict]) -> int:
    for body in bodies:
        await impacts.record(conn, actor=dispatcher, incident_id=incident_id, data=ImpactCreate.model_validate(body))
    return len(bodies)


def _government(round_: int) -> list[dict]:
    as_of = (FIRST_COUNT, VERIFIED_COUNT)[round_]
    return [{"region": region, "figure": figure, "value": values[round_], "source": "government", "as_of": as_of,
             "note": NOTES[round_]} for region, figures in GOVERNMENT.items() for figure, values in figures.items()]


async def record_first(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID) -> int:
    """The districts' first count (the evening of 29 July), before the initial situation report; returns how
    many. Call in the load's transaction."""
    return await _record(conn, dispatcher, incident_id, _government(0))


async def record_later(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID,
                       orgs: dict[str, UUID]) -> int:
    """The organizations' and the newspaper's counts (30 July) and the districts' verified count (31 July);
    returns how many. Call in the load's transaction."""
    bodies = [{"region": region, "figure": figure, "value": value, "source": "organization",
               "organization_id": orgs[slug], "as_of": as_of, "note": note}
              for slug, region, figure, value, as_of, note in ORGANIZATION_COUNTS]
    bodies += [{"region": region, "figure": figure, "value": value, "source": "media", "as_of": as_of, "note": note}
               for region, figure, value, as_of, note in MEDIA_COUNTS]
    return await _record(conn, dispatcher, incident_id, bodies + _government(1))


async def record(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID,
                 orgs: dict[str, UUID]) -> int:
    """Both rounds at once; returns how many. Call in the load's transaction."""
    return (await record_first(conn, dispatcher=dispatcher, incident_id=incident_id)
            + await record_later(conn, dispatcher=dispatcher, incident_id=incident_id, orgs=orgs))


__all__ = ["record", "record_first", "record_later"]
