"""Waiting that a shutdown can always end.

On Python 3.11, `asyncio.wait_for` swallows a cancellation that arrives in the same loop turn as the
awaited thing completing (cpython gh-86296, fixed in 3.12): a background loop built on it can then
miss its `task.cancel()` and go round forever, and the shutdown awaiting it hangs. `asyncio.timeout`
counts cancellations and re-raises the outside one, so these helpers use it; `stop` bounds the wait
for a cancelled task besides, so one stuck loop cannot hold a process's shutdown for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog

log = structlog.get_logger()

T = TypeVar("T")

# How long a cancelled background task may take to finish its `finally` (closing a listener, writing
# what it holds) before shutdown goes on without it.
STOP_SECONDS = 10.0


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass: True if it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`awaitable`'s result, or TimeoutError after `seconds` (as `asyncio.wait_for`, minus its 3.11 bug)."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def stop(task: asyncio.Task[Any] | asyncio.Future[Any], seconds: float = STOP_SECONDS, *,
               grace: float = 0.0) -> None:
    """Let `task` end on its own for `grace` seconds (it was told to stop), then cancel it and wait at most
    `seconds` more; an error it ends with is logged, not raised (shutdown goes on)."""
    if grace > 0 and not task.done():
        await asyncio.wait({task}, timeout=grace)
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=seconds)
    if not task.done():
        log.warning("background_task_did_not_stop", task=_name(task), seconds=seconds)
    elif not task.cancelled() and task.exception() is not None:
        log.error("background_task_failed", task=_name(task), error=repr(task.exception()))


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)


__all__ = ["STOP_SECONDS", "stop", "within", "woken"]
