"""Rosters (issue 12 item 1): who exactly a personnel pledge sends, with stable ids, under If-Match.

Who may read and how much of it (masking, events, logs, the personal-data watch): tests/test_roster_privacy.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from models.keys import Role
from models.rosters import RosterSet
from relief import db, rosters
from relief.auth import Principal
from relief.errors import Conflict
from tests.conftest import Api, incident_body
from tests.pledge_world import act, new_call, ok, personnel_call, personnel_pledge, pledge, problem


def person(n: int, **overrides: Any) -> dict[str, Any]:
    """A member with a phone of their own: 1370000000n."""
    body = {"name": f"队员{n}", "phone": f"1370000{n:04d}", "skills": ["boat_rescue"]}
    body.update(overrides)
    return body


async def team(world: Any, api: Any = None, headcount: int = 5) -> str:
    """A personnel pledge of `headcount` people by the world's owner (or `api`), pledged."""
    call = await new_call(world.dispatcher, world.incident_id, personnel_call())
    created = await pledge(api or world.owner.api, call["id"], personnel_pledge(headcount=headcount))
    return (await ok(created, 201))["id"]


async def put(api: Any, pledge_id: str, members: list[dict[str, Any]], version: str | None = "*"):
    headers = {} if version is None else {"If-Match": version}
    return await api.put(f"/v1/pledges/{pledge_id}/roster", json={"members": members}, headers=headers)


async def roster(api: Any, pledge_id: str) -> dict[str, Any]:
    return await ok(await api.get(f"/v1/pledges/{pledge_id}/roster"))


async def test_an_organization_sets_its_roster_and_reads_it_back(world, conn):
    pledge_id = await team(world)
    empty = await world.owner.api.get(f"/v1/pledges/{pledge_id}/roster")
    assert empty.headers["ETag"] == '"0"'
    assert (await empty.json())["members"] == [] and (await empty.json())["headcount"] == 5

    lead = person(1, role="lead", certificates=[{"type": "boat_operator", "number": "CB-3205-0042"}],
                  emergency_contact={"name": "家属", "phone": "13800009999"})
    response = await put(world.owner.api, pledge_id, [lead, person(2, phone="137-0000-0002")], version='"0"')
    body = await ok(response)
    assert response.headers["ETag"] == '"1"' and body["version"] == 1
    first, second = body["members"]
    assert first["name"] == "队员1" and first["role"] == "lead" and first["state"] == "standby"
    assert first["certificates"] == [{"type": "boat_operator", "number": "CB-3205-0042"}]
    assert first["emergency_contact"] == {"name": "家属", "phone": "13800009999"}
    assert second["phone"] == "13700000002"  # stored as one person's number: digits only
    assert second["role"] == "member" and second["emergency_contact"] is None
    assert body["pledge_id"] == pledge_id and body["organization_id"] == world.owner.id
    assert await roster(world.owner.api, pledge_id) == body  # what PUT sent, in its order
    assert await conn.fetchval("select roster_version from pledges where id = $1", pledge_id) == 1


async def test_listed_ids_stay_new_members_join_and_unlisted_ones_leave(world, conn):
    pledge_id = await team(world)
    a, b, c = (await ok(await put(world.owner.api, pledge_id, [person(1), person(2), person(3)])))["members"]
    # a and c trade phones, b changes name and phone, d joins.
    changed = [{**person(1, phone=c["phone"]), "id": a["id"]}, {**person(9, name="王强"), "id": b["id"]},
               {**person(3, phone=a["phone"]), "id": c["id"]}, person(4)]
    after = await ok(await put(world.owner.api, pledge_id, changed, version='"1"'))
    assert [m["id"] for m in after["members"][:3]] == [a["id"], b["id"], c["id"]]
    assert [m["phone"] for m in after["members"]] == [c["phone"], person(9)["phone"], a["phone"], person(4)["phone"]]
    assert after["members"][1]["name"] == "王强" and after["version"] == 2

    kept = await ok(await put(world.owner.api, pledge_id, [{**person(4), "id": after["members"][3]["id"]}]))
    assert [m["id"] for m in kept["members"]] == [after["members"][3]["id"]]
    removed = await conn.fetch("select id from roster_members where pledge_id = $1 and removed_at is not null",
                               pledge_id)
    assert {str(r["id"]) for r in removed} == {a["id"], b["id"], c["id"]}  # their rows stay, for their hours
    # A removed member's phone is free again (c had person 1's phone when they left); it is a new member.
    back = await ok(await put(world.owner.api, pledge_id, [person(1)]))
    assert back["members"][0]["id"] not in (a["id"], b["id"], c["id"], kept["members"][0]["id"])


