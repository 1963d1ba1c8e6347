"""Schemathesis over the served /openapi.json: every response the server gives is one the contract names.

The app listens on a real port against a fresh database filled with the Doksuri demo, so the fuzzer's
requests reach real incidents, calls, pledges and residents instead of stopping at 404. Schemathesis
(the `st` CLI, `--checks all`) runs once with the dispatcher's key and once with an organization's,
bounded by examples per operation and a time budget; any 5xx, undocumented status, undocumented header
or body that does not match its schema fails the test, with schemathesis' own report in the output.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from relief import db, demo
from relief.app_keys import SETTINGS
from relief.settings import Settings
from tests.faults.conftest import unlimited

ST = str(Path(sys.executable).parent / "st")
ROOT = Path(__file__).resolve().parents[2]
# Per run (one key): a time budget for all phases, and examples per operation. Two runs plus the demo
# load stay well under two minutes on a 2-core machine; raise them by environment for a deeper run.
MAX_TIME = int(os.environ.get("RELIEF_CONTRACT_SECONDS", "35"))
MAX_EXAMPLES = int(os.environ.get("RELIEF_CONTRACT_EXAMPLES", "20"))


@pytest.fixture
def settings() -> Settings:
    # The fuzzer sends hundreds of requests a second, far past the per-key limits a bureau needs, and
    # the ignored_auth check sends wrong keys on purpose: the limits are off here, by setting.
    return unlimited()


async def _ids(conn: Any, organization_id: Any) -> dict[str, str]:
    """One real id of each kind; the organization's are of its own resources where it has any."""
    one = conn.fetchval
    found = {
        "incident": await one("select id from incidents where code = $1", demo.INCIDENT_CODE),
        "call": await one("select id from calls where status = 'open' order by created_at limit 1"),
        "pledge": await one("select id from pledges where organization_id = $1 order by created_at limit 1",
                            organization_id),
        "shelter": await one("select id from shelters order by created_at limit 1"),
        "resident": await one("select id from residents order by created_at limit 1"),
        "donation": await one("select id from donations order by created_at limit 1"),
        "disbursement": await one("select id from disbursements order by created_at limit 1"),
        "site": await one("select id from sites order by created_at limit 1"),
        "stock_movement": await one("select id from stock_movements where kind = 'transfer' "
                                    "order by created_at limit 1"),
        "organization": organization_id,
        "task": await one("select id from tasks order by created_at limit 1"),
        "assignment": await one("select id from task_assignments order by organization_id = $1 desc, created_at "
                                "limit 1", organization_id),
    }
    return {kind: str(value) for kind, value in found.items() if value is not None}


async def _extra(base: str, dispatcher: str, organization: str, ids: dict[str, str]) -> None:
    """What the demo has none of: an alert and a webhook, made through the API."""
    alert = {
        "headline": "台风杜苏芮 撤离通知", "description": "…", "instruction": "前往最近的安置点",
        "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
        "response_type": "Evacuate", "area": {"description": "苏州市吴中区", "circle": "31.3,120.6 10"},
    }
    async with aiohttp.ClientSession(base) as http:
        async with http.post(f"/v1/incidents/{ids['incident']}/alerts", json=alert,
                             headers={"Authorization": f"Bearer {dispatcher}"}) as response:
            if response.status == 201:
                ids["alert"] = (await response.json())["id"]
        hook = {"url": "https://hooks.example.org/relief", "event_types": ["call.*"]}
        async with http.post("/v1/webhooks", json=hook,
                             headers={"Authorization": f"Bearer {organization}"}) as response:
            if response.status == 201:
                ids["webhook"] = (await response.json())["id"]
        task = {"title": "东山镇搜救", "headcount": 5, "area": {"description": "东山镇", "point": "31.07,120.36"}}
        if "task" not in ids:  # unless the demo has tasks of its own
            async with http.post(f"/v1/incidents/{ids['incident']}/tasks", json=task,
                                 headers={"Authorization": f"Bearer {dispatcher}"}) as response:
                if response.status == 201:
                    ids["task"] = (await response.json())["id"]


# Which kind of id each path's {id} names, by the path's first segments.
_PATH_KINDS = [
    (r"^/v1/incidents/\{id\}", "incident"),
    (r"^/v1/public/incidents/\{id\}", "incident"),
    (r"^/v1/public/alerts/\{id\}", "alert"),
    (r"^/v1/calls/\{id\}", "call"),
    (r"^/v1/pledges/\{id\}", "pledge"),
    (r"^/v1/shelters/\{id\}", "shelter"),
    (r"^/v1/residents/\{id\}", "resident"),
    (r"^/v1/donations/\{id\}", "donation"),
    (r"^/v1/disbursements/\{id\}", "disbursement"),
    (r"^/v1/sites/\{id\}", "site"),
    (r"^/v1/stock-movements/\{id\}", "stock_movement"),
    (r"^/v1/organizations/\{id\}", "organization"),
    (r"^/v1/alerts/\{id\}", "alert"),
    (r"^/v1/webhooks/\{id\}", "webhook"),
    (r"^/v1/tasks/\{id\}", "task"),
    (r"^/v1/assignments/\{id\}", "assignment"),
]


