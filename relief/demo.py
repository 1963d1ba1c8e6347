"""The Doksuri demo: a living incident modelled on Suzhou's response to Typhoon Doksuri (July 2023).

The scenario itself is data, in relief/demo_data.py; this module loads it, and relief/demo_use.py
carries it on to where the help went (sites, stock movements, disbursements); relief/demo_field.py
adds the volunteer teams' rosters, tasks and check-ins (one member overdue).

`load()` drives the same use cases the API does (so events, counters and occupancies come out exactly as
they would from real work), all in one transaction: a load either happens whole or not at all, so
"the demo incident exists" reliably means "the demo is loaded", and loading again writes nothing.
Every call issues fresh keys for a demo dispatcher, a second one (the demo approver: four eyes on
disbursements) and a demo organization; earlier ones stay valid.

Every name, code, ID number and phone number here is made up. ID numbers and credit codes carry valid
check characters only so that the service accepts them; phones are from the unassigned 1390000xxxx range.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from models.calls import CallCreate
from models.donations import DonationCreate
from models.incidents import IncidentCreate
from models.keys import Role
from models.organizations import OrganizationCreate, OrganizationStatus
from models.pledges import PledgeCreate
from models.residents import EvacuationCreate, ResidentCreate
from models.shelters import ShelterCreate
from relief import (
    calls,
    demo_alerts,
    demo_dates,
    demo_field,
    demo_impacts,
    demo_imports,
    demo_sitreps,
    demo_use,
    demo_webhooks,
    donations,
    incidents,
    keys,
    ledger,
    organizations,
    pledges,
    residents,
    shelters,
)
from relief.auth import SYSTEM, Principal
from relief.demo_data import (
    CALLS,
    DONATIONS,
    DRAFT_CALL,
    DUPLICATE,
    EVACUATIONS,
    HOUSEHOLDS,
    ORGANIZATIONS,
    PASSPORT_HOLDER,
    PENDING_ORGANIZATION,
    PLEDGES,
    SHELTERS,
    at,
    credit_code,
    resident_id,
)
from relief.errors import Conflict, NotFound

INCIDENT_CODE = "2023-DOKSURI-SZ-DEMO"
DEMO_ORGANIZATION = "wz_bluesky"
"""The organization whose key `relief demo` hands out: a rescue team with pledges in several states."""

_CALL = TypeAdapter(CallCreate)
_DONATION = TypeAdapter(DonationCreate)


@dataclass(frozen=True)
class DemoResult:
    incident_id: UUID
    incident_code: str
    loaded: bool
    """True when this call loaded the scenario; False when it was already there."""
    dispatcher_key: str
    organization_key: str
    organization_id: UUID
    organization_name: str
    approver_key: str
    """A second dispatcher's key: it approves what the demo dispatcher's key proposes, and the other way round."""


def _progress(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


# --- loading ----------------------------------------------------------------------------------------------


def _organization_body(slug: str, spec: tuple[str, str, str, str, str, list[str], list[str]], serial: int) -> dict:
    name, kind, region, contact, phone, skills, goods = spec
    return {
        "name": name,
        "credit_code": credit_code(kind, region, serial),
        "kind": kind,
        "region": region,
        # Email on a domain of its own (RFC 2606's example.org is reserved: nothing is ever delivered
        # there by accident when a demo runs with an SMTP server set).
        "contact": {"name": contact, "phone": phone, "email": f"{slug.replace('_', '-')}@demo.example.org"},
        "capabilities": {"skills": skills, "goods": goods},
    }


async def _organization(conn: asyncpg.Connection, body: dict, *, approve: bool) -> UUID:
    """Register (or find, by its credit code) an organization; approve it when asked."""
    data = OrganizationCreate.model_validate(body)
    row = await conn.fetchrow("select id, status from organizations where credit_code = $1", data.credit_code)
    if row is None:
        created = await organizations.create(conn, actor=SYSTEM, data=data)
        organization_id, status = created.id, created.status
    else:
        organization_id, status = row["id"], row["status"]
    if approve and status != OrganizationStatus.approved:
        await organizations.transition(conn, actor=SYSTEM, organization_id=organization_id, action="approve")
    return organization_id


def _as(organization_id: UUID, name: str) -> Principal:
    """The organization itself, as its own key would act (pledge, dispatch, withdraw)."""
    return Principal(role=Role.organization, organization_id=organization_id, organization_status="approved",
                     name=name)


def _donor(slug_or_name: str | None, orgs: dict[str, UUID]) -> dict[str, Any]:
    if slug_or_name is None:
        return {"anonymous": True}
    if slug_or_name in orgs:
        return {"organization_id": str(orgs[slug_or_name])}
    return {"name": slug_or_name}


async def _scenario(conn: asyncpg.Connection, secret: bytes, sender: str) -> UUID:
    started = time.monotonic()
    incident = await incidents.create(conn, actor=SYSTEM, data=IncidentCreate.model_validate({
        "code": INCIDENT_CODE,
        "title": "台风“杜苏芮”苏州防汛救灾（演示）",
        "type": "typhoon",
        "severity": "III",
        "regions": ["320505", "320506", "320507", "320508", "320583", "320585"],
        "started_at": "2023-07-28T01:55:00Z",
        "description": (
            "演示数据：以2023年7月台风“杜苏芮”苏州响应为蓝本的虚构场景。社会组织、捐赠人和群众均为虚构；"
            "证件号、电话号码仅用于演示。 Demo data modelled on Suzhou's response to Typhoon Doksuri "
            "(landfall 2023-07-28); every organization, donor and resident is fictional."
        ),
    }))
    incident_id = incident.id
    staff = await demo_use.bureau(conn)

    orgs: dict[str, UUID] = {}
    names: dict[str, str] = {}
    for serial, (slug, spec) in enumerate(ORGANIZATIONS.items(), 1):
        orgs[slug] = await _organization(conn, _organization_body(slug, spec, serial), approve=True)
        names[slug] = spec[0]
    pending = await _organization(conn, _organization_body("pending", PENDING_ORGANIZATION, len(ORGANIZATIONS) + 1),
                                  approve=False)
    _progress(f"incident {INCIDENT_CODE} and {len(orgs) + 1} organizations ({len(orgs)} approved, 1 awaiting "
              "approval)")

    call_ids: dict[str, UUID] = {}
    for slug, body in CALLS.items():
        call = await calls.create(conn, actor=SYSTEM, incident_id=incident_id,
                                  data=_CALL.validate_python({"status": "open", **body}))
        call_ids[slug] = call.id
    await calls.create(conn, actor=SYSTEM, incident_id=incident_id, data=_CALL.validate_python(DRAFT_CALL))

    shelter_ids: dict[str, UUID] = {}
    for slug, (name, address, capacity, lat, lon) in SHELTERS.items():
        shelter = await shelters.create(conn, actor=SYSTEM, incident_id=incident_id, data=ShelterCreate(
            name=name, address=address, capacity=capacity, location={"lat": lat, "lon": lon}))
        shelter_ids[slug] = shelter.id
    site_ids = await demo_use.open_sites(conn, actor=staff.dispatcher, incident_id=incident_id)
    _progress(f"{len(CALLS) + 1} calls, {len(SHELTERS)} shelters and {len(site_ids)} sites")

    # Every pledge first (so none meets a call already fulfilled), then what became of each.
    made = []
    for call_slug, org_slug, body, steps in PLEDGES:
        actor = _as(orgs[org_slug], names[org_slug])
        pledge = await pledges.create(conn, actor=actor, call_id=call_ids[call_slug],
                                      data=PledgeCreate.model_validate(body))
        made.append((pledge, actor, call_slug, steps))
    for pledge, actor, call_slug, steps in made:
        for action, extra in steps:
            await _pledge_step(conn, incident_id, pledge, actor, CALLS[call_slug], action, extra, site_ids)
    _progress(f"{len(made)} pledges")

    for entry in DONATIONS:
        await _donate(conn, incident_id, entry, orgs, call_ids, site_ids)
    duplicate = await _donate(conn, incident_id, DUPLICATE, orgs, call_ids, site_ids)
    await donations.reverse(conn, actor=SYSTEM, donation_id=duplicate,
                            reason="重复登记：同一笔银行转账录入了两次")
    _progress(f"{len(DONATIONS) + 1} donations received outside pledges, 1 reversed")

    for count, region, shelter, helper, day, hour, note in EVACUATIONS:
        await residents.record_evacuation(conn, actor=SYSTEM, incident_id=incident_id, data=EvacuationCreate(
            count=count, from_region=region, placement="centralized" if shelter else "dispersed",
            shelter_id=shelter_ids[shelter] if shelter else None, assisted_by=orgs[helper] if helper else None,
            occurred_at=at(day, hour), note=note))
    people = await _register_households(conn, incident_id, secret, orgs, shelter_ids)
    _progress(f"{sum(e[0] for e in EVACUATIONS)} people in {len(EVACUATIONS)} aggregate evacuations, "
              f"{people} residents registered one by one")
    imported, refused = await demo_imports.record(conn, dispatcher=staff.dispatcher, incident_id=incident_id,
                                                  secret=secret, zone="Asia/Shanghai")
    _progress(f"{imported} residents imported from 临湖镇's spreadsheet ({refused} rows refused, for the errors view)")
    first = await demo_impacts.record_first(conn, dispatcher=staff.dispatcher, incident_id=incident_id)
    initial = await demo_sitreps.issue_initial(conn, dispatcher=staff.dispatcher, incident_id=incident_id)
    _progress(f"{first} impact figures (the districts' first count) and situation report {initial.number} (初报)")
    movements, payments = await demo_use.record(conn, staff=staff, incident_id=incident_id, orgs=orgs,
                                                shelter_ids=shelter_ids, site_ids=site_ids)
    field = await demo_field.record(conn, dispatcher=staff.dispatcher, incident_id=incident_id, orgs=orgs,
                                    names=names)
    _progress(f"{field.members} team members on 3 rosters, {field.tasks} tasks, {field.on_site} on site now, "
              f"{field.overdue} overdue")
    alert = await demo_alerts.record(conn, dispatcher=staff.dispatcher, incident_id=incident_id, orgs=orgs,
                                     names=names, sender=sender)
    _progress(f"1 alert to {alert.targets} volunteer teams: {alert.acknowledged} acknowledged, "
              f"{alert.escalated} escalated for not answering")
    figures = await demo_impacts.record_later(conn, dispatcher=staff.dispatcher, incident_id=incident_id, orgs=orgs)
    _progress(f"{figures} more impact figures: the districts' verified count, two organizations' and a newspaper's")
    update = await demo_sitreps.issue_update(conn, dispatcher=staff.dispatcher, incident_id=incident_id)
    _progress(f"situation report {update.number} (续报), {len(update.figures.changes)} figures changed")
    await demo_use.finish(conn, staff)
    _progress(f"{movements} stock movements and {payments} disbursements")
    await demo_dates.apply(conn, incident_id=incident_id, organization_ids=[*orgs.values(), pending])
    delivered, failed = await demo_webhooks.record(conn, incident_id=incident_id, secret=secret,
                                                   organization_id=orgs[DEMO_ORGANIZATION],
                                                   name=names[DEMO_ORGANIZATION])
    _progress(f"rows dated July–August 2023; {names[DEMO_ORGANIZATION]}'s subscription with {delivered} deliveries "
              f"delivered and {failed} failed in its (seeded) log ({time.monotonic() - started:.1f} s)")
    return incident_id


async def _pledge_step(
    conn: asyncpg.Connection, incident_id: UUID, pledge: Any, actor: Principal, call: dict[str, Any],
    action: str, extra: dict[str, Any], site_ids: dict[str, UUID],
) -> None:
    extra = _located(extra, site_ids)
    if action == "receive":
        # A donation recorded against the pledge: it delivers the pledge (one act, one ledger entry).
        body: dict[str, Any] = {"kind": call["kind"], "pledge_id": str(pledge.id),
                                "donor": {"organization_id": str(pledge.organization_id)}, **extra}
        if call["kind"] == "money":
            body["amount"] = format(pledge.quantity, "f")
        else:
            body.update(item=call["item"], unit=call["unit"], estimated_value=format(pledge.estimated_value, "f"))
        await donations.record(conn, actor=SYSTEM, incident_id=incident_id, data=_DONATION.validate_python(body))
        return
    by = actor if action in ("dispatch", "withdraw") else SYSTEM
    receipt = None
    if action == "deliver" and extra.keys() & {"channel", "receipt_no", "site_id", "received_at"}:
        receipt = ledger.Receipt(channel=extra.get("channel"), receipt_no=extra.get("receipt_no"),
                                 site_id=extra.get("site_id"), received_at=extra.get("received_at"))
    delivered = Decimal(extra["delivered"]) if "delivered" in extra else None
    await pledges.transition(conn, actor=by, pledge_id=pledge.id, action=action, reason=extra.get("reason"),
                             delivered=delivered, receipt=receipt)


async def _donate(
    conn: asyncpg.Connection, incident_id: UUID, entry: dict[str, Any], orgs: dict[str, UUID],
    call_ids: dict[str, UUID], site_ids: dict[str, UUID],
) -> UUID:
    body = {k: v for k, v in _located(entry, site_ids).items() if k not in ("donor", "call")}
    body["donor"] = _donor(entry["donor"], orgs)
    if "call" in entry:
        body["call_id"] = str(call_ids[entry["call"]])
    donation = await donations.record(conn, actor=SYSTEM, incident_id=incident_id,
                                      data=_DONATION.validate_python(body))
    return donation.id


def _located(entry: dict[str, Any], site_ids: dict[str, UUID]) -> dict[str, Any]:
    """The entry with its "site" slug (where goods were received) as the site's id."""
    if "site" not in entry:
        return entry
    return {**{k: v for k, v in entry.items() if k != "site"}, "site_id": site_ids[entry["site"]]}


