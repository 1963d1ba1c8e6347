"""The ledger anyone can check: chained entries, a signed head, tamper detection, a donor's receipt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relief import chain, db
from tests.conftest import Api, incident_body
from tests.test_cli import relief

GENESIS = "0" * 64


async def _incident(dispatcher: Api) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def _donate(dispatcher: Api, incident_id: str, **body) -> dict:
    body = {"kind": "money", **body}
    if body["kind"] == "money":
        body.setdefault("amount", "100.00")
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/donations", json=body,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, await response.text()
    return await response.json()


async def _all_entries(anonymous: Api, incident_id: str) -> list[dict]:
    out, after = [], 0
    while True:
        response = await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger/entries?after={after}&limit=2")
        assert response.status == 200, await response.text()
        page = await response.json()
        out += page["items"]
        if page["next_after"] is None:
            return out
        after = page["next_after"]


def _recompute(entries: list[dict]) -> str:
    """The chain as an outsider computes it: hashlib only, nothing of ours."""
    head = GENESIS
    for expected, entry in enumerate(entries, 1):
        assert entry["position"] == expected
        head = hashlib.sha256(f"{head}\n{entry['encoding']}".encode()).hexdigest()
        assert head == entry["hash"]
    return head


async def test_the_signed_head_verifies_with_the_published_key_and_the_entries_recompute_to_it(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    first = await _donate(dispatcher, incident_id, receipt_no="R-1", donor={"name": "王小明"})
    await _donate(dispatcher, incident_id, kind="goods", item="drinking_water", unit="box", quantity="20")
    reversal = await dispatcher.post(f"/v1/donations/{first['id']}/reverse", json={"reason": "typed twice"})
    assert reversal.status == 201

    head = await (await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger")).json()
    key = await (await anonymous.get("/v1/public/ledger-key")).json()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(base64.b64decode(head["signature"]), head["statement"].encode())  # raises if it does not verify
    statement = json.loads(head["statement"])
    assert statement == {"algorithm": "Ed25519", "as_of": statement["as_of"], "entries": 3, "head": head["head"],
                         "incident_id": incident_id, "key_id": key["key_id"]}

    entries = await _all_entries(anonymous, incident_id)
    assert len(entries) == 3
    assert _recompute(entries) == head["head"] == statement["head"]

    # A forged statement does not verify.
    forged = head["statement"].replace('"entries":3', '"entries":2')
    try:
        public.verify(base64.b64decode(head["signature"]), forged.encode())
    except InvalidSignature:
        pass
    else:
        raise AssertionError("a changed statement verified")

    # The encodings name no person and show no receipt number: those are keyed digests.
    text = json.dumps(entries, ensure_ascii=False)
    assert "王小明" not in text and "R-1" not in text and "typed twice" not in text
    first_entry = json.loads(entries[0]["encoding"])
    assert first_entry["donor_name"].startswith("hmac-sha256:")
    assert first_entry["quantity"] == "100.00" and first_entry["chain"]["position"] == 1


async def test_a_row_changed_behind_the_service_is_named_by_verify_ledger(database_url, dispatcher, conn):
    incident_id = await _incident(dispatcher)
    donations = [await _donate(dispatcher, incident_id, amount=f"{n}.00") for n in (10, 20, 30)]
    ok = await relief(database_url, "verify-ledger")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "3 entries" in ok.stdout and "ok" in ok.stdout

    # As the database owner, with the append-only trigger disabled: the second entry's amount changes.
    await conn.execute("alter table donations disable trigger donations_no_update")
    await conn.execute("update donations set quantity = 2000.00 where id = $1", uuid.UUID(donations[1]["id"]))
    await conn.execute("alter table donations enable trigger donations_no_update")

    broken = await relief(database_url, "verify-ledger", "--incident", incident_id)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "MISMATCH at entry 2" in broken.stdout, broken.stdout
    assert donations[1]["id"] in broken.stdout
    assert "1 entries before it verify" in broken.stdout


async def test_a_rewritten_encoding_breaks_the_next_link(database_url, dispatcher, conn):
    incident_id = await _incident(dispatcher)
    for n in (1, 2):
        await _donate(dispatcher, incident_id, amount=f"{n}.00")
    # Rewriting the stored chain consistently for entry 1 (encoding + hash from the changed row) still
    # leaves entry 2 pointing at the old hash.
    checked, mismatch = await chain.verify(conn, incident_id=uuid.UUID(incident_id))
    assert (checked, mismatch) == (2, None)
    await conn.execute("alter table ledger_entries disable trigger ledger_entries_no_update")
    await conn.execute("update ledger_entries set hash = repeat('a', 64) where position = 1 and incident_id = $1",
                       uuid.UUID(incident_id))
    checked, mismatch = await chain.verify(conn, incident_id=uuid.UUID(incident_id))
    assert checked == 0 and mismatch is not None and mismatch.position == 1


async def test_concurrent_entries_get_positions_one_by_one_in_commit_order(dispatcher, anonymous, conn):
    incident_id = await _incident(dispatcher)
    await asyncio.gather(*(_donate(dispatcher, incident_id, amount=f"{n}.00") for n in range(1, 41)))
    entries = await _all_entries(anonymous, incident_id)
    assert [e["position"] for e in entries] == list(range(1, 41))
    head = await (await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger")).json()
    assert _recompute(entries) == head["head"]
    assert await chain.verify(conn, incident_id=uuid.UUID(incident_id)) == (40, None)


async def test_a_donor_finds_a_receipt_only_with_its_amount(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    await _donate(dispatcher, incident_id, amount="5000.00", receipt_no="SZ-2023-0001")
    found = await anonymous.get(f"/v1/public/incidents/{incident_id}/receipts/SZ-2023-0001?amount=5000")
    assert found.status == 200, await found.text()
    body = await found.json()
    assert body["position"] == 1 and body["reversed"] is False and len(body["hash"]) == 64

    wrong = await anonymous.get(f"/v1/public/incidents/{incident_id}/receipts/SZ-2023-0001?amount=4999.99")
    unknown = await anonymous.get(f"/v1/public/incidents/{incident_id}/receipts/SZ-2023-0002?amount=5000")
    assert wrong.status == unknown.status == 404
    assert (await wrong.json())["title"] == (await unknown.json())["title"]
    missing = await anonymous.get(f"/v1/public/incidents/{incident_id}/receipts/SZ-2023-0001")
    assert missing.status == 422


async def test_an_empty_chain_has_the_genesis_head_and_unknown_incidents_are_404(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    head = await (await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger")).json()
    assert head["entries"] == 0 and head["head"] == GENESIS and head["as_of"] is None
    response = await anonymous.get(f"/v1/public/incidents/{uuid.uuid4()}/ledger")
    assert response.status == 404


async def test_the_head_answers_304_while_the_ledger_is_unchanged(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    await _donate(dispatcher, incident_id)
    first = await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger")
    again = await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger",
                                headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    await _donate(dispatcher, incident_id)
    changed = await anonymous.get(f"/v1/public/incidents/{incident_id}/ledger",
                                  headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status == 200 and (await changed.json())["entries"] == 2


async def test_donations_that_predate_the_chain_are_chained_by_the_migration(empty_database_url, tmp_path: Path):
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(db.MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) < db.CHAIN_MIGRATION:
            shutil.copy(path, before / path.name)
    conn = await db.connect(empty_database_url)
    try:
        await db.migrate(conn, directory=before)
        incident_id = await conn.fetchval(
            """insert into incidents (code, title, type, severity, regions, started_at)
               values ('OLD-1', 'old', 'flood', 'III', '{320500}', now()) returning id""")
        for n in range(3):
            await conn.execute("insert into donations (incident_id, kind, quantity, currency, donor_name) "
                               "values ($1, 'money', $2, 'CNY', '李四')", incident_id, n + 1)
        await conn.execute("insert into donations (incident_id, kind, quantity, item, unit) "
                           "values ($1, 'goods', 7, 'tent', 'piece')", incident_id)
        await db.migrate(conn)
        assert await chain.verify(conn, incident_id=incident_id) == (4, None)
        levels = await conn.fetch("select item, on_hand from stock_levels where incident_id = $1", incident_id)
        assert [(r["item"], r["on_hand"]) for r in levels] == [("tent", 7)]
        assert await conn.fetchval("select received from funds where incident_id = $1", incident_id) == 6
    finally:
        await conn.close()


async def test_the_ledger_key_setting_accepts_base64_and_pem_and_refuses_anything_else():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = chain.new_key()
    assert chain.Signer.from_setting(key, "").key_id == chain.Signer.from_setting(key, "other").key_id
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert len(chain.Signer.from_setting(pem, "").public_raw) == 32
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        try:
            chain.parse_key(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was taken as a key")


async def test_wrong_receipt_guesses_spend_the_failed_sign_in_budget(dispatcher, anonymous, settings):
    """The amounts are public in the entries: trying them one by one against a receipt number is stopped."""
    incident_id = await _incident(dispatcher)
    await _donate(dispatcher, incident_id, amount="777.00", receipt_no="SZ-GUESS")
    path = f"/v1/public/incidents/{incident_id}/receipts/SZ-GUESS"
    for n in range(settings.auth_failures_per_minute):
        assert (await anonymous.get(f"{path}?amount={n + 1}.00")).status == 404
    refused = await anonymous.get(f"{path}?amount=777.00")  # the right amount, once the budget is spent
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert "receipt lookups" in (await refused.json())["detail"]


async def test_voucher_numbers_key_ids_and_entry_ids_are_digests_in_the_public_encoding(dispatcher, anonymous, conn):
    from tests.test_disbursements import payment, proposed, second_dispatcher

    incident_id = await _incident(dispatcher)
    await _donate(dispatcher, incident_id, amount="500.00")
    d = await proposed(dispatcher, incident_id, payment("100.00", voucher="V-李秀英"))
    approver = await second_dispatcher(dispatcher, conn)
    assert (await approver.post(f"/v1/disbursements/{d['id']}/approve")).status == 200
    entries = await _all_entries(anonymous, incident_id)
    text = json.dumps(entries, ensure_ascii=False)
    assert "李秀英" not in text and d["id"] not in text and d["proposed_by"] not in text
    paid = json.loads(entries[-1]["encoding"])
    assert paid["voucher_no"].startswith("hmac-sha256:") and paid["amount"] == "100.00"
