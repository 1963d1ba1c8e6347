"""Money is exact: NUMERIC in the database, Decimal in Python, decimal strings in JSON, never a float.

Bodies are sent as raw bytes so that a JSON number really is a JSON number on the wire (aiohttp's
json= would go through Python floats first). Amounts that are refused: tests/test_money_refusals.py.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.money_world import (
    DECIMAL_STRING,
    amount_body,
    db_counters,
    goods_call,
    make_setup,
    money_call,
    money_values,
    new_call,
    ok,
    pledge_count,
    pledge_raw,
    problem,
    read_call,
    strictly_parsed,
)


@pytest.fixture
async def setup(dispatcher, conn):
    return await make_setup(dispatcher, conn)


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
