"""The Doksuri demo, in the field: named rosters for three volunteer teams, their tasks, who is on site
now, and one member overdue, so the console's alarm is lit on first run.

relief/demo.py calls `record()` in its one transaction, after the pledges (the three teams' personnel
pledges are accepted, dispatched or delivered by then) and before the scenario's dispatcher keys are
revoked. Everything goes through the use cases the API calls (rosters.put, tasks.create,
assignments.assign/answer, deployments.check_in/check_out, tasks.finish), so counters, events and
members' states come out as real work would leave them and `relief reconcile` finds nothing.

Times: a real team checked in hours ago, so check-ins and check-outs pass the deployments' clock
(`at=`) relative to the moment of loading. One member of 蓝天 checked in 5 hours before loading and was
due back 3 hours before it: past any grace up to 3 hours (the default is 15 minutes), so the overdue
watch every `relief serve` runs (relief/overdue.py) raises exactly one deployment.overdue within its
first round. Everyone else on site is due back 46 hours after loading: the demo shows one alarm, not
seven, for the two days after it is loaded.

Names, phones and certificate numbers are made up; phones are from the unassigned 1390000xxxx range
(team members 139000041xx–43xx, their emergency contacts 139000051xx–53xx).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from models.deployments import CheckinCreate, CheckoutCreate
from models.keys import Role
from models.rosters import RosterSet
from models.tasks import TaskCreate, TaskDone
from relief import assignments, deployments, rosters, tasks
from relief.auth import Principal

# (name, phone, role, skills, certificates [(type, number)], emergency contact (name, phone))
Member = tuple[str, str, str, list[str], list[tuple[str, str]], tuple[str, str]]

# Team slug (relief/demo_data.py ORGANIZATIONS) → its roster; the lead is the pledge's named lead.
ROSTERS: dict[str, list[Member]] = {
    "wz_bluesky": [
        ("王永军", "13900001001", "lead", ["boat_rescue", "search_and_rescue"],
         [("boat_operator", "JS-CT-2019-0412"), ("first_aid", "RC-320506-1187")], ("李秀英", "13900005101")),
        ("周志强", "13900004101", "member", ["boat_rescue"], [("boat_operator", "JS-CT-2020-0733")],
         ("周美玲", "13900005102")),
        ("沈国栋", "13900004102", "member", ["boat_rescue", "swimming"], [("lifeguard", "JS-JSY-2021-0098")],
         ("沈丽华", "13900005103")),
        ("陈小飞", "13900004103", "member", ["search_and_rescue"], [("first_aid", "RC-320506-2290")],
         ("陈建平", "13900005104")),
        ("钱海峰", "13900004104", "member", ["boat_rescue"], [], ("钱玉兰", "13900005105")),
        ("朱文斌", "13900004105", "member", ["driving", "logistics"], [], ("朱红梅", "13900005106")),
    ],
    "ds_water": [
        ("金海林", "13900001002", "lead", ["boat_rescue"], [("boat_operator", "JS-CT-2017-0158")],
         ("金月娥", "13900005201")),
        ("徐阿根", "13900004201", "member", ["boat_rescue"], [("boat_operator", "JS-CT-2018-0266")],
         ("徐小妹", "13900005202")),
        ("蔡建明", "13900004202", "member", ["boat_rescue", "first_aid"], [("first_aid", "RC-320506-0871")],
         ("蔡丽娟", "13900005203")),
        ("严卫东", "13900004203", "member", ["driving"], [], ("严雪芬", "13900005204")),
        ("顾晓东", "13900004204", "member", ["boat_rescue"], [], ("顾惠珍", "13900005205")),
    ],
    "xc_rescue": [
        ("杨建华", "13900001003", "lead", ["boat_rescue", "driving"], [("first_aid", "RC-320507-0402")],
         ("杨淑芬", "13900005301")),
        ("邱伟", "13900004301", "member", ["logistics"], [], ("邱兰英", "13900005302")),
        ("汤俊杰", "13900004302", "member", ["logistics", "driving"], [], ("汤秀珍", "13900005303")),
        ("孙浩然", "13900004303", "member", ["search_and_rescue"], [], ("孙桂香", "13900005304")),
    ],
}

# slug: task body (POST /v1/incidents/{id}/tasks), CAP area notation and 6-digit region codes.
TASKS: dict[str, dict[str, Any]] = {
    "yangwan": {
        "title": "东山镇杨湾村被困群众水上救援", "skill": "boat_rescue", "headcount": 6, "priority": "critical",
        "expected_minutes": 240,
        "area": {"description": "吴中区东山镇杨湾村（村内积水1.2米，部分老人滞留二楼）",
                 "circle": "31.0745,120.3982 1.5", "region": "320506"},
    },
    "embankment": {
        "title": "临湖镇太湖大堤险段装填沙袋加固", "skill": "logistics", "headcount": 10, "priority": "high",
        "expected_minutes": 480,
        "area": {"description": "吴中区临湖镇太湖大堤浦庄段渗水点",
                 "polygon": "31.1380,120.4450 31.1420,120.4480 31.1400,120.4530 31.1360,120.4500 31.1380,120.4450",
                 "region": "320506"},
    },
    "elderly": {
        "title": "东山镇敬老院老人转移至临湖镇安置点", "skill": "boat_rescue", "headcount": 4, "priority": "high",
        "expected_minutes": 360,
        "area": {"description": "吴中区东山镇敬老院（低洼地段，一楼进水）", "point": "31.0860,120.4120",
                 "region": "320506"},
    },
    "wangting": {
        "title": "望亭镇沿河低洼住户巡查转移", "skill": "boat_rescue", "headcount": 4, "priority": "normal",
        "expected_minutes": 180,
        "area": {"description": "相城区望亭镇京杭运河沿岸低洼住户", "circle": "31.4450,120.4300 2",
                 "region": "320507"},
    },
    "xishan": {
        "title": "金庭镇渔港船只加固和人员撤离排查", "skill": "boat_rescue", "headcount": 6, "priority": "normal",
        "area": {"description": "吴中区金庭镇（西山）渔港", "point": "31.1370,120.2830", "region": "320506"},
    },
}

# What each team did, in order: (task, team, answer, members checked in by roster position, how).
# how: ("on_site",) | ("overdue", position) | ("done", people_rescued, people_transferred, note) | None.
PLAN: list[tuple[str, str, str | None, list[int], tuple]] = [
    ("elderly", "ds_water", "accept", [0, 1, 2, 3],
     ("done", 0, 46, "46名老人（其中卧床9人）经水路转移至临湖镇安置点，无人员伤亡")),
    ("yangwan", "wz_bluesky", "accept", [0, 1, 2, 3], ("overdue", 2)),
    ("embankment", "xc_rescue", "accept", [0, 1, 2], ("on_site",)),
    ("wangting", "ds_water", None, [], ()),  # assigned, the team has not answered yet
    # "xishan": open, no team yet
]

CHECKED_IN_AGO = timedelta(hours=2)
DUE_BACK_IN = timedelta(hours=46)
OVERDUE_CHECKED_IN_AGO = timedelta(hours=5)
OVERDUE_DUE_AGO = timedelta(hours=3)
DONE_CHECKED_IN_AGO = timedelta(hours=9)
DONE_CHECKED_OUT_AGO = timedelta(hours=3)


@dataclass(frozen=True)
class FieldResult:
    members: int
    tasks: int
    on_site: int
    overdue: int


def _roster(members: list[Member]) -> RosterSet:
    return RosterSet.model_validate({"members": [
        {"name": name, "phone": phone, "role": role, "skills": skills,
         "certificates": [{"type": t, "number": n} for t, n in certificates],
         "emergency_contact": {"name": contact[0], "phone": contact[1]}}
        for name, phone, role, skills, certificates, contact in members
    ]})


async def _team(conn: asyncpg.Connection, incident_id: UUID, organization_id: UUID) -> UUID:
    """The team's personnel pledge that can be assigned (accepted, dispatched or delivered)."""
    return await conn.fetchval(
        """
        select id from pledges
         where incident_id = $1 and organization_id = $2 and kind = 'personnel'
           and status in ('accepted', 'dispatched', 'delivered')
         order by created_at limit 1
        """,
        incident_id, organization_id,
    )


