"""/v1/public/…/ledger: the chained ledger anyone can check, its signed head, and a donor's receipt."""

from __future__ import annotations

import base64
import hashlib

from aiohttp import web
from pydantic import BaseModel

from handlers import public_cache
from handlers.common import path_id, pool, query
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.chain import (
    LedgerEntries,
    LedgerEntriesQuery,
    LedgerEntry,
    LedgerHead,
    LedgerKey,
    ReceiptCheck,
    ReceiptQuery,
)
from relief import chain, incidents
from relief.app_keys import LEDGER_SIGNER

routes = Routes("ledger")

KEY_MAX_AGE_SECONDS = 3600  # the bureau's key changes only with its configuration (a restart)


def _answer(model: BaseModel) -> public_cache.Answer:
    """Public answers change only with the ledger: an ETag over the body."""
    body = model.model_dump_json().encode()
    return public_cache.Answer(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@routes.get("/v1/public/ledger-key", public=True, cached=True, response=LedgerKey,
            summary="The bureau's public key that verifies every signed ledger head")
async def ledger_key(request: web.Request) -> web.Response:
    """The bureau's public key that verifies every signed ledger head."""
    signer = request.app[LEDGER_SIGNER]
    key = _answer(LedgerKey(key_id=signer.key_id, public_key=base64.b64encode(signer.public_raw).decode(),
                            public_key_pem=signer.public_pem))
    headers = {"ETag": key.etag, "Cache-Control": f"public, max-age={KEY_MAX_AGE_SECONDS}"}
    if public_cache.matches(request, key.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=key.body, headers=headers, content_type="application/json")


@routes.get("/v1/public/incidents/{id}/ledger", public=True, database=True, cached=True, response=LedgerHead,
            errors=(404,),
            summary="The incident's ledger head (entry count and last hash), signed by the bureau")
async def ledger_head(request: web.Request) -> web.Response:
    """The incident's ledger head, signed: keep it, and later check that history only grew from it."""
    incident_id = path_id(request)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            await incidents.require(conn, incident_id)
            head = await chain.head(conn, incident_id)
        signed = request.app[LEDGER_SIGNER].sign(head)
        return _answer(LedgerHead(incident_id=incident_id, entries=head.entries, head=head.head, as_of=head.as_of,
                                  key_id=request.app[LEDGER_SIGNER].key_id, **signed))

    return await public_cache.cache(request).answer(request, str(incident_id), make)


@routes.get("/v1/public/incidents/{id}/ledger/entries", public=True, database=True, cached=True,
            query=LedgerEntriesQuery,
            response=LedgerEntries, errors=(404, 422),
            summary="The chained entries after a position, with their canonical encodings and hashes")
async def ledger_entries(request: web.Request) -> web.Response:
    """The chained entries after a position: recompute each hash from the one before to check the chain."""
    incident_id, params = path_id(request), query(request, LedgerEntriesQuery)

    async def make() -> public_cache.Answer:
        async with pool(request).acquire() as conn:
            await incidents.require(conn, incident_id)
            rows = await chain.entries(conn, incident_id=incident_id, after=params.after, limit=params.limit + 1)
        items = [LedgerEntry(position=r["position"], hash=r["hash"], encoding=r["encoding"])
                 for r in rows[: params.limit]]
        more = len(rows) > params.limit
        return _answer(LedgerEntries(items=items, next_after=items[-1].position if more else None))

    return await public_cache.cache(request).answer(request, str(incident_id), make)


@routes.get("/v1/public/incidents/{id}/receipts/{receipt_no}", public=True, database=True, query=ReceiptQuery,
            response=ReceiptCheck, errors=(404, 422),
            summary="Is my receipt in the ledger? Give its number and amount; a wrong amount reads as not found")
async def check_receipt(request: web.Request) -> web.Response:
    """Is a receipt in the ledger? Both its number and its amount must match, so numbers cannot be probed."""
    incident_id, params = path_id(request), query(request, ReceiptQuery)
    receipt_no = request.match_info["receipt_no"].strip()
    if "\x00" in receipt_no or not receipt_no:  # no receipt number holds one (PostgreSQL cannot store it)
        raise HttpProblem("not-found", "no receipt of that number and amount is in this incident's ledger")
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        found = await chain.receipt(conn, incident_id=incident_id, receipt_no=receipt_no, amount=params.amount)
    if found is None:
        # The same answer for an unknown number and a wrong amount: nothing to learn by guessing.
        raise HttpProblem("not-found", "no receipt of that number and amount is in this incident's ledger")
    return web.Response(body=ReceiptCheck(receipt_no=receipt_no, **found).model_dump_json().encode(),
                        headers={"Cache-Control": "no-store"}, content_type="application/json")
