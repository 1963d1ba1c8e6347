"""Amounts that are refused (422), each leaving the call untouched: zero, negative, other currencies,
too many decimals or digits, NaN and infinity, what is not a number."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import Api
from tests.money_world import (
    amount_body,
    db_counters,
    goods_call,
    make_setup,
    money_call,
    new_call,
    ok,
    pledge_count,
    pledge_raw,
    problem,
    read_call,
)


@pytest.fixture
async def setup(dispatcher, conn):
    return await make_setup(dispatcher, conn)


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