async def record(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID, orgs: dict[str, UUID],
                 names: dict[str, str]) -> FieldResult:
    """Rosters, tasks, assignments and check-ins; one member overdue. Call in the demo's transaction."""
    now: datetime = await conn.fetchval("select now()")
    teams: dict[str, tuple[Principal, UUID, list[UUID]]] = {}
    for slug, members in ROSTERS.items():
        team = Principal(role=Role.organization, organization_id=orgs[slug], organization_status="approved",
                         name=names[slug])
        pledge_id = await _team(conn, incident_id, orgs[slug])
        roster = await rosters.put(conn, actor=team, pledge_id=pledge_id, version={0}, data=_roster(members))
        teams[slug] = (team, pledge_id, [m.id for m in roster.members])

    task_ids = {}
    for slug, body in TASKS.items():
        task = await tasks.create(conn, actor=dispatcher, incident_id=incident_id,
                                  data=TaskCreate.model_validate(body))
        task_ids[slug] = task.id

    on_site = overdue = 0
    for task_slug, team_slug, answer, positions, how in PLAN:
        team, pledge_id, member_ids = teams[team_slug]
        task_id = task_ids[task_slug]
        assignment = await assignments.assign(conn, actor=dispatcher, task_id=task_id, pledge_id=pledge_id)
        if answer is not None:
            await assignments.answer(conn, actor=team, assignment_id=assignment.id, action=answer)
        if not positions:
            continue
        location = {"lat": 31.0745, "lon": 120.3982} if task_slug == "yangwan" else None
        named = [member_ids[p] for p in positions]
        if how[0] == "done":
            await deployments.check_in(conn, actor=team, task_id=task_id, at=now - DONE_CHECKED_IN_AGO,
                                       data=CheckinCreate.model_validate({
                                           "members": named, "expected_back_at": now - DONE_CHECKED_OUT_AGO}))
            await deployments.check_out(conn, actor=team, task_id=task_id, at=now - DONE_CHECKED_OUT_AGO,
                                        data=CheckoutCreate.model_validate({"members": named}))
            _, rescued, transferred, note = how
            await tasks.finish(conn, actor=dispatcher, task_id=task_id, data=TaskDone(
                people_rescued=rescued, people_transferred=transferred, note=note))
            continue
        late = [member_ids[how[1]]] if how[0] == "overdue" else []
        if late:
            # Checked in first, alone: the boat that went furthest in and has not reported back.
            await deployments.check_in(conn, actor=team, task_id=task_id, at=now - OVERDUE_CHECKED_IN_AGO,
                                       data=CheckinCreate.model_validate({
                                           "members": late, "expected_back_at": now - OVERDUE_DUE_AGO,
                                           "location": location}))
            overdue += 1
        rest = [m for m in named if m not in late]
        await deployments.check_in(conn, actor=team, task_id=task_id, at=now - CHECKED_IN_AGO,
                                   data=CheckinCreate.model_validate({
                                       "members": rest, "expected_back_at": now + DUE_BACK_IN,
                                       "location": location}))
        on_site += len(named)
    return FieldResult(members=sum(len(m) for m in ROSTERS.values()), tasks=len(TASKS), on_site=on_site,
                 overdue=overdue)