async def _register_households(
    conn: asyncpg.Connection, incident_id: UUID, secret: bytes, orgs: dict[str, UUID], shelter_ids: dict[str, UUID]
) -> int:
    registered = 0
    for number, (region, address, shelter, helper, phone, members, then) in enumerate(HOUSEHOLDS, 1):
        household = f"DEMO-{region}-{number:04d}"
        ids = []
        for sequence, (name, birth, male, flags) in enumerate(members, 1):
            data = ResidentCreate(
                name=name, id_type="resident_id",
                id_number=resident_id(region, birth, (number * 10 + sequence) * 2 + (1 if male else 0)),
                phone=phone if sequence == 1 else None, household_id=household, household_size=len(members),
                origin_region=region, origin_address=address, vulnerabilities=flags,
                assisted_by=orgs[helper] if helper else None,
            )
            resident, _ = await residents.register(conn, actor=SYSTEM, incident_id=incident_id, data=data,
                                                   secret=secret)
            ids.append(resident.id)
            registered += 1
            if shelter is not None:
                await residents.checkin(conn, actor=SYSTEM, resident_id=resident.id, shelter_id=shelter_ids[shelter])
        if then == "return":
            for resident_id_ in ids:
                await residents.return_home(conn, actor=SYSTEM, resident_id=resident_id_)
        elif then == "return_last":
            await residents.return_home(conn, actor=SYSTEM, resident_id=ids[-1])
        elif isinstance(then, tuple):
            for resident_id_ in ids:
                await residents.move(conn, actor=SYSTEM, resident_id=resident_id_, shelter_id=shelter_ids[then[1]])
    name, passport, region, address, shelter, helper = PASSPORT_HOLDER
    resident, _ = await residents.register(conn, actor=SYSTEM, incident_id=incident_id, secret=secret,
                                           data=ResidentCreate(name=name, id_type="passport", id_number=passport,
                                                               origin_region=region, origin_address=address,
                                                               assisted_by=orgs[helper]))
    await residents.checkin(conn, actor=SYSTEM, resident_id=resident.id, shelter_id=shelter_ids[shelter])
    return registered + 1


