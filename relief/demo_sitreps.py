"""The Doksuri demo's situation reports (灾情报告): an initial report (初报) on the evening of 29 July, once
the districts' first counts are in, and an update (续报) on the evening of 31 July, after their verified
counts, the teams' work in the field and the first disbursements.

Both are issued as the API issues them (relief.sitreps.issue), inside the load's transaction: the scenario's
own events count in each report's stream position, and the update's change list says what moved in between.
The narratives are made up, like everything else in the demo; they name no one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from models.sitreps import Sitrep, SitrepCreate, SitrepKind
from relief import sitreps
from relief.auth import Principal
from relief.settings import Settings

TIME_ZONE = "Asia/Shanghai"
BUREAU = Settings.model_fields["cap_sender"].default  # RELIEF_CAP_SENDER's default: the demo has no bureau of its own

INITIAL_AT = datetime(2023, 7, 29, 20, 0, tzinfo=ZoneInfo(TIME_ZONE)).astimezone(UTC)
UPDATE_AT = datetime(2023, 7, 31, 18, 0, tzinfo=ZoneInfo(TIME_ZONE)).astimezone(UTC)

INITIAL = (
    "受第5号台风“杜苏芮”残余环流影响，7月28日以来我市普降大到暴雨，局部大暴雨，太湖水位持续上涨，"
    "吴中区沿湖圩区、相城区、昆山市锦溪和周庄、太仓市浏河等地出现积水和内涝。\n"
    "据各区（市）应急管理局初步统计，截至7月29日18时，四地受灾人口约1.94万人，紧急转移安置2810人，"
    "一般损坏房屋32间，农作物受灾面积1114.1公顷，直接经济损失约834万元；暂无人员死亡或失踪报告。\n"
    "市防指已启动防汛Ⅲ级应急响应，开放集中安置点，向社会发布资金、物资和人员需求；"
    "已有多支社会组织救援队伍认捐并赶赴一线。灾情仍在发展，有关数据将在核实后续报。"
)
UPDATE = (
    "7月30日起降雨减弱，太湖水位缓慢回落，各地排涝和巡查工作有序开展。\n"
    "据各区（市）应急管理局核实，截至7月31日12时，四地受灾人口2.82万人，紧急转移安置4180人，"
    "一般损坏房屋83间，农作物受灾面积2035.6公顷，直接经济损失约1604万元；无人员死亡或失踪。"
    "部分社会组织和媒体的统计口径与政府数据不同，本报告一并列出，以政府核报数据为准。\n"
    "社会组织救援队伍在沿湖各村开展转移、巡查和物资发放，部分受灾群众已陆续返家；"
    "捐赠资金已按用途拨付用于紧急生活救助、安置点运行和抢险救援，物资由仓库调往各安置点发放。"
    "下一步将继续做好安置点管理、卫生防疫和灾后恢复工作。"
)


async def _issue(conn: asyncpg.Connection, dispatcher: Principal, incident_id: UUID, kind: SitrepKind,
                 narrative: str, at: datetime) -> Sitrep:
    sitrep, _document = await sitreps.issue(
        conn, actor=dispatcher, incident_id=incident_id, data=SitrepCreate(kind=kind, narrative=narrative),
        time_zone=TIME_ZONE, bureau=BUREAU, at=at)
    return sitrep


async def issue_initial(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID) -> Sitrep:
    """The initial report (初报), after the districts' first counts. Call in the load's transaction."""
    return await _issue(conn, dispatcher, incident_id, SitrepKind.initial, INITIAL, INITIAL_AT)


async def issue_update(conn: asyncpg.Connection, *, dispatcher: Principal, incident_id: UUID) -> Sitrep:
    """The update (续报), at the end of the scenario. Call in the load's transaction."""
    return await _issue(conn, dispatcher, incident_id, SitrepKind.update, UPDATE, UPDATE_AT)


__all__ = ["issue_initial", "issue_update"]
