"""The Doksuri demo: its figures, its consistency, loading it twice, and the `relief demo` command."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from models.codes import check_credit_code
from relief import demo, summary
from tests.conftest import Api, incident_body
from tests.test_cli import relief

SECRET = b"test-secret"
KEY = r"rk_[A-Za-z0-9_-]{43}"
TABLES = ("incidents", "organizations", "calls", "pledges", "donations", "residents", "evacuations", "shelters")


async def _counts(conn) -> dict[str, int]:
    return {table: await conn.fetchval(f"select count(*) from {table}") for table in TABLES}


async def test_the_demo_shows_the_doksuri_figures_and_reconciles(conn):
    started = time.monotonic()
    result = await demo.load(conn, secret=SECRET)
    assert time.monotonic() - started < 10
    assert result.loaded

    figures = await summary.summary(conn, incident_id=result.incident_id)
    cny = {m.currency: m for m in figures.money}["CNY"]
    assert Decimal(5_700_000) <= cny.received < Decimal(5_800_000)
    assert Decimal(900_000) <= figures.goods.value_received["CNY"] <= Decimal(950_000)
    people = figures.residents
    assert people.evacuated >= 3900
    assert people.evacuated == people.individual + people.aggregate
    assert people.individual > 0 and people.aggregate > 0
    assert people.centralized > 0 and people.dispersed > 0 and people.returned > 0
    assert 18 <= figures.organizations_participating <= 22
    assert figures.personnel.delivered > 0
    assert figures.calls_by_status.get("open") and figures.calls_by_status.get("fulfilled")

    statuses = {r[0] for r in await conn.fetch("select distinct status from pledges")}
    assert statuses == {"pledged", "accepted", "rejected", "withdrawn", "dispatched", "delivered"}
    kinds = {r[0] for r in await conn.fetch("select distinct kind from calls")}
    assert kinds == {"money", "goods", "personnel"}
    assert await conn.fetchval("select count(*) from donations where reverses is not null") == 1
    placements = {r[0] for r in await conn.fetch("select distinct placement from evacuations")}
    assert placements == {"centralized", "dispersed"}
    assert await conn.fetchval("select count(distinct shelter_id) from residents where shelter_id is not null") >= 3
    assert await conn.fetchval("select count(*) from events where type = 'resident.moved'") > 0

    # Valid credit codes; ID numbers (checked by the service on registration) never stored in full.
    for (code,) in await conn.fetch("select credit_code from organizations"):
        assert check_credit_code(code) == code
    assert await conn.fetchval("select count(*) from residents where id_type = 'resident_id'") > 30
    assert await conn.fetchval("select count(*) from residents where length(id_last4) <> 4") == 0

    assert await summary.reconcile(conn, incident_id=result.incident_id) == []


async def test_loading_twice_adds_nothing_but_issues_fresh_working_keys(conn, client):
    first = await demo.load(conn, secret=SECRET)
    before = await _counts(conn)
    second = await demo.load(conn, secret=SECRET)
    assert not second.loaded
    assert second.incident_id == first.incident_id
    assert await _counts(conn) == before
    assert {second.dispatcher_key, second.organization_key}.isdisjoint({first.dispatcher_key, first.organization_key})

    for key in (first.dispatcher_key, first.organization_key, second.dispatcher_key, second.organization_key):
        response = await Api(client, key).get("/v1/incidents")
        assert response.status == 200, await response.text()
    response = await Api(client, second.dispatcher_key).get(f"/v1/incidents/{first.incident_id}/summary")
    assert response.status == 200, await response.text()
    # The organization key acts as the demo organization, which has pledges of its own.
    response = await Api(client, second.organization_key).get("/v1/pledges")
    assert response.status == 200, await response.text()
    assert (await response.json())["items"]
    assert await summary.reconcile(conn, incident_id=first.incident_id) == []


async def test_serve_loads_the_demo_only_into_a_database_without_incidents(conn, dispatcher):
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    assert await demo.load_if_empty(conn, secret=SECRET) is None
    assert await conn.fetchval("select count(*) from incidents") == 1
    assert await conn.fetchval("select count(*) from organizations") == 0


async def test_load_if_empty_loads_an_empty_database(conn):
    result = await demo.load_if_empty(conn, secret=SECRET)
    assert result is not None and result.loaded
    assert await demo.load_if_empty(conn, secret=SECRET) is None


async def test_relief_demo_prints_the_keys_and_reconcile_finds_nothing(database_url, conn, client):
    result = await relief(database_url, "demo")
    assert result.returncode == 0, result.stderr
    dispatcher_key = re.search(f"^demo dispatcher key: ({KEY})$", result.stdout, re.M)
    organization_key = re.search(f"^demo organization key: ({KEY})", result.stdout, re.M)
    assert dispatcher_key and organization_key, result.stdout
    incident_id = await conn.fetchval("select id from incidents where code = $1", demo.INCIDENT_CODE)
    assert f"/v1/incidents/{incident_id}" in result.stdout
    assert dispatcher_key[1] not in result.stderr and organization_key[1] not in result.stderr

    response = await Api(client, dispatcher_key[1]).get(f"/v1/incidents/{incident_id}")
    assert response.status == 200, await response.text()

    again = await relief(database_url, "demo")
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    assert dispatcher_key[1] not in again.stdout
    assert await conn.fetchval("select count(*) from incidents") == 1

    checked = await relief(database_url, "reconcile")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 difference(s)" in checked.stdout