async def test_an_unchanged_roster_is_no_new_version_and_no_event(world, conn):
    pledge_id = await team(world)
    first = await ok(await put(world.owner.api, pledge_id, [person(1)]))
    events = await conn.fetchval("select count(*) from events where type = 'roster.updated'")
    again = await ok(await put(world.owner.api, pledge_id, [{**person(1), "id": first["members"][0]["id"]}], '"1"'))
    assert again == first
    assert await conn.fetchval("select count(*) from events where type = 'roster.updated'") == events == 1


async def test_ids_must_be_this_rosters_and_one_lead_at_most(world):
    pledge_id, other_id = await team(world), await team(world)
    theirs = (await ok(await put(world.owner.api, other_id, [person(5)])))["members"][0]["id"]
    for members, pointer in (
        ([{**person(1), "id": theirs}], "/members/0/id"),
        ([person(1, role="lead"), person(2), person(3, role="lead")], "/members/2/role"),
    ):
        found = await problem(await put(world.owner.api, pledge_id, members), 422)
        assert found["errors"][0]["pointer"] == pointer, found
    mine = (await ok(await put(world.owner.api, pledge_id, [person(1)])))["members"][0]["id"]
    twice = await problem(await put(world.owner.api, pledge_id, [{**person(1), "id": mine}, {**person(2), "id": mine}]),
                          422)
    assert twice["errors"][0]["pointer"] == "/members/1/id"


async def test_a_roster_cannot_exceed_the_pledges_headcount(world):
    pledge_id = await team(world, headcount=2)
    found = await problem(await put(world.owner.api, pledge_id, [person(1), person(2), person(3)]), 409)
    assert found["headcount"] == 2
    assert (await roster(world.owner.api, pledge_id))["members"] == []
    await ok(await put(world.owner.api, pledge_id, [person(1), person(2)]))


async def test_a_phone_is_one_person_in_the_incident(world, dispatcher, conn):
    mine, also_mine = await team(world), await team(world)
    theirs = await team(world, world.other.api)
    kept = (await ok(await put(world.owner.api, mine, [person(1)])))["members"][0]
    # The same roster: a second entry with a listed member's phone; or two new entries with one phone.
    same = await problem(await put(world.owner.api, mine, [{**person(1), "id": kept["id"]}, person(1, name="别人")]),
                         409)
    assert same["errors"] == [{"pointer": "/members/1/phone", "code": "invalid",
                               "detail": "already on a live roster in this incident"}]
    await problem(await put(world.owner.api, also_mine, [person(2), person(2, name="同号")]), 409)
    # Another roster of the incident, the organization's own or another's, written as it may be.
    await problem(await put(world.owner.api, also_mine, [person(1)]), 409)
    taken = await problem(await put(world.other.api, theirs, [person(3), person(1, phone="137 0000 0001")]), 409)
    assert taken["errors"][0]["pointer"] == "/members/1/phone"
    text = str(taken)
    assert world.owner.id not in text and mine not in text and "队员1" not in text  # not whose
    # Another incident is another roll call.
    elsewhere = (await ok(await dispatcher.post("/v1/incidents", json=incident_body(code="2023-HAIHE")), 201))["id"]
    call = await new_call(dispatcher, elsewhere, personnel_call())
    there = (await ok(await pledge(world.other.api, call["id"], personnel_pledge()), 201))["id"]
    await ok(await put(world.other.api, there, [person(1)]))
    assert await conn.fetchval("select count(*) from roster_members where phone = '13700000001'") == 2


async def test_two_teams_racing_for_one_phone_get_one_200_and_one_409(world):
    mine, theirs = await team(world), await team(world, world.other.api)
    answers = await asyncio.gather(put(world.owner.api, mine, [person(7)]), put(world.other.api, theirs, [person(7)]))
    assert sorted(r.status for r in answers) == [200, 409]


async def test_if_match_is_required_and_must_be_current(world):
    pledge_id = await team(world)
    await problem(await put(world.owner.api, pledge_id, [person(1)], version=None), 428)
    await ok(await put(world.owner.api, pledge_id, [person(1)], version='"0"'))
    stale = await problem(await put(world.owner.api, pledge_id, [person(2)], version='"0"'), 412)
    assert stale["current_version"] == 1
    await problem(await put(world.owner.api, pledge_id, [person(2)], version='W/"1"'), 412)
    await ok(await put(world.owner.api, pledge_id, [person(2)], version='"1"'))


