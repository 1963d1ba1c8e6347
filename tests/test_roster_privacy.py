"""Who sees how much of a roster: staff and the organization whole, viewers masked, another organization
nothing; events, webhooks and logs carry no member (issue 12, DESIGN.md invariants 10 and 14). And the
suite-wide personal-data watch, extended to team members, can fail."""

from __future__ import annotations

import json
import uuid
from typing import ClassVar

import pytest

from relief import masking
from tests.conftest import Api, check_events
from tests.personal_data import STAFF, WATCH, PersonalDataWatch
from tests.test_rosters import person, put, roster, team
from tests.webhook_world import subscribe

CERTIFICATE = "CB-3205-0042"
FAMILY = "13800009999"


def lead() -> dict:
    return person(1, role="lead", certificates=[{"type": "boat_operator", "number": CERTIFICATE}],
                  emergency_contact={"name": "张丽", "phone": FAMILY})


def phones(members: list[dict]) -> set[str]:
    return {p for m in members for p in (m["phone"], (m.get("emergency_contact") or {}).get("phone")) if p}


async def test_viewers_read_names_with_contacts_masked_and_staff_read_them_whole(world):
    pledge_id = await team(world)
    sent = [lead(), person(2)]
    (await put(world.owner.api, pledge_id, sent)).close()
    seen = await roster(world.viewer, pledge_id)
    first, second = seen["members"]
    assert first["name"] == "队员1" and first["phone"] == "137****0001" and second["phone"] == "137****0002"
    assert first["emergency_contact"] == {"name": "张丽", "phone": "138****9999"}
    assert first["certificates"] == [{"type": "boat_operator", "number": "****0042"}]
    for api in (world.dispatcher, world.admin, world.owner.api):
        whole = await roster(api, pledge_id)
        assert phones(whole["members"]) == phones(sent)
        assert whole["members"][0]["certificates"][0]["number"] == CERTIFICATE


async def test_the_event_carries_counts_and_reaches_the_organizations_own_webhooks(world, receiver, worker, conn):
    own = await subscribe(world.owner.api, receiver.url("/own"), event_types=["roster.*"])
    await subscribe(world.other.api, receiver.url("/other"), event_types=["*"])
    await subscribe(world.dispatcher, receiver.url("/bureau"), event_types=["roster.updated"])
    pledge_id = await team(world)
    first = (await (await put(world.owner.api, pledge_id, [lead(), person(2)])).json())["members"]
    (await put(world.owner.api, pledge_id, [{**person(2), "id": first[1]["id"]}, person(3)])).close()

    rows = await conn.fetch("select * from events where type = 'roster.updated' order by id")
    assert [(r["entity_type"], str(r["entity_id"]), str(r["organization_id"])) for r in rows] == \
        [("pledge", pledge_id, world.owner.id)] * 2
    assert rows[1]["before"] == {"pledge_id": pledge_id, "organization_id": world.owner.id, "headcount": 5,
                                 "members": 2, "leads": 1, "version": 1}
    assert rows[1]["after"] == {"pledge_id": pledge_id, "organization_id": world.owner.id, "headcount": 5,
                                "members": 2, "leads": 0, "added": 1, "removed": 1, "version": 2}

    await worker.tick()
    for path in ("/own", "/bureau"):
        got = [r.event for r in receiver.at(path)]
        assert [e["type"] for e in got] == ["roster.updated", "roster.updated"], path
        assert got[1]["data"]["members"] == 2
    assert not [r for r in receiver.at("/other") if r.event["type"] == "roster.updated"]
    everything = " ".join(r.body for r in receiver.received)
    assert not [p for p in phones([lead(), person(2), person(3)]) | {"队员1", "张丽"} if p in everything]
    assert own["id"]


async def test_no_member_phone_reaches_a_log_line(world):
    pledge_id, theirs = await team(world, headcount=2), await team(world, world.other.api)
    await put(world.owner.api, pledge_id, [lead(), person(2)])
    await put(world.owner.api, pledge_id, [lead(), person(2), person(3)])  # 409: beyond the headcount
    await put(world.other.api, theirs, [person(1)])  # 409: taken
    await put(world.owner.api, pledge_id, [person(4, phone="12")])  # 422
    assert WATCH.log and not [line for line in WATCH.log if any(p in line for p in phones([lead(), person(3)]))]


# ── the watch itself ──────────────────────────────────────────────────────────────────────────────

ORG, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
PHONE = "13700000001"


def watching() -> PersonalDataWatch:
    watch = PersonalDataWatch()
    watch.remember("PUT", f"/v1/pledges/{uuid.uuid4()}/roster", {"members": [lead()]}, reader=ORG)
    return watch