# 412 is a well-formed If-Match naming an old version (like 409, the state, not the request, is
# at fault); 428 is what a missing If-Match gets (RFC 6585). NUL is refused in all text (the info
# description says so), so the generator leaves it out.
_COMMON = """
generation.allow-x00 = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "429"]

[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
"""


# Creates whose bodies have rules between fields, or against the world, that JSON Schema cannot say
# short of restating the model as a union of cases: here a schema-valid body may still get 422
# (every other operation must accept what its schema allows). Each is covered by its own tests.
_CROSS_FIELD_RULES = {
    "POST /v1/organizations": "the credit code's check character (GB 32100-2015)",
    "POST /v1/webhooks": "the URL must resolve to a public address (the SSRF guard)",
    "POST /v1/incidents/{id}/alerts": "an area needs a polygon, a circle or geocodes; a polygon is closed",
    "POST /v1/incidents/{id}/calls": "lat and lon together; a period ends after it starts",
    "POST /v1/incidents/{id}/donations": "exactly one kind of donor; fields by kind; currency minor units",
    "POST /v1/incidents/{id}/disbursements": "exactly one kind of recipient, households with their region; an "
                                             "earmark of its purpose holding its region; currency minor units",
    "POST /v1/incidents/{id}/evacuations": "a shelter exactly for centralized placements",
    "POST /v1/incidents/{id}/impacts": "the figure fixes the unit and its decimals; an organization exactly for "
                                       "source organization",
    "POST /v1/incidents/{id}/offers": "the fields each kind of offer needs",
    "POST /v1/calls/{id}/pledges": "the fields, unit and currency of the call's kind",
    "POST /v1/pledges/{id}/deliver": "at most the pledged quantity; a location of the incident, for goods only",
    "POST /v1/incidents/{id}/stock-movements": "locations and recipients of the incident; a transfer goes elsewhere",
    "POST /v1/stock-movements/{id}/receive": "at most what was sent; a reason when some is lost",
    "PUT /v1/sites/{id}/minimums": "each item and unit listed once",
    "PUT /v1/shelters/{id}/minimums": "each item and unit listed once",
    "POST /v1/incidents/{id}/tasks": "an area has exactly one of a point, a circle or a polygon; a polygon is closed",
    "PATCH /v1/tasks/{id}": "an area has exactly one of a point, a circle or a polygon; a polygon is closed",
    "POST /v1/tasks/{id}/assignments": "a personnel pledge of the task's incident",
    "PUT /v1/pledges/{id}/roster": "a personnel pledge; ids of its members, each once; one lead at most",
}


def _config(ids: dict[str, str]) -> str:
    """A schemathesis.toml that pins each {id} to a real resource of its kind."""
    lines = [_COMMON]
    for label, why in _CROSS_FIELD_RULES.items():
        method, path = label.split(" ")
        lines += [f"# {why}", "[[operations]]", f'include-method = "{method}"', f"include-path = {json.dumps(path)}",
                  "checks.positive_data_acceptance.expected-statuses = "
                  '["2xx", "401", "403", "404", "409", "412", "422", "429"]', ""]
    for regex, kind in _PATH_KINDS:
        if kind in ids:
            lines += ["[[operations]]", f"include-path-regex = {json.dumps(regex)}",
                      f'parameters = {{ "path.id" = "{ids[kind]}" }}', ""]
    return "\n".join(lines)


async def _schemathesis(base: str, key: str, config: Path, report: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        ST, "--config-file", str(config), "run", f"{base}/openapi.json",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--max-time", str(MAX_TIME),
        "--header", f"Authorization: Bearer {key}",
        "--request-timeout", "10",
        "--seed", os.environ.get("RELIEF_CONTRACT_SEED", "1"),
        "--generation-database", "none",
        "--no-color",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # In the test's own folder, so schemathesis' cache stays out of the checkout; the hooks are
        # imported from the checkout.
        env={**os.environ, "COLUMNS": "160", "SCHEMATHESIS_HOOKS": "tests.faults.contract_hooks",
             "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        cwd=report.parent,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), MAX_TIME * 2 + 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace")


async def test_the_server_keeps_its_contract(app: web.Application, database_url: str, tmp_path: Path) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        conn = await db.connect(database_url)
        try:
            loaded = await demo.load(conn, secret=app[SETTINGS].secret_key.get_secret_value().encode())
            ids = await _ids(conn, loaded.organization_id)
        finally:
            await conn.close()
        await _extra(base, loaded.dispatcher_key, loaded.organization_key, ids)
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(ids))
        failures = []
        for who, key in (("dispatcher", loaded.dispatcher_key), ("organization", loaded.organization_key)):
            code, out = await _schemathesis(base, key, config, tmp_path / f"{who}.ndjson")
            (tmp_path / f"{who}.txt").write_text(out)
            if code != 0:
                failures.append(f"===== schemathesis as the {who} (exit {code}; whole report in "
                                f"{tmp_path / who}.txt)\n{out[-20_000:]}")
        assert not failures, "\n".join(failures)
    finally:
        await runner.cleanup()
