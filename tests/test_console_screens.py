"""One browser test per console screen, each doing that screen's main action through the UI, and live
updates made through the API by someone else showing up without a reload."""

from __future__ import annotations

import re

from relief.demo_data import resident_id
from tests.console_world import Console, World, expect


async def _room(console: Console, world: World, tab: str) -> None:
    await console.sign_in(world.dispatcher_key)
    await console.goto(f"#/incidents/{world.incident['id']}/{tab}")
    await expect(console.page.locator(".live")).to_have_attribute("data-state", "live")


async def test_open_a_new_incident(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    table = page.get_by_role("table", name="全部事件，最新的在前")
    lakeside_row = table.get_by_role("row").filter(has_text="2024-LAKESIDE-FLOOD")
    await expect(lakeside_row).to_contain_text("Ⅱ级")
    await expect(lakeside_row).to_contain_text("2024/07/01 10:00")  # 02:00 UTC, shown in Asia/Shanghai
    form = page.get_by_role("form", name="新建事件")
    await form.get_by_label("事件编号").fill("2024-HILL-FIRE")
    await form.get_by_label("名称").fill("山火 西山")
    await form.get_by_label("类型").select_option("fire")
    await form.get_by_label("涉及地区").fill("320506, 320507")
    await form.get_by_label("名称").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("山火 西山")
    await expect(page.get_by_text("还没有救援需求。")).to_be_visible()
    await console.goto("#/incidents")
    await expect(table.get_by_role("row").filter(has_text="2024-HILL-FIRE")).to_contain_text("火灾")


async def test_record_and_reverse_a_donation(console: Console, lakeside: World):
    page = console.page
    await _room(console, lakeside, "donations")
    totals = page.get_by_role("region", name="到账合计")
    await expect(totals).to_contain_text("¥2,500.00")

    form = page.get_by_role("form", name="登记捐赠")
    await form.get_by_label("组织", exact=True).select_option(label="Lakeside Rescue Team")
    await form.get_by_label("金额").fill("8000.50")
    await form.get_by_label("收据编号").fill("LK-0002")
    await form.get_by_label("收据编号").press("Enter")
    ledger = page.get_by_role("table", name=re.compile("^捐赠台账"))
    entry = ledger.get_by_role("row").filter(has_text="LK-0002")
    await expect(entry).to_contain_text("Lakeside Rescue Team")
    await expect(entry).to_contain_text("¥8,000.50")
    await expect(totals).to_contain_text("¥10,500.50")

    await entry.get_by_role("button", name=re.compile("^冲正")).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("冲正原因").fill("金额录错")
    await dialog.get_by_role("button", name="冲正").click()
    await expect(dialog).to_have_count(0)
    await expect(entry.first).to_contain_text("已冲正")
    reversal = ledger.get_by_role("row").filter(has_text="金额录错")
    await expect(reversal).to_contain_text("-¥8,000.50")
    await expect(totals).to_contain_text("¥2,500.00")


async def test_check_in_a_resident_and_find_them_by_the_last_4_of_the_id(console: Console, lakeside: World):
    page = console.page
    number = resident_id("320506", "19900202", 457)
    base = f"/v1/incidents/{lakeside.incident['id']}"
    await lakeside.dispatcher_api.post(f"{base}/residents", {
        "name": "Han Meimei", "id_type": "resident_id", "id_number": number, "phone": "13900005678",
        "origin_region": "320506"})
    await _room(console, lakeside, "shelters")

    search = page.get_by_role("form", name="查找群众")
    await search.get_by_label("姓名或证件号后 4 位").fill(number[-4:])
    await search.get_by_label("姓名或证件号后 4 位").press("Enter")
    results = page.get_by_role("table", name=re.compile("^受灾群众"))
    row = results.get_by_role("row").filter(has_text="Han Meimei")
    await expect(row).to_contain_text(f"****{number[-4:]}")
    await expect(row).to_contain_text("139****5678")
    await expect(row).to_contain_text("已登记")
    await expect(results.get_by_role("row")).to_have_count(2)  # the header and Han Meimei

    await row.get_by_role("button", name="为 Han Meimei 办理入住").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("安置点").select_option(label="North School（空余 5）")
    await dialog.get_by_role("button", name="入住").click()
    await expect(row).to_contain_text("已安置")
    await expect(row).to_contain_text("North School")
    shelters = page.get_by_role("table", name="安置点与入住情况")
    north = shelters.get_by_role("row").filter(has_text="North School")
    await expect(north).to_contain_text("1 / 5 人")
    await expect(north.locator("meter")).to_have_attribute("value", "1")

    # Found again by name; the full ID number and phone appear nowhere on the page.
    await search.get_by_label("姓名或证件号后 4 位").fill("meimei")
    await search.get_by_role("button", name="查找").click()
    await expect(page.get_by_role("status").filter(has_text="“meimei”：找到 1 人")).to_be_visible()
    html = await page.content()
    assert number not in html and "13900005678" not in html


async def test_broadcast_an_alert_and_see_an_acknowledgement_arrive(console: Console, lakeside: World):
    page = console.page
    await _room(console, lakeside, "alerts")
    form = page.get_by_role("form", name="发布预警")
    await form.get_by_label("标题").fill("Embankment breach at pier 3")
    await form.get_by_label("行动要求").fill("Boats to pier 3 now.")
    await form.get_by_label("区域描述").fill("Pier 3 and the lake shore villages")
    await form.get_by_label("区域定位方式").select_option("circle")
    await form.get_by_label("中心纬度").fill("31.21")
    await form.get_by_label("中心经度").fill("120.42")
    await form.get_by_label("半径（公里）").fill("3")
    await form.get_by_role("button", name="发布", exact=True).click()
    card = page.get_by_role("article", name="Embankment breach at pier 3")
    await expect(card).to_contain_text("已确认（0）")
    alert_id = await card.get_attribute("data-alert-id")
    alert = await lakeside.dispatcher_api.get(f"/v1/alerts/{alert_id}")
    assert alert["area"]["circle"] == "31.21,120.42 3"

    await lakeside.organization_api.post(f"/v1/alerts/{alert_id}/acks",
                                         {"status": "responding", "note": "Two boats, 20 minutes"})
    acks = card.get_by_role("table", name=re.compile("^对“Embankment breach at pier 3”的确认"))
    row = acks.get_by_role("row").filter(has_text="Lakeside Rescue Team")
    await expect(row).to_contain_text("正在响应", timeout=10_000)
    await expect(row).to_contain_text("Two boats, 20 minutes")
    await expect(card).to_contain_text("已确认（1）")


async def test_pledges_queue_rejects_and_delivers(console: Console, lakeside: World):
    page = console.page
    await _room(console, lakeside, "pledges")
    queue = page.get_by_role("table", name="待审核的认捐，最早的在前")
    money = queue.get_by_role("row").filter(has_text="Emergency fund")
    await expect(money).to_contain_text("¥5,000.00")
    await money.get_by_role("button", name=re.compile("^拒绝")).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("拒绝原因").fill("已由其他渠道解决")
    await dialog.get_by_role("button", name="拒绝").click()
    await expect(page.get_by_text("没有待审核的认捐。")).to_be_visible()

    underway = page.get_by_role("table", name="已接受或运输中的认捐").get_by_role("row").filter(has_text="Life jackets")
    await underway.get_by_role("button", name=re.compile("^确认 Lakeside Rescue Team 的认捐已送达")).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("实际到达（件）").fill("55")
    await dialog.get_by_role("button", name="确认送达").click()
    by_org = page.get_by_role("table", name="各社会组织的认捐与已送达").get_by_role("row").filter(
        has_text="Lakeside Rescue Team")
    await expect(by_org).to_contain_text("救生衣 55 件")
    await expect(by_org).to_contain_text("1 / 1")


async def test_activity_trail_arrives_live(console: Console, lakeside: World):
    page = console.page
    await _room(console, lakeside, "activity")
    table = page.get_by_role("table", name="事件的动态记录，最新的在前")
    await expect(table.get_by_role("row").nth(1)).to_contain_text("预警")
    await lakeside.dispatcher_api.post(f"/v1/incidents/{lakeside.incident['id']}/donations", {
        "kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "30", "donor": {"anonymous": True}},
        idempotent=True)
    newest = table.get_by_role("row").nth(1)
    await expect(newest).to_contain_text("登记捐赠", timeout=10_000)
    await expect(newest).to_contain_text("饮用水 30 箱")
    await expect(newest).to_have_class("fresh")