def test_the_watch_allows_team_contacts_to_staff_and_their_organization_only():
    watch = watching()
    text = json.dumps({"phone": PHONE, "emergency_contact": {"phone": FAMILY}})
    watch.check(text, "the organization's read", reader=ORG)
    watch.check(text, "a dispatcher's read", reader=STAFF)
    watch.check('{"phone": "137****0001"}', "a viewer's masked read", reader="rk_viewer")
    for reader in ("rk_viewer", OTHER, None):
        with pytest.raises(AssertionError, match="personal data"):
            watch.check(text, "a read", reader=reader)
    with pytest.raises(AssertionError, match="personal data"):
        watch.check(f"calling {FAMILY}", "a log line")
    watch.remember("GET", "/v1/pledges/x/roster", {"members": [person(5)]}, reader=ORG)
    watch.check(person(5)["phone"], "anything")  # only a PUT of a roster is remembered


async def test_the_watch_catches_a_roster_shown_unmasked_to_a_viewer(world, monkeypatch):
    pledge_id = await team(world)
    await put(world.owner.api, pledge_id, [lead()])
    monkeypatch.delitem(masking._RULES, "roster")  # the rule forgotten: the viewer's read leaks
    with pytest.raises(AssertionError, match=r"personal data left the service in GET .*roster"):
        await world.viewer.get(f"/v1/pledges/{pledge_id}/roster")


class _Answer:
    """A response whose body holds a team member's phone, from a stub client: what Api.call judges."""

    headers: ClassVar[dict[str, str]] = {}

    async def read(self) -> bytes:
        return json.dumps({"phone": PHONE}).encode()


class _Stub:
    async def request(self, method: str, path: str, **kw: object) -> _Answer:
        return _Answer()


async def test_an_api_client_is_judged_as_its_reader_and_exports_as_leaving_the_building():
    WATCH.remember("PUT", "/v1/pledges/p/roster", {"members": [lead()]}, reader=ORG)
    try:
        for api in (Api(_Stub(), "rk_dispatcher", STAFF), Api(_Stub(), "rk_team", ORG)):  # type: ignore[arg-type]
            await api.get("/v1/pledges/p/roster")
            with pytest.raises(AssertionError, match="exports"):
                await api.get("/v1/incidents/i/exports/deployments.csv")
        for api in (Api(_Stub(), "rk_viewer"), Api(_Stub(), "rk_other", OTHER), Api(_Stub(), None)):  # type: ignore[arg-type]
            with pytest.raises(AssertionError, match="personal data"):
                await api.get("/v1/pledges/p/roster")
    finally:
        WATCH.reset()


@pytest.mark.synthetic_events
async def test_the_watch_catches_a_member_in_an_event_as_webhooks_send_it(world, conn, database_url):
    pledge_id = await team(world)
    await put(world.owner.api, pledge_id, [lead()])
    await check_events(database_url)  # roster.updated holds counts only
    await conn.execute(
        """insert into events (type, entity_type, entity_id, actor_role, after)
           values ('roster.updated', 'pledge', $1, 'organization', $2)""",
        uuid.UUID(pledge_id), {"members": [{"phone": PHONE}]},
    )
    with pytest.raises(AssertionError, match="events as webhooks send them"):
        await check_events(database_url, catalog=False)  # the planted event is off the catalog too
    WATCH.reset()  # the event log is append-only: the planted event stays, so the teardown must not look


def test_the_rule_for_a_member_shown_alone():
    """The member rule the deployments and muster views use: the same terms as the roster's."""
    org = uuid.uuid4()
    doc = {"organization_id": str(org), "phone": PHONE, "emergency_contact": {"name": "张丽", "phone": FAMILY},
           "certificates": [{"type": "diver", "number": CERTIFICATE}, {"type": "first_aid", "number": "A12"}]}
    masked = masking.shown("roster_member", doc, masking.Audience())
    assert masked == {**doc, "phone": "137****0001", "emergency_contact": {"name": "张丽", "phone": "138****9999"},
                      "certificates": [{"type": "diver", "number": "****0042"},
                                       {"type": "first_aid", "number": "****"}]}
    assert masking.shown("roster_member", doc, masking.Audience(organization_id=org)) is doc
    assert masking.shown("roster_member", doc, masking.Audience(sees_contacts=True)) is doc
    assert masking.shown("roster_member", doc, masking.Audience(organization_id=uuid.uuid4()))["phone"] == "137****0001"
    assert doc["phone"] == PHONE  # the stored document is never changed