@pytest.mark.parametrize("state", ["accepted", "dispatched", "delivered"])
async def test_a_roster_changes_from_pledged_on(world, state):
    pledge_id = await team(world)
    await ok(await put(world.owner.api, pledge_id, [person(1)]))  # pledged: certificates checked before accepting
    steps = {"accepted": ["accept"], "dispatched": ["accept", "dispatch"], "delivered": ["accept", "dispatch"]}
    for action in steps[state] + (["deliver"] if state == "delivered" else []):
        await ok(await act(world.owner.api if action == "dispatch" else world.dispatcher, pledge_id, action))
    await ok(await put(world.owner.api, pledge_id, [person(2)]))


@pytest.mark.parametrize("action", ["reject", "withdraw"])
async def test_an_ended_pledges_roster_is_history(world, action):
    pledge_id = await team(world)
    await ok(await put(world.owner.api, pledge_id, [person(1)]))
    await ok(await act(world.owner.api if action == "withdraw" else world.dispatcher, pledge_id, action))
    found = await problem(await put(world.owner.api, pledge_id, [person(2)]), 409)
    assert found["state"] == {"reject": "rejected", "withdraw": "withdrawn"}[action]
    assert [m["name"] for m in (await roster(world.dispatcher, pledge_id))["members"]] == ["队员1"]


async def test_a_member_on_site_cannot_be_taken_off(world, conn):
    pledge_id = await team(world)
    on_site, other = (await ok(await put(world.owner.api, pledge_id, [person(1), person(2)])))["members"]
    await conn.execute("update roster_members set state = 'on_site' where id = $1", on_site["id"])
    found = await problem(await put(world.owner.api, pledge_id, [{**person(2), "id": other["id"]}]), 409)
    assert found["state"] == "on_site" and found["member_id"] == on_site["id"]
    # Changing what is known of them is fine; they stay on site.
    renamed = await ok(await put(world.owner.api, pledge_id, [{**person(1, name="改名"), "id": on_site["id"]}]))
    assert renamed["members"][0]["state"] == "on_site"


async def test_only_personnel_pledges_have_a_roster(world):
    goods = (await ok(await pledge(world.owner.api, world.call_id), 201))["id"]
    found = await problem(await put(world.owner.api, goods, [person(1)]), 422)
    assert found["errors"][0]["pointer"] == "/members"
    await problem(await world.owner.api.get(f"/v1/pledges/{goods}/roster"), 404)


async def test_who_may_set_and_read_a_roster(world, anonymous):
    pledge_id = await team(world)
    await ok(await put(world.owner.api, pledge_id, [person(1)]))
    for api in (world.dispatcher, world.admin, world.viewer):
        await problem(await put(api, pledge_id, [person(2)]), 403)  # the organization sets its own
        assert (await roster(api, pledge_id))["members"][0]["name"] == "队员1"
    # Another organization is told nothing, as for the pledge itself.
    await problem(await world.other.api.get(f"/v1/pledges/{pledge_id}/roster"), 404)
    await problem(await put(world.other.api, pledge_id, [person(2)]), 404)
    assert (await anonymous.get(f"/v1/pledges/{pledge_id}/roster")).status == 401
    # Any key of the organization is the organization.
    keys = f"/v1/organizations/{world.owner.id}/keys"
    second = Api(world.dispatcher.client, (await ok(await world.admin.post(keys, json={"name": "第二把"}), 201))["key"],
                 world.owner.id)
    assert (await roster(second, pledge_id))["members"][0]["phone"] == person(1)["phone"]


async def test_a_phone_taken_by_a_put_still_running_is_a_409_decided_by_the_index(world, database_url, conn):
    """The check before the write cannot see a phone another PUT has not committed yet: the unique index
    makes the later insert wait for it, then refuses it, and the answer is the same 409."""
    mine, theirs = await team(world), await team(world, world.other.api)
    body = RosterSet.model_validate({"members": [person(7)]})
    owner, other = (Principal(role=Role.organization, organization_id=uuid.UUID(o.id), organization_status="approved")
                    for o in (world.owner, world.other))
    first, second = await db.connect(database_url), await db.connect(database_url)
    try:
        transaction = first.transaction()
        await transaction.start()
        await rosters.put(first, actor=owner, pledge_id=uuid.UUID(mine), version=None, data=body)
        racing = asyncio.create_task(rosters.put(second, actor=other, pledge_id=uuid.UUID(theirs), version=None,
                                                 data=body))
        for _ in range(500):  # until the second insert waits on the first's index entry (5 s at most)
            waiting = "select wait_event_type = 'Lock' from pg_stat_activity where pid = $1"
            if await conn.fetchval(waiting, second.get_server_pid()):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second PUT never waited on the phone index")
        await transaction.commit()
        with pytest.raises(Conflict, match="already on a roster"):
            await racing
    finally:
        await first.close()
        await second.close()