async def _demo_organization(conn: asyncpg.Connection) -> tuple[UUID, str]:
    spec = ORGANIZATIONS[DEMO_ORGANIZATION]
    code = credit_code(spec[1], spec[2], list(ORGANIZATIONS).index(DEMO_ORGANIZATION) + 1)
    row = await conn.fetchrow("select id, name from organizations where credit_code = $1", code)
    if row is None:
        row = await conn.fetchrow("select id, name from organizations where name = $1 order by created_at limit 1",
                                  spec[0])
    if row is None:
        raise NotFound(f"the demo organization {spec[0]} ({code}) is no longer registered")
    return row["id"], row["name"]


async def load(conn: asyncpg.Connection, *, secret: bytes, sender: str = "relief@localhost") -> DemoResult:
    """Load the Doksuri demo unless it is there already; either way, issue fresh demo keys.

    `secret` keys the hashes of residents' ID numbers (the service's RELIEF_SECRET_KEY).
    """
    incident_id = await conn.fetchval("select id from incidents where code = $1", INCIDENT_CODE)
    loaded = False
    if incident_id is None:
        _progress(f"loading the Doksuri demo ({INCIDENT_CODE})")
        try:
            async with conn.transaction():
                incident_id = await _scenario(conn, secret, sender)
            loaded = True
        except Conflict:
            # Another `relief demo` loaded it meanwhile (its incident code came first); ours rolled back whole.
            incident_id = await conn.fetchval("select id from incidents where code = $1", INCIDENT_CODE)
            if incident_id is None:
                raise
    else:
        _progress(f"the Doksuri demo ({INCIDENT_CODE}) is already loaded; issuing fresh keys only")
    async with conn.transaction():
        organization_id, organization_name = await _demo_organization(conn)
        # The duty desk's address: the bureau's notices (an overdue member, a late pledge) go there.
        dispatcher = await keys.create(conn, actor=SYSTEM, name="demo dispatcher", role=Role.dispatcher,
                                       notify_email="duty@demo.example.org")
        approver = await keys.create(conn, actor=SYSTEM, name="demo approver", role=Role.dispatcher)
        organization = await keys.create(conn, actor=SYSTEM, name=f"demo organization ({organization_name})",
                                         role=Role.organization, organization_id=organization_id)
    return DemoResult(
        incident_id=incident_id,
        incident_code=INCIDENT_CODE,
        loaded=loaded,
        dispatcher_key=dispatcher.key,
        organization_key=organization.key,
        organization_id=organization_id,
        organization_name=organization_name,
        approver_key=approver.key,
    )


async def load_if_empty(conn: asyncpg.Connection, *, secret: bytes, sender: str = "relief@localhost"
                        ) -> DemoResult | None:
    """load() on a database without any incident; None (and nothing touched) when it has one."""
    if await conn.fetchval("select exists (select 1 from incidents)"):
        return None
    return await load(conn, secret=secret, sender=sender)
