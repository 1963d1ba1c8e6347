"""The Doksuri demo's alert: broadcast to the volunteer teams in the incident's districts, answered by two
of them, and escalated for the third, so the alerts screen shows reach, acknowledgements and escalation
on first run.

The alert is dated 40 minutes back (its broadcast event stays at load time: the event log is
append-only and ordered), past RELIEF_ALERT_ESCALATE_MINUTES, so the escalation step finds the team
that did not answer, as the overdue watch would.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from models.alerts import AckCreate, AlertCreate
from models.keys import Role
from relief import alerts, escalations
from relief.auth import Principal

ALERT = {
    "headline": "东山镇沿湖村庄立即转移（演示）",
    "description": "太湖水位持续上涨，吴中区东山镇沿湖低洼村庄有被淹风险。",
    "instruction": "各水上救援队携带冲锋舟到东山镇政府集合，听从现场指挥。",
    "category": "Met",
    "urgency": "Immediate",
    "severity": "Severe",
    "certainty": "Observed",
    "response_type": "Evacuate",
    "area": {"description": "吴中区东山镇沿湖村庄", "circle": "31.07,120.40 8"},
}
ANSWERS: dict[str, tuple[str, str]] = {
    "wz_bluesky": ("responding", "两艘冲锋舟30分钟内到达"),
    "xc_rescue": ("received", "已收到，待命"),
}


@dataclass(frozen=True)
class DemoAlert:
    targets: int
    acknowledged: int
    escalated: int


async def record(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID, orgs: dict[str, UUID],
                 names: dict[str, str], sender: str, escalate_after_seconds: float = 900) -> DemoAlert:
    alert = await alerts.create(conn, actor=dispatcher, incident_id=incident_id, sender=sender,
                                data=AlertCreate.model_validate(ALERT))
    await conn.execute(
        "update alerts set created_at = created_at - interval '40 minutes', sent_at = sent_at - interval '40 minutes'"
        " where id = $1", alert.id,
    )
    for slug, (status, note) in ANSWERS.items():
        team = Principal(role=Role.organization, organization_id=orgs[slug], organization_status="approved",
                         name=names[slug])
        await alerts.acknowledge(conn, actor=team, alert_id=alert.id,
                                 data=AckCreate.model_validate({"status": status, "note": note}))
    escalated = await escalations.escalate_alerts(conn, delay=escalate_after_seconds)
    targets = await conn.fetchval("select count(*) from alert_targets where alert_id = $1", alert.id)
    return DemoAlert(targets, len(ANSWERS), len(escalated))
