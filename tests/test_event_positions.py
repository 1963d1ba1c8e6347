"""Stream positions follow commit order: an event that commits late is not skipped (DESIGN.md inv. 6)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from relief import db, events
from relief.auth import SYSTEM


async def _emit(conn, label: str) -> int:
    return await events.emit(
        conn, type="test.event", actor=SYSTEM, entity_type="test", entity_id=uuid.uuid4(), after={"label": label}
    )


async def _read_until(conn, position, count: int):
    """Read until `count` events show up; transactions elsewhere on a shared server can hold the
    snapshot horizon back for a moment."""
    for _ in range(100):
        seen, new_position = await events.read_after(conn, position=position)
        if len(seen) >= count:
            return seen, new_position
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} events after {position}, got {len(seen)}")


@pytest.mark.synthetic_events
async def test_late_commit_is_not_skipped(database_url, conn):
    slow = await db.connect(database_url)
    fast = await db.connect(database_url)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        slow_id = await _emit(slow, "slow")  # takes the smaller id, commits last

        async with fast.transaction():
            fast_id = await _emit(fast, "fast")
        assert fast_id > slow_id

        # While the slow transaction is open, the reader must not move past it: reading the fast
        # event now and resuming from its position would skip the slow one for ever.
        seen, position = await events.read_after(conn, position=None)
        assert [e.after["label"] for e in seen] == []

        await slow_tx.commit()
        seen, position = await _read_until(conn, None, 2)
        assert [e.after["label"] for e in seen] == ["slow", "fast"]  # transaction order

        later, position_after = await events.read_after(conn, position=position)
        assert later == [] and position_after == position

        async with fast.transaction():
            await _emit(fast, "third")
        more, _ = await _read_until(conn, position, 1)
        assert [e.after["label"] for e in more] == ["third"]
    finally:
        await slow.close()
        await fast.close()
