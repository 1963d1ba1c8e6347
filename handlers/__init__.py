"""Thin aiohttp handlers: parse, authorize, call relief/, respond with models/."""
