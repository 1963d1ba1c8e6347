"""The field board in a real browser: a dispatcher creates a task and assigns a team; the team accepts through
its own key; the dispatcher checks two members in from the team's roster and the muster shows them. A member
past the expected return raises the red alarm above every screen of the incident; checking them out clears it.
"""

from __future__ import annotations

import re

import asyncpg

from tests.console_world import Console, World, expect
from tests.test_console_i18n import _CATALOGUES, _check, _fragments

ROSTER = [
    {"name": "Zhang Wei", "phone": "13700001001", "role": "lead"},
    {"name": "Liu Yang", "phone": "13700001002"},
    {"name": "Chen Jie", "phone": "13700001003"},
]


async def _team(world: World) -> dict:
    """A personnel pledge of the Lakeside team, accepted, with a roster of three."""
    team = world.organization_api
    pledge = await team.post(f"/v1/calls/{world.calls['personnel']['id']}/pledges", {
        "headcount": 3, "available_from": "2024-07-01T00:00:00Z", "available_until": "2030-07-10T00:00:00Z",
        "lead": {"name": "Zhang Wei", "phone": "13700001001"}}, idempotent=True)
    await world.dispatcher_api.post(f"/v1/pledges/{pledge['id']}/accept")
    async with team.session.put(f"/v1/pledges/{pledge['id']}/roster", json={"members": ROSTER},
                                headers={"Authorization": f"Bearer {team.key}", "If-Match": '"0"'}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_dispatcher_sends_a_team_checks_it_in_and_brings_an_overdue_member_back(
    console: Console, lakeside: World, conn: asyncpg.Connection
):
    page = console.page
    incident = lakeside.incident["id"]
    roster = await _team(lakeside)
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{incident}/field")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    await expect(page.get_by_text("还没有现场任务。")).to_be_visible()

    # A new task, through the form.
    await page.get_by_text("新建现场任务").click()
    form = page.get_by_role("form", name="新建现场任务")
    await form.get_by_label("任务名称").fill("Search the lake shore")
    await form.get_by_label("所需技能").select_option("boat_rescue")
    await form.get_by_label("所需人数").fill("4")
    await form.get_by_label("优先级").select_option("critical")
    await form.get_by_label("地点说明").fill("North shore villages")
    await form.get_by_label("坐标").fill("31.07,120.36")
    await form.get_by_role("button", name="新建任务").click()
    card = page.get_by_role("article", name="Search the lake shore")
    await expect(card).to_contain_text("待指派")
    await expect(card).to_contain_text("特急")
    await expect(card).to_contain_text("需要 4 人")

    # Assign the team: the dialog offers the accepted personnel pledge.
    await card.get_by_role("button", name="为“Search the lake shore”指派队伍").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("队伍")).to_contain_text("Lakeside Rescue Team · 3 人 · 已接受")
    await dialog.get_by_role("button", name="指派队伍").click()
    await expect(dialog).to_have_count(0)
    await expect(card.get_by_role("listitem")).to_contain_text("待答复")

    # The team accepts with its own key; the board follows live.
    task = (await lakeside.dispatcher_api.get(f"/v1/incidents/{incident}/tasks"))["items"][0]
    mine = await lakeside.organization_api.get(f"/v1/tasks/{task['id']}/assignments")
    await lakeside.organization_api.post(f"/v1/assignments/{mine['items'][0]['id']}/accept")
    await expect(card.get_by_role("listitem")).to_contain_text("已接受")

    # Two members checked in from the roster.
    checkin = page.get_by_role("form", name="登记到场")
    await expect(checkin.get_by_label("任务")).to_have_value(task["id"])
    await checkin.get_by_label("Zhang Wei · 队长").check()
    await checkin.get_by_label("Liu Yang · 队员").check()
    await checkin.get_by_role("button", name="登记到场").click()
    muster = page.get_by_role("table", name=re.compile("^Lakeside Rescue Team 在“Search the lake shore”现场的队员"))
    await expect(muster.get_by_role("row")).to_have_count(3)  # the header and two members
    await expect(muster).to_contain_text("Zhang Wei")
    await expect(card).to_contain_text("在现场 2 人")
    await expect(card).to_contain_text("进行中")
    await expect(checkin.get_by_label("Chen Jie · 队员")).to_be_visible()  # still on standby
    await expect(checkin.get_by_label("Zhang Wei · 队长")).to_have_count(0)
    await expect(page.locator(".field-alarm")).to_have_count(0)

    # Zhang Wei is an hour past the expected return (beyond the 15-minute grace): red, above every screen.
    zhang = next(m["id"] for m in roster["members"] if m["name"] == "Zhang Wei")
    await conn.execute("update deployments set checked_in_at = now() - interval '3 hours', "
                       "expected_back_at = now() - interval '1 hour' where member_id = $1", zhang)
    await console.goto(f"#/incidents/{incident}/room")
    alarm = page.get_by_role("alert").filter(has_text="逾期未归警报")
    await expect(alarm).to_contain_text("1 名队员超过预计返回时间仍在现场")
    await expect(alarm).to_contain_text("Zhang Wei 已逾期 1 小时")
    await alarm.get_by_role("link", name="查看现场调度").click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    late = muster.get_by_role("row").filter(has_text="Zhang Wei")
    await expect(late).to_have_class("overdue")
    await expect(late).to_contain_text("逾期 1 小时")
    await expect(muster.get_by_role("row").nth(1)).to_contain_text("Zhang Wei")  # overdue first
    await console.screenshot("field-zh")

    # In English, every word of the board and the alarm is English; checked out, back safe, the alarm goes.
    zh, en = await page.evaluate(_CATALOGUES)
    await page.get_by_role("button", name="切换为英文界面").click()
    await expect(page.get_by_role("alert").filter(has_text="Overdue alarm")).to_contain_text(
        "1 member is still on site past the expected return")
    late = page.get_by_role("table", name=re.compile("^Members of Lakeside Rescue Team on site")).get_by_role(
        "row").filter(has_text="Zhang Wei")
    await expect(late).to_contain_text("Overdue by 1 h")
    await _check(console, _fragments(zh, en), "field board")
    await late.get_by_role("button", name="Check out Zhang Wei").click()
    await expect(page.locator(".field-alarm")).to_have_count(0)
    card = page.get_by_role("article", name="Search the lake shore")
    await expect(card).to_contain_text("1 on site")
    await expect(page.get_by_role("table", name=re.compile("^Members of Lakeside")).get_by_role("row")).to_have_count(2)
