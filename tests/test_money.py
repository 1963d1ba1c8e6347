"""Money is exact: NUMERIC in the database, Decimal in Python, decimal strings in JSON, never a float.

Bodies are sent as raw bytes so that a JSON number really is a JSON number on the wire (aiohttp's
json= would go through Python floats first).
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Api, incident_body, make_organization

DECIMAL_STRING = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
MONEY_FIELDS = {
    "requested",
    "committed",
    "in_transit",
    "delivered",
    "remaining",
    "amount",
    "quantity",
    "estimated_value",
    "delivered_quantity",
}


def money_call(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    body.update(overrides)
    return body


def goods_call(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "goods",
        "title": "饮用水",
        "item": "drinking_water",
        "unit": "box",
        "quantity": "500",
        "status": "open",
    }
    body.update(overrides)
    return body


async def ok(response, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def open_incident(dispatcher: Api) -> str:
    return (await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201))["id"]


async def new_call(dispatcher: Api, incident_id: str, body: dict[str, Any] | bytes) -> dict:
    path = f"/v1/incidents/{incident_id}/calls"
    if isinstance(body, bytes):
        response = await dispatcher.post(path, data=body, headers={"Content-Type": "application/json"})
    else:
        response = await dispatcher.post(path, json=body)
    return await ok(response, 201)


async def pledge_raw(api: Api, call_id: str, raw: bytes, *, key: str | None = None):
    """Pledge with `raw` as the exact body bytes."""
    return await api.post(
        f"/v1/calls/{call_id}/pledges",
        data=raw,
        headers={"Content-Type": "application/json", "Idempotency-Key": key or str(uuid.uuid4())},
    )


def amount_body(amount: bytes, extra: bytes = b"") -> bytes:
    return b'{"amount": ' + amount + extra + b"}"


async def read_call(api: Api, call_id: str) -> dict:
    return await ok(await api.get(f"/v1/calls/{call_id}"))


async def db_counters(conn, call_id: str):
    return await conn.fetchrow(
        "select requested, committed, in_transit, delivered, requested - committed as remaining"
        " from calls where id = $1",
        uuid.UUID(call_id),
    )


async def pledge_count(conn) -> int:
    return await conn.fetchval("select count(*) from pledges")


def _float_found(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction or exponent in a response: {text}")


def strictly_parsed(text: str) -> Any:
    """Parse a response, failing on any JSON number that is not an integer."""
    return json.loads(text, parse_float=_float_found)


def money_values(document: Any) -> list[tuple[str, Any]]:
    """Every (name, value) of a money or quantity field anywhere in `document`."""
    found: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for name, value in document.items():
            if name in MONEY_FIELDS and not isinstance(value, dict | list):
                found.append((name, value))
            found.extend(money_values(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(money_values(value))
    return found


@pytest.fixture
async def setup(dispatcher, conn):
    owner = await make_organization(dispatcher, conn, 0)
    other = await make_organization(dispatcher, conn, 1)
    incident_id = await open_incident(dispatcher)
    return owner, other, incident_id


# --- 0.1 + 0.2 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [(b"0.1", b"0.2"), (b'"0.1"', b'"0.2"'), (b"0.1", b'"0.2"')],
    ids=["json-numbers", "strings", "number-and-string"],
)
async def test_point_one_plus_point_two_is_exactly_point_three(dispatcher, conn, setup, first, second):
    owner, other, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]

    a = await ok(await pledge_raw(owner.api, call_id, amount_body(first)), 201)
    b = await ok(await pledge_raw(other.api, call_id, amount_body(second, b', "currency": "CNY"')), 201)

    assert (a["amount"], a["currency"]) == ("0.1", "CNY")
    assert (b["amount"], b["currency"]) == ("0.2", "CNY")
    call = await read_call(dispatcher, call_id)
    assert call["committed"] == "0.3"
    assert Decimal(call["remaining"]) == Decimal("1999999.7")
    assert DECIMAL_STRING.match(call["remaining"]) and DECIMAL_STRING.match(call["requested"])
    assert Decimal(call["requested"]) == Decimal("2000000")
    assert call["in_transit"] == "0" and call["delivered"] == "0"

    row = await db_counters(conn, call_id)
    assert row["committed"] == Decimal("0.3") and str(row["committed"]) == "0.3"
    assert row["remaining"] == Decimal("1999999.7")
    assert await conn.fetchval("select committed = 0.3 from calls where id = $1", uuid.UUID(call_id)) is True
    amounts = await conn.fetch("select quantity from pledges where call_id = $1", uuid.UUID(call_id))
    assert sorted(str(r["quantity"]) for r in amounts) == ["0.1", "0.2"]

    # And back: withdrawing the 0.1 leaves exactly 0.2.
    await ok(await owner.api.post(f"/v1/pledges/{a['id']}/withdraw"))
    call = await read_call(dispatcher, call_id)
    assert call["committed"] == "0.2"
    assert Decimal(call["remaining"]) == Decimal("1999999.8")


async def test_counters_are_numeric_columns(conn):
    types = await conn.fetch(
        """
        select table_name, column_name, data_type from information_schema.columns
         where (table_name = 'calls' and column_name in ('requested', 'committed', 'in_transit', 'delivered'))
            or (table_name = 'pledges' and column_name in ('quantity', 'estimated_value', 'delivered_quantity'))
        """
    )
    assert len(types) == 7
    assert {r["data_type"] for r in types} == {"numeric"}


async def test_ten_dimes_make_exactly_one(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call(amount="1.00")))["id"]
    for _ in range(10):
        await ok(await pledge_raw(owner.api, call_id, amount_body(b"0.1")), 201)
    call = await read_call(dispatcher, call_id)
    assert Decimal(call["committed"]) == 1 and call["committed"] in ("1.0", "1")
    assert Decimal(call["remaining"]) == 0
    # The call is exactly full: even the smallest coin more is over-commitment.
    error = await problem(await pledge_raw(owner.api, call_id, amount_body(b"0.01")), 409)
    assert Decimal(error["remaining"]) == 0


async def test_a_number_a_float_would_round_stays_exact(dispatcher, conn, setup):
    owner, _, incident_id = setup
    # 99999999999999.99 as a double is 99999999999999.98.
    call = await new_call(
        dispatcher,
        incident_id,
        b'{"kind": "money", "title": "\\u5584\\u6b3e", "amount": 99999999999999.99, "status": "open"}',
    )
    assert call["amount"] == "99999999999999.99" and call["currency"] == "CNY"
    created = await ok(await pledge_raw(owner.api, call["id"], amount_body(b"99999999999999.99")), 201)
    assert created["amount"] == "99999999999999.99"
    after = await read_call(dispatcher, call["id"])
    assert after["committed"] == "99999999999999.99"
    assert Decimal(after["remaining"]) == 0
    row = await db_counters(conn, call["id"])
    assert row["committed"] == Decimal("99999999999999.99") and row["remaining"] == 0


async def test_over_commitment_names_the_exact_remainder(dispatcher, conn, setup):
    owner, other, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    await ok(await pledge_raw(owner.api, call_id, amount_body(b"0.1")), 201)
    await ok(await pledge_raw(other.api, call_id, amount_body(b"0.2")), 201)

    error = await problem(await pledge_raw(owner.api, call_id, amount_body(b"1999999.71")), 409)
    assert isinstance(error["remaining"], str) and Decimal(error["remaining"]) == Decimal("1999999.7")
    assert await pledge_count(conn) == 2

    await ok(await pledge_raw(owner.api, call_id, amount_body(b"1999999.70")), 201)
    call = await read_call(dispatcher, call_id)
    assert Decimal(call["committed"]) == Decimal("2000000") and Decimal(call["remaining"]) == 0


# --- amounts that are refused --------------------------------------------------------------------
#
# Each test below tries every bad input on one call and compares the whole table of answers, so a
# failure names each input that was taken or answered wrongly.


async def refusals(api: Api, call_id: str, bodies: dict[str, bytes]) -> dict[str, tuple[int, list[str]]]:
    """input label → (status, pointers of the errors) for each body pledged on `call_id`."""
    out = {}
    for label, raw in bodies.items():
        response = await pledge_raw(api, call_id, raw)
        document = await response.json()
        pointers = [e.get("pointer") for e in document.get("errors", [])] if response.status != 201 else []
        out[label] = (response.status, pointers)
    return out


def amounts(*values: bytes) -> dict[str, bytes]:
    return {value.decode(): amount_body(value) for value in values}


async def assert_untouched(dispatcher: Api, conn, call_id: str) -> None:
    assert await pledge_count(conn) == 0
    call = await read_call(dispatcher, call_id)
    assert (call["committed"], call["remaining"]) == ("0", call["requested"])


async def test_zero_or_negative_amount_is_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    bodies = amounts(b"0", b"0.00", b"-1", b"-0.01", b"-0", b"-0.0", b'"0"', b'"0.00"', b'"-5"', b'"-0.01"')
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/amount"]))
    await assert_untouched(dispatcher, conn, call_id)


async def test_a_currency_other_than_the_calls_is_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    bodies = {
        currency: json.dumps({"amount": "100.00", "currency": currency}).encode()
        for currency in ("USD", "EUR", "HKD", "JPY", "RMB", "XXX1", "")
    }
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/currency"]))
    await assert_untouched(dispatcher, conn, call_id)
    # The call's own currency, or none (meaning the call's), is taken.
    created = await ok(await pledge_raw(owner.api, call_id, b'{"amount": "100.00", "currency": "CNY"}'), 201)
    assert created["currency"] == "CNY"


async def test_a_usd_call_takes_usd_only(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call(amount="1000.00", currency="USD")))["id"]
    error = await problem(await pledge_raw(owner.api, call_id, b'{"amount": "10.00", "currency": "CNY"}'), 422)
    assert [e["pointer"] for e in error["errors"]] == ["/currency"]
    # Without a currency the call's own is meant.
    created = await ok(await pledge_raw(owner.api, call_id, b'{"amount": 10.5}'), 201)
    assert (created["amount"], created["currency"]) == ("10.5", "USD")
    assert (await read_call(dispatcher, call_id))["committed"] == "10.5"


async def test_cny_amounts_have_at_most_two_decimals(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    bodies = amounts(b'"0.125"', b"0.125", b'"10.001"', b"1999999.999", b"0.001")
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/amount"]))
    await assert_untouched(dispatcher, conn, call_id)


async def test_jpy_amounts_are_whole_yen(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call(amount="100000", currency="JPY")))["id"]
    error = await problem(await pledge_raw(owner.api, call_id, amount_body(b"100.5")), 422)
    assert [e["pointer"] for e in error["errors"]] == ["/amount"]
    assert (await ok(await pledge_raw(owner.api, call_id, amount_body(b"100")), 201))["amount"] == "100"


async def test_exponent_notation_is_read_exactly(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    cases = {b"1e2": "100", b"1E+2": "100", b"1E2": "100", b"2.5E-1": "0.25", b"12.5e0": "12.5"}
    shown = {}
    for amount in cases:
        shown[amount] = (await ok(await pledge_raw(owner.api, call_id, amount_body(amount)), 201))["amount"]
    assert shown == cases
    call = await read_call(dispatcher, call_id)
    assert call["committed"] == "312.75"
    assert Decimal(call["remaining"]) == Decimal("1999687.25")
    assert (await db_counters(conn, call_id))["committed"] == Decimal("312.75")


async def test_an_amount_beyond_eighteen_digits_is_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    # Over-pledging allowed, so only the size of the number can refuse these.
    call_id = (await new_call(dispatcher, incident_id, money_call(allow_overpledge=True)))["id"]
    bodies = amounts(
        b'"1234567890123456789"',
        b"1234567890123456789",
        b'"12345678901234567.89"',
        b"1e19",
        b"1E+30",
        b"1e999999",
        b'"1e999999"',
        b'"99999999999999999999999999999999999999"',
    )
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/amount"]))
    await assert_untouched(dispatcher, conn, call_id)
    # Large but within bounds is fine (a hundred trillion yuan, to the fen).
    created = await ok(await pledge_raw(owner.api, call_id, amount_body(b"99999999999999.99")), 201)
    assert created["amount"] == "99999999999999.99"


async def test_a_call_beyond_eighteen_digits_is_422(dispatcher, setup):
    _, _, incident_id = setup
    response = await dispatcher.post(
        f"/v1/incidents/{incident_id}/calls",
        data=b'{"kind": "money", "title": "x", "amount": 1234567890123456789, "status": "open"}',
        headers={"Content-Type": "application/json"},
    )
    error = await problem(response, 422)
    assert "/amount" in [e["pointer"] for e in error["errors"]]


async def test_nan_and_infinity_are_not_json(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call(allow_overpledge=True)))["id"]
    bodies = amounts(b"NaN", b"Infinity", b"-Infinity")
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (400, []))
    await assert_untouched(dispatcher, conn, call_id)


async def test_nan_and_infinity_as_strings_are_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call(allow_overpledge=True)))["id"]
    bodies = amounts(b'"NaN"', b'"nan"', b'"Infinity"', b'"-Infinity"', b'"inf"', b'"sNaN"')
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/amount"]))
    await assert_untouched(dispatcher, conn, call_id)


async def test_an_amount_that_is_not_a_number_is_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    bodies = amounts(b"true", b"false", b"null", b"[1]", b'{"value": 1}', b'"ten"', b'""', b'"1,000.00"')
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/amount"]))
    await assert_untouched(dispatcher, conn, call_id)


async def test_a_delivered_amount_has_at_most_the_currencys_decimals(dispatcher, conn, setup):
    """What arrives is money too: a CNY delivery of a fraction of a fen would put it in the counters."""
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, money_call()))["id"]
    given = await ok(await pledge_raw(owner.api, call_id, amount_body(b'"100.00"')), 201)
    await ok(await dispatcher.post(f"/v1/pledges/{given['id']}/accept"))

    answers = {}
    for delivered in ("50.005", "0.001", "99.999"):
        response = await dispatcher.post(f"/v1/pledges/{given['id']}/deliver", json={"quantity": delivered})
        answers[delivered] = response.status
        if response.status == 200:  # taken: the rest of the table would test a delivered pledge
            break
    assert answers == {"50.005": 422, "0.001": 422, "99.999": 422}
    call = await read_call(dispatcher, call_id)
    assert (Decimal(call["committed"]), Decimal(call["delivered"])) == (100, 0)
    assert (await ok(await dispatcher.get(f"/v1/pledges/{given['id']}")))["status"] == "accepted"
    # Whole fen are fine.
    done = await ok(await dispatcher.post(f"/v1/pledges/{given['id']}/deliver", json={"quantity": "50.01"}))
    assert done["delivered_quantity"] == "50.01"
    call = await read_call(dispatcher, call_id)
    assert (call["committed"], call["delivered"]) == ("50.01", "50.01")


# --- goods quantities ----------------------------------------------------------------------------


async def test_goods_quantities_take_four_decimals(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, goods_call()))["id"]
    cases = {b'"12.3456"': "12.3456", b"0.0001": "0.0001", b"7": "7", b"1.5E-3": "0.0015"}
    shown = {}
    for quantity in cases:
        created = await ok(await pledge_raw(owner.api, call_id, b'{"quantity": ' + quantity + b"}"), 201)
        shown[quantity] = created["quantity"]
    assert shown == cases
    call = await read_call(dispatcher, call_id)
    assert call["committed"] == "19.3472"
    assert Decimal(call["remaining"]) == Decimal("480.6528")
    assert (await db_counters(conn, call_id))["committed"] == Decimal("19.3472")


async def test_goods_quantities_with_five_decimals_are_422(dispatcher, conn, setup):
    owner, _, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, goods_call()))["id"]
    bodies = {q.decode(): b'{"quantity": ' + q + b"}" for q in (b'"1.23456"', b"0.00001", b'"12.00001"', b"1E-5")}
    assert await refusals(owner.api, call_id, bodies) == dict.fromkeys(bodies, (422, ["/quantity"]))
    await assert_untouched(dispatcher, conn, call_id)


async def test_goods_counters_sum_exactly(dispatcher, conn, setup):
    owner, other, incident_id = setup
    call_id = (await new_call(dispatcher, incident_id, goods_call(quantity="1")))["id"]
    a = await ok(await pledge_raw(owner.api, call_id, b'{"quantity": 0.1, "estimated_value": 0.7}'), 201)
    await ok(await pledge_raw(other.api, call_id, b'{"quantity": "0.2"}'), 201)
    assert a["estimated_value"] == "0.7"
    assert (await read_call(dispatcher, call_id))["committed"] == "0.3"
    await ok(await dispatcher.post(f"/v1/pledges/{a['id']}/accept"))
    await ok(await owner.api.post(f"/v1/pledges/{a['id']}/dispatch"))
    delivered = await ok(
        await dispatcher.post(
            f"/v1/pledges/{a['id']}/deliver", data=b'{"quantity": 0.07}', headers={"Content-Type": "application/json"}
        )
    )
    assert delivered["delivered_quantity"] == "0.07"
    call = await read_call(dispatcher, call_id)
    # 0.07 of the 0.1 arrived: committed 0.2 + 0.07, nothing in transit, 0.73 remaining.
    assert Decimal(call["committed"]) == Decimal("0.27") and call["committed"] in ("0.27", "0.270")
    assert Decimal(call["delivered"]) == Decimal("0.07")
    assert Decimal(call["in_transit"]) == 0
    assert Decimal(call["remaining"]) == Decimal("0.73")
    row = await db_counters(conn, call_id)
    assert (row["committed"], row["delivered"], row["in_transit"]) == (Decimal("0.27"), Decimal("0.07"), 0)


# --- no floats in responses ----------------------------------------------------------------------


async def test_responses_never_carry_money_as_a_json_number(dispatcher, viewer, conn, setup):
    owner, _, incident_id = setup
    texts: list[str] = []

    async def keep(response, status: int = 200) -> dict:
        assert response.status == status, await response.text()
        text = await response.text()
        texts.append(text)
        return strictly_parsed(text)

    money = await keep(await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=money_call()), 201)
    goods = await keep(await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=goods_call()), 201)
    key = str(uuid.uuid4())
    given = await keep(await pledge_raw(owner.api, money["id"], amount_body(b"1234.5"), key=key), 201)
    replayed = await keep(await pledge_raw(owner.api, money["id"], amount_body(b"1234.5"), key=key), 201)
    assert replayed == given
    boxes = await keep(await pledge_raw(owner.api, goods["id"], b'{"quantity": 12.25, "estimated_value": 3000.5}'), 201)
    await keep(await dispatcher.post(f"/v1/pledges/{boxes['id']}/accept"))
    await keep(await owner.api.post(f"/v1/pledges/{boxes['id']}/dispatch"))
    await keep(await dispatcher.post(f"/v1/pledges/{boxes['id']}/deliver", json={"quantity": "10.5"}))
    await keep(await dispatcher.post(f"/v1/pledges/{given['id']}/accept"))
    for api in (dispatcher, viewer, owner.api):
        await keep(await api.get(f"/v1/calls/{money['id']}"))
        await keep(await api.get(f"/v1/calls/{goods['id']}"))
        await keep(await api.get(f"/v1/incidents/{incident_id}/calls"))
        await keep(await api.get("/v1/pledges"))
        await keep(await api.get(f"/v1/pledges/{boxes['id']}"))
        await keep(await api.get(f"/v1/calls/{goods['id']}/pledges"))
    await keep(await dispatcher.get("/v1/events?entity_type=pledge"))
    await keep(await dispatcher.get("/v1/events?entity_type=call"))
    over = await pledge_raw(owner.api, money["id"], amount_body(b"9999999.99"))
    assert over.status == 409
    texts.append(await over.text())

    found = [pair for text in texts for pair in money_values(strictly_parsed(text))]
    assert len(found) > 100
    not_strings = [(name, value) for name, value in found if value is not None and not isinstance(value, str)]
    assert not_strings == []
    assert all(DECIMAL_STRING.match(value) for _, value in found if value is not None), found
    assert ("estimated_value", "3000.5") in found and ("delivered_quantity", "10.5") in found
    assert ("amount", "1234.5") in found and ("quantity", "12.25") in found
    assert isinstance(strictly_parsed(texts[-1])["remaining"], str)
