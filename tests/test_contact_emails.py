"""Emails (issue 15): organizations' and keys' languages, staff keys' notify_email (PATCH /v1/keys/{id}),
and emails as contact data: an organization's contact, a pledge lead and a roster member are shown whole
to exactly those who see the phone beside them whole, and masked (w***@example.org) to everyone else.
"""

from __future__ import annotations

import uuid

import pytest

from models.keys import KeyUpdate
from notifications import envelope
from relief import masking
from relief.masking import BUREAU_OUTSIDE, OUTSIDE, Audience, mask_email, shown
from tests.conftest import Api, organization_body
from tests.pledge_world import World, new_call, ok, personnel_call, personnel_pledge, pledge, problem
from tests.test_rosters import person, put, roster, team

CONTACT_EMAIL = "wang.duizhang@lantian.org.cn"
LEAD_EMAIL = "li.duizhang@lantian.org.cn"
MEMBER_EMAIL = "zhang.wei@lantian.org.cn"
STAFF_EMAIL = "duty.officer@mca.suzhou.gov.cn"


# --- mask_email ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "masked"), [
    ("zhang.wei@example.org", "z***@example.org"),
    ("a@b.cn", "a***@b.cn"),  # a one-character local part shows no more than itself
    ("no-at-sign", "***"),
    ("@example.org", "***"),
    ("zhang@", "***"),
    ("", "***"),
    ("z***@example.org", "z***@example.org"),  # masking twice changes nothing
    ("a*b@example.org", "a***@example.org"),  # a "*" of its own does not pass for a mask
])
def test_mask_email(address, masked):
    assert mask_email(address) == masked


# --- organizations: language ---------------------------------------------------------------------


