"""Typed application keys shared by relief/app.py and the handlers."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp import web

from relief.chain import Signer
from relief.inflight import InFlight
from relief.pledge_batches import Coalescer
from relief.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REQUEST_ID = web.RequestKey("request_id", str)
IN_FLIGHT = web.AppKey("in_flight", InFlight)
STOPPING = web.AppKey("stopping", asyncio.Event)  # set when a graceful stop begins
LEDGER_SIGNER = web.AppKey("ledger_signer", Signer)  # signs incidents' ledger heads (RELIEF_LEDGER_KEY)
PLEDGE_BATCHES = web.AppKey("pledge_batches", Coalescer)  # set unless RELIEF_PLEDGE_COALESCE=false
