"""Numbers written as text are ASCII: Python's Decimal() and int() also read "1_000", Arabic-Indic "١٢٣"
and full-width "１２３", which no ledger, export or CAP reader downstream reads the same way.

Each refusal is a 422 naming the field, and leaves nothing behind; the CAP areas that are accepted always
make a document that the OASIS CAP 1.2 schema accepts.
"""

from __future__ import annotations

import pytest
from lxml import etree
from pydantic import TypeAdapter, ValidationError

from models.alerts import Area
from models.amounts import Headcount, NonNegative, Quantity
from tests.conftest import incident_body
from tests.money_world import amount_body, make_setup, money_call, new_call, pledge_count, pledge_raw
from tests.test_alerts import SCHEMA, alert_body, new_incident

NOT_ASCII = ["1_000", "١٢٣", "１２３", "۱۲۳", "1 000", " 5", "5 ", "1e3", "+5", ".5", "5.", "", "٣.٥"]


@pytest.mark.parametrize("text", NOT_ASCII)
@pytest.mark.parametrize("kind", [Quantity, NonNegative])
def test_decimals_as_text_take_ascii_digits_only(kind, text):
    with pytest.raises(ValidationError, match="ASCII digits"):
        TypeAdapter(kind).validate_python(text)


@pytest.mark.parametrize("text", ["1_000", "١٢٣", "１２３", " 5", "1e3", "5.0"])
def test_whole_numbers_as_text_take_ascii_digits_only(text):
    with pytest.raises(ValidationError, match="whole number"):
        TypeAdapter(Headcount).validate_python(text)


def test_ascii_numbers_still_read_exactly():
    assert str(TypeAdapter(Quantity).validate_python("1000.50")) == "1000.50"
    assert str(TypeAdapter(NonNegative).validate_python("0")) == "0"
    assert TypeAdapter(Headcount).validate_python("12") == 12
    assert TypeAdapter(Headcount).validate_python(12) == 12


async def test_a_pledge_in_other_digits_is_422_and_writes_nothing(dispatcher, conn):
    owner, _, incident_id = await make_setup(dispatcher, conn)
    call = await new_call(dispatcher, incident_id, money_call())
    for text in ["1_000", "١٢٣", "１２３"]:
        response = await pledge_raw(owner.api, call["id"], amount_body(f'"{text}"'.encode()))
        assert response.status == 422, text
        document = await response.json()
        assert response.content_type == "application/problem+json"
        assert [e["pointer"] for e in document["errors"]] == ["/amount"], text
        assert "ASCII digits" in document["errors"][0]["detail"]
    assert await pledge_count(conn) == 0


async def test_a_call_in_other_digits_is_422(dispatcher):
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    incident_id = (await response.json())["id"]
    for field, value in [("amount", "１２３"), ("amount", "1_000")]:
        response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=money_call(**{field: value}))
        assert response.status == 422, value
        assert [e["pointer"] for e in (await response.json())["errors"]] == [f"/{field}"]
    personnel = {"kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue", "headcount": "1_000"}
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=personnel)
    assert response.status == 422
    assert [e["pointer"] for e in (await response.json())["errors"]] == ["/headcount"]


@pytest.mark.parametrize("circle", ["٣١.٣,١٢٠.٦ ٥", "31.3,120.6 ٥", "３１.３,１２０.６ ５", "31.3,120.6\u20035"])
def test_cap_circles_take_ascii_digits_and_spaces_only(circle):
    with pytest.raises(ValidationError):
        Area(description="东山镇", circle=circle)


def test_cap_polygons_take_ascii_digits_only():
    with pytest.raises(ValidationError):
        Area(description="东山镇", polygon="٣١.٣,١٢٠.٥ 31.4,120.6 31.2,120.7 ٣١.٣,١٢٠.٥")


async def test_an_arabic_indic_circle_is_422_and_an_ascii_one_makes_a_valid_cap_document(dispatcher, organization):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/alerts"
    refused = await dispatcher.post(path, json=alert_body(area={"description": "东山镇", "circle": "٣١.٣,١٢٠.٦ ٥"}))
    assert refused.status == 422
    assert [e["pointer"] for e in (await refused.json())["errors"]] == ["/area/circle"]
    accepted = await dispatcher.post(path, json=alert_body(area={"description": "东山镇", "circle": " 31.3,120.6  5 "}))
    assert accepted.status == 201, await accepted.text()
    alert = await accepted.json()
    response = await organization.api.get(f"/v1/alerts/{alert['id']}.cap")
    assert response.status == 200
    document = etree.fromstring(await response.read())
    SCHEMA.assertValid(document)
    circle = document.find(".//{urn:oasis:names:tc:emergency:cap:1.2}circle")
    assert circle is not None and circle.text == "31.3,120.6 5"