async def test_an_organization_writes_in_chinese_unless_it_says_english(dispatcher, conn):
    created = await ok(await dispatcher.post("/v1/organizations", json=organization_body(0)), 201)
    assert created["language"] == "zh"
    path = f"/v1/organizations/{created['id']}"
    assert (await ok(await dispatcher.get(path)))["language"] == "zh"

    r = await dispatcher.patch(path, json={"language": "en"}, headers={"If-Match": f'"{created["version"]}"'})
    changed = await ok(r)
    assert changed["language"] == "en" and changed["version"] == created["version"] + 1
    assert (await ok(await dispatcher.get(path)))["language"] == "en"
    assert await conn.fetchval("select language from organizations where id = $1", uuid.UUID(created["id"])) == "en"
    event = await conn.fetchrow("select before, after from events where type = 'organization.updated'")
    assert (event["before"]["language"], event["after"]["language"]) == ("zh", "en")

    english = await ok(await dispatcher.post("/v1/organizations", json=organization_body(1, language="en")), 201)
    assert (await ok(await dispatcher.get(f"/v1/organizations/{english['id']}")))["language"] == "en"
    refused = await problem(await dispatcher.post("/v1/organizations", json=organization_body(2, language="fr")), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/language"]
    r = await dispatcher.patch(path, json={"language": None}, headers={"If-Match": f'"{changed["version"]}"'})
    assert [e["pointer"] for e in (await problem(r, 422))["errors"]] == ["/language"]


async def test_an_organization_sets_its_own_language(organization):
    path = f"/v1/organizations/{organization.id}"
    etag = {"If-Match": f'"{organization.body["version"]}"'}
    r = await organization.api.patch(path, json={"language": "en"}, headers=etag)
    assert (await ok(r))["language"] == "en"


# --- keys: language and notify_email -------------------------------------------------------------


async def issue(admin: Api, **body) -> dict:
    return await ok(await admin.post("/v1/keys", json={"name": "值班员", **body}), 201)


def key_path(key_id: str) -> str:
    return f"/v1/keys/{key_id}"


async def test_a_staff_key_names_its_email_and_language_when_issued(admin, conn):
    created = await issue(admin, role="dispatcher", notify_email=STAFF_EMAIL, language="en")
    assert (created["notify_email"], created["language"]) == (STAFF_EMAIL, "en")
    plain = await issue(admin, role="viewer")
    assert (plain["notify_email"], plain["language"]) == (None, "zh")
    listed = {k["id"]: k for k in (await ok(await admin.get("/v1/keys")))["items"]}
    assert (listed[created["id"]]["notify_email"], listed[created["id"]]["language"]) == (STAFF_EMAIL, "en")
    row = await conn.fetchrow("select language, notify_email from api_keys where id = $1", uuid.UUID(created["id"]))
    assert tuple(row) == ("en", STAFF_EMAIL)
    body = {"name": "x", "role": "viewer", "notify_email": "not-an-address"}
    refused = await problem(await admin.post("/v1/keys", json=body), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/notify_email"]


async def test_an_organization_key_takes_no_notify_email(admin, organization, conn):
    before = await conn.fetchval("select count(*) from api_keys")
    body = {"name": "x", "role": "organization", "organization_id": organization.id, "notify_email": CONTACT_EMAIL}
    for api in (admin, organization.api):
        refused = await problem(await api.post("/v1/keys", json=body), 422)
        assert [e["pointer"] for e in refused["errors"]] == ["/notify_email"]
    assert await conn.fetchval("select count(*) from api_keys") == before

    own = await ok(await admin.post(f"/v1/organizations/{organization.id}/keys", json={"name": "y"}), 201)
    refused = await problem(await admin.patch(key_path(own["id"]), json={"notify_email": CONTACT_EMAIL}), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/notify_email"]
    assert await conn.fetchval("select notify_email from api_keys where id = $1", uuid.UUID(own["id"])) is None
    # What an organization's key may change is its language.
    assert (await ok(await admin.patch(key_path(own["id"]), json={"language": "en"})))["language"] == "en"


async def test_an_admin_changes_a_staff_keys_email_and_language(admin, conn):
    created = await issue(admin, role="dispatcher")
    path = key_path(created["id"])
    changed = await ok(await admin.patch(path, json={"notify_email": STAFF_EMAIL}))
    assert (changed["notify_email"], changed["language"], changed["prefix"]) == (STAFF_EMAIL, "zh", created["prefix"])
    assert "key" not in changed  # the secret is shown once, at issue
    changed = await ok(await admin.patch(path, json={"language": "en"}))
    assert (changed["notify_email"], changed["language"]) == (STAFF_EMAIL, "en")  # absent fields stay
    cleared = await ok(await admin.patch(path, json={"notify_email": None}))
    assert (cleared["notify_email"], cleared["language"]) == (None, "en")
    row = await conn.fetchrow("select language, notify_email from api_keys where id = $1", uuid.UUID(created["id"]))
    assert tuple(row) == ("en", None)
    changes = await conn.fetch("select before, after from events where type = 'key.updated' order by id")
    assert [(c["before"]["notify_email"], c["after"]["notify_email"]) for c in changes] == [
        (None, STAFF_EMAIL), (STAFF_EMAIL, STAFF_EMAIL), (STAFF_EMAIL, None)]
    assert [c["after"]["language"] for c in changes] == ["zh", "en", "en"]
    (await admin.patch(path, json={"language": "en"})).close()  # nothing changes: no event
    assert await conn.fetchval("select count(*) from events where type = 'key.updated'") == 3

    for bad, pointer in (({"language": None}, "/language"), ({"language": "fr"}, "/language"),
                         ({"notify_email": "nobody"}, "/notify_email"), ({"role": "admin"}, "/role")):
        refused = await problem(await admin.patch(path, json=bad), 422)
        assert [e["pointer"] for e in refused["errors"]] == [pointer], bad


async def test_only_an_admin_changes_a_key(admin, dispatcher, viewer, organization, anonymous, conn):
    created = await issue(admin, role="viewer")
    own = await ok(await admin.post(f"/v1/organizations/{organization.id}/keys", json={"name": "y"}), 201)
    for api, key_id in ((dispatcher, created["id"]), (viewer, created["id"]), (organization.api, own["id"])):
        await problem(await api.patch(key_path(key_id), json={"language": "en"}), 403)
    await problem(await anonymous.patch(key_path(created["id"]), json={"language": "en"}), 401)
    languages = await conn.fetch("select language from api_keys where id = any($1::uuid[])",
                                 [uuid.UUID(created["id"]), uuid.UUID(own["id"])])
    assert [r["language"] for r in languages] == ["zh", "zh"]


async def test_an_unknown_key_is_404_and_a_revoked_one_409(admin, conn):
    await problem(await admin.patch(key_path(str(uuid.uuid4())), json={"language": "en"}), 404)
    created = await issue(admin, role="dispatcher")
    assert (await admin.delete(key_path(created["id"]))).status == 204
    refused = await problem(await admin.patch(key_path(created["id"]), json={"notify_email": STAFF_EMAIL}), 409)
    assert refused["state"] == "revoked"
    assert await conn.fetchval("select notify_email from api_keys where id = $1", uuid.UUID(created["id"])) is None


async def test_the_openapi_document_describes_the_change_of_a_key(anonymous):
    document = await ok(await anonymous.get("/openapi.json"))
    operation = document["paths"]["/v1/keys/{id}"]["patch"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/KeyUpdate"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Key"}
    assert {"401", "403", "404", "409", "422"} <= operation["responses"].keys()
    properties = document["components"]["schemas"]["KeyUpdate"]["properties"]
    nullable = {name for name, prop in properties.items() if {"type": "null"} in prop.get("anyOf", [])}
    assert nullable == KeyUpdate.nullable == {"notify_email"}
    assert {"language", "notify_email"} <= document["components"]["schemas"]["Key"]["properties"].keys()
    assert "language" in document["components"]["schemas"]["Organization"]["properties"]


# --- emails as contact data ----------------------------------------------------------------------


async def test_an_organizations_contact_email_is_whole_to_dispatchers_and_itself_only(world: World):
    path = f"/v1/organizations/{world.owner.id}"
    contact = {"name": "王队长", "phone": "13912345678", "email": CONTACT_EMAIL}
    etag = {"If-Match": f'"{world.owner.body["version"]}"'}
    r = await world.owner.api.patch(path, json={"contact": contact}, headers=etag)
    assert (await ok(r))["contact"]["email"] == CONTACT_EMAIL
    for api in (world.dispatcher, world.admin, world.owner.api):
        assert (await ok(await api.get(path)))["contact"] == contact
    seen = await ok(await world.viewer.get(path))
    assert seen["contact"] == {"name": "王队长", "phone": "139****5678", "email": "w***@lantian.org.cn"}
    listed = await world.viewer.get("/v1/organizations")
    assert CONTACT_EMAIL not in await listed.text() and "w***@lantian.org.cn" in await listed.text()
    await problem(await world.other.api.get(path), 404)  # another organization is not even told it exists
    assert CONTACT_EMAIL not in await (await world.other.api.get("/v1/organizations")).text()


async def test_a_pledge_leads_email_is_whole_to_dispatchers_and_its_organization_only(world: World, conn):
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    lead = {"name": "李队长", "phone": "13900001111", "email": LEAD_EMAIL}
    created = await ok(await pledge(world.owner.api, call_id, personnel_pledge(lead=lead)), 201)
    assert created["lead"] == lead
    path = f"/v1/pledges/{created['id']}"
    for api in (world.dispatcher, world.admin, world.owner.api):
        assert (await ok(await api.get(path)))["lead"] == lead
    seen = await ok(await world.viewer.get(path))
    assert seen["lead"] == {"name": "李队长", "phone": "139****1111", "email": "l***@lantian.org.cn"}
    for listing in ("/v1/pledges", f"/v1/calls/{call_id}/pledges"):
        text = await (await world.viewer.get(listing)).text()
        assert LEAD_EMAIL not in text and "l***@lantian.org.cn" in text
        assert LEAD_EMAIL not in await (await world.other.api.get(listing)).text()
    await problem(await world.other.api.get(path), 404)
    # A lead without an email is stored as leads were before there was one.
    bare = await ok(await pledge(world.owner.api, call_id, personnel_pledge()), 201)
    assert await conn.fetchval("select lead from pledges where id = $1", uuid.UUID(bare["id"])) == {
        "name": "李队长", "phone": "13900001111"}
    refused = await problem(await pledge(world.owner.api, call_id, personnel_pledge(lead={**lead, "email": "li"})), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/lead/email"]


async def test_a_roster_members_email_is_stored_and_whole_to_dispatchers_and_its_organization_only(world: World, conn):
    pledge_id = await team(world)
    sent = [person(1, role="lead", email=MEMBER_EMAIL), person(2)]
    members = (await ok(await put(world.owner.api, pledge_id, sent)))["members"]
    assert [m["email"] for m in members] == [MEMBER_EMAIL, None]
    stored = await conn.fetchval("select email from roster_members where id = $1", uuid.UUID(members[0]["id"]))
    assert stored == MEMBER_EMAIL
    for api in (world.dispatcher, world.admin, world.owner.api):
        assert [m["email"] for m in (await roster(api, pledge_id))["members"]] == [MEMBER_EMAIL, None]
    seen = (await roster(world.viewer, pledge_id))["members"]
    assert [(m["phone"], m["email"]) for m in seen] == [("137****0001", "z***@lantian.org.cn"), ("137****0002", None)]
    await problem(await world.other.api.get(f"/v1/pledges/{pledge_id}/roster"), 404)

    # A kept member's new email is a change (a new version); a member's email can be removed.
    kept = [{**person(1, role="lead", email="zw@lantian.org.cn"), "id": members[0]["id"]},
            {**person(2), "id": members[1]["id"]}]
    again = await ok(await put(world.owner.api, pledge_id, kept))
    assert again["version"] == 2 and [m["email"] for m in again["members"]] == ["zw@lantian.org.cn", None]
    kept[0].pop("email")
    assert [m["email"] for m in (await ok(await put(world.owner.api, pledge_id, kept)))["members"]] == [None, None]
    refused = await problem(await put(world.owner.api, pledge_id, [person(3, email="zhang at lantian")]), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/members/0/email"]


async def test_events_carry_emails_masked_as_they_leave_the_building(world: World, admin, conn):
    """The rule on the stored payloads, as webhooks, streams and the audit trail pass them through it."""
    call_id = (await new_call(world.dispatcher, world.incident_id, personnel_call()))["id"]
    lead = {"name": "李队长", "phone": "13900001111", "email": LEAD_EMAIL}
    (await pledge(world.owner.api, call_id, personnel_pledge(lead=lead))).close()
    await issue(admin, role="dispatcher", notify_email=STAFF_EMAIL)
    rows = {r["type"]: r for r in await conn.fetch(
        "select id, type, entity_type, incident_id, before, after, created_at from events"
        " where type in ('pledge.created', 'key.created') and (after ->> 'notify_email' is not null"
        " or entity_type = 'pledge')")}
    after = rows["pledge.created"]["after"]
    assert after["lead"]["email"] == LEAD_EMAIL  # stored whole: the audit trail is the dispatchers'
    owner, other = uuid.UUID(world.owner.id), uuid.UUID(world.other.id)
    for audience in (OUTSIDE, BUREAU_OUTSIDE, Audience(organization_id=other), Audience(staff=True)):
        assert shown("pledge", after, audience)["lead"] == {"name": "李队长", "phone": "139****1111",
                                                           "email": "l***@lantian.org.cn"}
    for audience in (Audience(organization_id=owner), Audience(sees_contacts=True, staff=True)):
        assert shown("pledge", after, audience) is after
    assert LEAD_EMAIL not in envelope.render(rows["pledge.created"])
    assert "l***@lantian.org.cn" in envelope.render(rows["pledge.created"])

    key = rows["key.created"]
    assert masking.shown("key", key["after"], Audience(sees_contacts=True, staff=True))["notify_email"] == STAFF_EMAIL
    assert envelope.data_of(key, BUREAU_OUTSIDE)["notify_email"] == "d***@mca.suzhou.gov.cn"
    assert STAFF_EMAIL not in envelope.render(key, bureau=True)


def test_the_rule_masks_each_contact_email_with_its_phone():
    org, other = uuid.uuid4(), uuid.uuid4()
    documents = {
        "organization": {"id": str(org), "contact": {"name": "王", "phone": "13912345678", "email": CONTACT_EMAIL}},
        "roster": {"organization_id": str(org), "members": [{"phone": "13700000001", "email": MEMBER_EMAIL},
                                                            {"phone": "13700000002", "email": None}]},
        "roster_member": {"organization_id": str(org), "phone": "13700000001", "email": MEMBER_EMAIL},
    }
    for entity, document in documents.items():
        for audience in (Audience(sees_contacts=True), Audience(organization_id=org)):
            assert shown(entity, document, audience) is document, (entity, audience)
        for audience in (OUTSIDE, Audience(staff=True), Audience(organization_id=other)):
            text = str(shown(entity, document, audience))
            assert CONTACT_EMAIL not in text and MEMBER_EMAIL not in text, (entity, audience)
            assert "***@lantian.org.cn" in text and "****" in text, (entity, audience)
    assert shown("roster", documents["roster"], OUTSIDE)["members"][1]["email"] is None
