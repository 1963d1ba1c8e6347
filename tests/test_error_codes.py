"""errors[].code: every item of a 422 names what is wrong from a stable vocabulary (models.common.ERROR_CODES),
beside its English detail, so that a client (the console first) says it in its own words. A code, once given,
is the contract: each case below pins one, whatever its message says."""

from __future__ import annotations

import pytest

from handlers.problems import code_of_message, with_codes
from models.common import ERROR_CODES
from tests.conftest import Api, incident_body, organization_body


async def _errors(response, status: int = 422) -> list[dict]:
    body = await response.json()
    assert response.status == status, body
    assert response.content_type == "application/problem+json"
    return body["errors"]


def _by_pointer(errors: list[dict]) -> dict[str, str]:
    return {e.get("pointer") or e.get("parameter"): e["code"] for e in errors}


CASES = [
    # (what is sent, pointer, code)
    ({"regions": ["320500", "990000"]}, "/regions/1", "region_code"),
    ({"regions": ["32050"]}, "/regions/0", "region_code"),
    ({"title": "x" * 501}, "/title", "too_long"),
    ({"title": "   "}, "/title", "required"),
    ({"code": "has spaces in it"}, "/code", "pattern"),
    ({"severity": "V"}, "/severity", "not_allowed"),
    ({"started_at": "yesterday"}, "/started_at", "not_a_time"),
    ({"started_at": 0}, "/started_at", "not_a_time"),
    ({"colour": "red"}, "/colour", "unknown_field"),
    ({"regions": "320500"}, "/regions", "wrong_type"),
]


@pytest.mark.parametrize(("change", "pointer", "code"), CASES)
async def test_an_incidents_fields_get_their_codes(dispatcher: Api, change: dict, pointer: str, code: str):
    errors = await _errors(await dispatcher.post("/v1/incidents", json=incident_body(**change)))
    assert _by_pointer(errors)[pointer] == code, errors
    assert all(e["detail"] for e in errors)  # the English explanation stays


async def test_a_missing_field_is_required(dispatcher: Api):
    body = incident_body()
    del body["title"]
    errors = await _errors(await dispatcher.post("/v1/incidents", json=body))
    assert _by_pointer(errors) == {"/title": "required"}


async def test_an_organizations_codes(dispatcher: Api):
    errors = await _errors(await dispatcher.post("/v1/organizations", json=organization_body(
        credit_code="91320500MA1234567X", region="000000")))
    assert _by_pointer(errors) == {"/credit_code": "credit_code", "/region": "region_code"}


async def test_numbers_and_currencies(dispatcher: Api):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    calls = f"/v1/incidents/{incident['id']}/calls"
    errors = await _errors(await dispatcher.post(calls, json={
        "kind": "money", "title": "Fund", "amount": "1,000", "currency": "XYZ"}))
    assert _by_pointer(errors) == {"/amount": "not_a_number", "/currency": "currency"}
    errors = await _errors(await dispatcher.post(calls, json={
        "kind": "personnel", "title": "Crews", "skill": "boat_rescue", "headcount": "ten"}))
    assert _by_pointer(errors)["/headcount"] == "not_a_whole_number"
    errors = await _errors(await dispatcher.post(calls, json={
        "kind": "personnel", "title": "Crews", "skill": "boat_rescue", "headcount": 0}))
    assert _by_pointer(errors)["/headcount"] == "out_of_range"
    errors = await _errors(await dispatcher.post(calls, json={"kind": "blimp", "title": "?"}))
    assert _by_pointer(errors)["/kind"] == "not_allowed"


async def test_query_parameters_and_domain_rules_have_codes_too(dispatcher: Api):
    errors = await _errors(await dispatcher.get("/v1/incidents?limit=0"))
    assert _by_pointer(errors) == {"limit": "out_of_range"}
    errors = await _errors(await dispatcher.get("/v1/incidents?cursor=nonsense"))
    assert _by_pointer(errors) == {"cursor": "invalid"}


async def test_an_admins_key_rule_is_coded(admin: Api):
    errors = await _errors(await admin.post("/v1/keys", json={"name": "team", "role": "organization"}))
    assert _by_pointer(errors) == {"/organization_id": "required"}  # "required exactly when role is organization"


async def test_a_nul_character_is_a_control_character(dispatcher: Api):
    errors = await _errors(await dispatcher.post("/v1/incidents", json=incident_body(title="bad\u0000title")))
    assert _by_pointer(errors) == {"/title": "control_character"}


def test_every_code_given_is_in_the_vocabulary():
    for _, _, code in CASES:
        assert code in ERROR_CODES
    assert code_of_message("expected columns: 姓名, id_number, origin_region") == "invalid"  # a column, not a rule
    for detail in ("does not exist", "must be after needed_from", "required", "anything else"):
        assert code_of_message(detail) in ERROR_CODES
    assert with_codes([{"pointer": "/x", "code": "pattern", "detail": "d"}])[0]["code"] == "pattern"
    assert with_codes([{"pointer": "/x", "detail": "organization 1 does not exist"}])[0]["code"] == "unknown_reference"


async def test_the_openapi_problem_schema_lists_the_codes(anonymous: Api):
    document = await (await anonymous.get("/openapi.json")).json()
    code = document["components"]["schemas"]["ProblemError"]["properties"]["code"]
    assert code["enum"] == list(ERROR_CODES)
    assert "region_code" in code["description"]
