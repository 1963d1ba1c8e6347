"""The Doksuri demo's team subscription: 吴中区蓝天救援队's duty pager, with a delivery log of successes
and failures, so the webhooks screen has something true to show on first run.

What is true and what is seeded. The subscription is real: made by the use case the API calls, for
the calls published and the alerts broadcast in the demo incident. Its URL is on this machine
(127.0.0.1, port 9, where nothing listens), because a demo may depend on no host beyond the machine:
whatever it matches after the load is really attempted there and fails, connection refused, as a
receiver that is down does. Its delivery log of the load itself is seeded, and says so in the
subscription's description: each delivery is a real event of the demo, the one the fan-out would have
matched (so the fan-out, meeting it already there, adds none), with the attempts a worker would have
written, dated in the story's time — most delivered at once, two after a retry, two failed for good
while the team's gateway was down. Nothing was sent to anyone.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import asyncpg

from models.keys import Role
from models.webhooks import WebhookCreate
from relief import webhooks
from relief.auth import Principal
from relief.demo_dates import beijing
from relief.sealing import Sealer

SUBSCRIPTION = {
    "url": "http://127.0.0.1:9/pager",
    "event_types": ["call.published", "alert.broadcast"],
    "description": "队伍值班手机推送（演示：加载时的投递记录为预置数据，未实际发送）",
}
CREATED = beijing(7, 28, 7, 50)
# The retry schedule's first steps (notifications/schedule.py): immediately, 5 s, 5 min, 30 min, 2 h.
_LATER = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
_REFUSED = "ClientConnectorError: Cannot connect to host 127.0.0.1:9 [Connection refused]"


def _attempts(index: int, total: int) -> list[tuple[int | None, int, str | None]]:
    """(status code, latency ms, error) of each attempt of the index-th delivery, by the story."""
    if index in (3, 8):
        return [(503, 1204, "HTTP 503"), (204, 86, None)]
    if index in (total - 4, total - 3):  # the gateway down for the night: five attempts, all refused
        return [(None, 1, _REFUSED)] * len(_LATER)
    return [(204, 40 + index * 7 % 90, None)]


async def record(conn: asyncpg.Connection, *, incident_id: UUID, organization_id: UUID, name: str,
                 secret: bytes) -> tuple[int, int]:
    """Subscribe the team and seed its delivery log; returns (delivered, failed). Call after demo_dates."""
    team = Principal(role=Role.organization, organization_id=organization_id, organization_status="approved",
                     name=name)
    hook = await webhooks.create(
        conn, actor=team, destination="127.0.0.1:9", sealer=Sealer(secret.decode()),
        data=WebhookCreate.model_validate({**SUBSCRIPTION, "incidents": [str(incident_id)]}),
    )
    await conn.execute("update webhooks set created_at = $2, updated_at = $2 where id = $1", hook.id, CREATED)
    matched = await conn.fetch(
        """
        select e.id, e.type, coalesce(c.published_at, a.sent_at) as at
          from events e
          left join calls c on e.entity_type = 'call' and c.id = e.entity_id
          left join alerts a on e.entity_type = 'alert' and a.id = e.entity_id
         where e.incident_id = $1 and e.type = any($2::text[])
         order by e.id
        """,
        incident_id, SUBSCRIPTION["event_types"],
    )
    delivered = failed = 0
    for index, event in enumerate(matched):
        tries = _attempts(index, len(matched))
        sent = event["at"] + timedelta(seconds=1)
        ok = tries[-1][0] == 204
        last = sent + _LATER[len(tries) - 1]
        # updated_at stays at load time: the retention purge goes by it, and would take 2023's log at once.
        delivery_id = await conn.fetchval(
            """
            insert into webhook_deliveries (webhook_id, event_id, event_type, status, attempts, next_attempt_at,
                                            last_status_code, last_error, delivered_at, created_at)
            values ($1, $2, $3, $4, $5, null, $6, $7, $8, $9)
            returning id
            """,
            hook.id, event["id"], event["type"], "delivered" if ok else "failed", len(tries), tries[-1][0],
            tries[-1][2], last if ok else None, sent,
        )
        await conn.executemany(
            """
            insert into webhook_attempts (delivery_id, number, attempted_at, worker, status_code, latency_ms,
                                          error, response_body)
            values ($1, $2, $3, 0, $4, $5, $6, $7)
            """,
            [(delivery_id, n, sent + _LATER[n - 1], code, latency, error, "" if code == 204 else None)
             for n, (code, latency, error) in enumerate(tries, 1)],
        )
        delivered += ok
        failed += not ok
    return delivered, failed
