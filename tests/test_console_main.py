"""The console's main flow in a real browser, on the Doksuri demo: sign in with the demo dispatcher key,
open the incident, publish a call, watch a pledge posted through the API by the demo organization arrive
in the pledge queue without a reload, accept it, watch the call's bars move, sign out."""

from __future__ import annotations

import re

from tests.console_world import Console, DemoWorld, Http, expect

TITLE = "台风“杜苏芮”苏州防汛救灾（演示）"
CALL = "救生衣（东太湖大堤加固）"


async def test_dispatcher_publishes_a_call_and_accepts_a_pledge_that_arrives_live(
    console: Console, doksuri: DemoWorld, http
):
    page = console.page
    await console.sign_in(doksuri.dispatcher_key)
    await expect(page.get_by_role("heading", level=1)).to_have_text("事件")

    await page.get_by_role("link", name=TITLE).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    # The summary comes from …/summary: the demo's 3,900+ evacuated residents and its ~20 organizations.
    residents = page.get_by_role("region", name="受灾群众")
    await expect(residents.locator(".big-number")).to_have_text(re.compile(r"^[34],\d{3}$"))

    # Publish a call: saved as a draft first, then published from its card.
    await page.get_by_text("新建救援需求", exact=True).click()  # the form opens from the top of the room
    form = page.get_by_role("form", name="新建救援需求")
    await form.get_by_label("标题").fill(CALL)
    await form.get_by_label("物资", exact=True).fill("life_jacket")
    await form.get_by_label("单位").fill("piece")
    await form.get_by_label("数量").fill("300")
    await form.get_by_label("立即发布（不勾选则保存为草稿）").uncheck()
    await form.get_by_role("button", name="保存需求").press("Enter")
    card = page.get_by_role("article", name=CALL)
    await expect(card.locator(".badge").first).to_have_text("草稿")
    await card.get_by_role("button", name=f"发布需求：{CALL}").click()
    await expect(card.locator(".badge").first).to_have_text("征集中")
    call_id = await card.get_attribute("data-call-id")

    # The demo organization pledges through the API while the dispatcher watches the queue.
    await page.get_by_role("link", name="认捐", exact=True).click()
    await expect(page.get_by_role("heading", name=re.compile("^待审核认捐"))).to_be_visible()
    team = Http(http, doksuri.organization_key)
    await team.post(f"/v1/calls/{call_id}/pledges", {"quantity": "120", "note": "冲锋舟队随车带来"}, idempotent=True)
    queue = page.get_by_role("table", name="待审核的认捐，最早的在前")
    row = queue.get_by_role("row").filter(has_text=CALL)
    await expect(row).to_contain_text(doksuri.organization_name, timeout=10_000)
    await expect(row).to_contain_text("120 件")
    await row.get_by_role("button", name=re.compile("^接受")).click()
    await expect(row).to_have_count(0)
    underway = page.get_by_role("table", name="已接受或运输中的认捐").get_by_role("row").filter(has_text=CALL)
    await expect(underway).to_contain_text("已接受")

    # Back in the room the call's bars show the pledge; when the team dispatches it, they move live.
    await page.get_by_role("link", name="指挥总览").click()
    card = page.get_by_role("article", name=CALL)
    committed = card.locator(".bar-committed progress")
    in_transit = card.locator(".bar-transit progress")
    await expect(committed).to_have_attribute("value", "120")
    await expect(card.locator(".bar-committed")).to_contain_text("120 件 / 300 件")
    await expect(in_transit).to_have_attribute("value", "0")
    pledges = await Http(http, doksuri.dispatcher_key).get(f"/v1/pledges?call_id={call_id}")
    await team.post(f"/v1/pledges/{pledges['items'][0]['id']}/dispatch")
    await expect(in_transit).to_have_attribute("value", "120")
    await expect(card).to_contain_text("尚缺 180 件")

    await console.screenshot("incident-room-zh")
    await page.get_by_role("button", name="切换为英文界面").click()
    await expect(page.get_by_role("link", name="Incident room")).to_be_visible()
    await expect(card.locator(".bar-transit")).to_contain_text("120 pcs of 300 pcs")
    await console.screenshot("incident-room-en")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    await page.reload()
    await expect(page.get_by_label("API key")).to_be_visible()
    console.assert_clean()
