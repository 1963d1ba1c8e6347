"""The incident room's dispatcher jobs that needed curl, done in the console: edit, close and reopen the
incident; edit and cancel a call and read who could fill it (matches, with reasons and who offered); change a
shelter's capacity, close and reopen it; record an aggregate evacuation. Forms keep their defaults for the
next entry, goods are picked from the catalogue by name, fields with hints line up, and a viewer sees no
action."""

from __future__ import annotations

import re

from relief.demo_data import resident_id
from tests.console_world import Console, DemoWorld, World, expect


async def _open(console: Console, world: World, tab: str, key: str | None = None) -> None:
    await console.sign_in(key or world.dispatcher_key)
    await console.goto(f"#/incidents/{world.incident['id']}/{tab}")
    await expect(console.page.locator(".live")).to_have_attribute("data-state", "live")


async def test_edit_close_and_reopen_the_incident(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "room")
    head = page.locator(".incident-head")
    await head.get_by_role("button", name="修改事件：Lakeside flood").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("响应级别").select_option("I")
    await dialog.get_by_label("名称").fill("Lakeside flood (north shore)")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lakeside flood (north shore)")
    await expect(head).to_contain_text("Ⅰ级响应")
    incident = await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}")
    assert (incident["severity"], incident["title"], incident["regions"]) == ("I", "Lakeside flood (north shore)",
                                                                          ["320506"])

    # Closing asks first; cancelling the question changes nothing.
    await head.get_by_role("button", name=re.compile("^关闭事件")).click()
    await expect(page.get_by_role("dialog")).to_contain_text("同时关闭其所有征集中的需求")
    await page.get_by_role("dialog").get_by_role("button", name="取消").click()
    assert (await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}"))["status"] == "open"
    await head.get_by_role("button", name=re.compile("^关闭事件")).click()
    await page.get_by_role("dialog").get_by_role("button", name="关闭事件").click()
    await expect(head.locator(".badge-closed")).to_have_text("已结束")
    await expect(page.get_by_text("新建救援需求", exact=True)).to_have_count(0)  # a closed incident takes no call
    boats = page.get_by_role("article", name="Boat crews")
    await expect(boats.locator(".badge").first).to_have_text("已关闭")

    await head.get_by_role("button", name=re.compile("^重新开启事件")).click()
    await expect(head.locator(".badge-open")).to_have_text("响应中")
    await expect(page.get_by_text("新建救援需求", exact=True)).to_be_visible()


async def test_edit_a_call_and_cancel_another(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "room")
    card = page.get_by_role("article", name="Life jackets for the lake shore")
    await card.get_by_role("button", name="修改需求：Life jackets for the lake shore").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("数量（件）").fill("250")
    await dialog.get_by_label("优先级").select_option("high")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog).to_have_count(0)
    await expect(card).to_contain_text("需求 250 件")
    await expect(card.locator(".badge-prio-high")).to_have_text("高")

    # Below what is committed (60) is refused, in the dialog, and nothing changes.
    await card.get_by_role("button", name=re.compile("^修改需求")).click()
    console.expects_failure(409, f"/v1/calls/{lakeside.calls['goods']['id']}")
    await dialog.get_by_label("数量（件）").fill("10")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog.locator(".form-error")).to_be_visible()
    await dialog.get_by_role("button", name="取消").click()
    call = await lakeside.dispatcher_api.get(f"/v1/calls/{lakeside.calls['goods']['id']}")
    assert (call["quantity"], call["priority"]) == ("250", "high")

    boats = page.get_by_role("article", name="Boat crews")
    await boats.get_by_role("button", name="取消需求：Boat crews").click()
    await expect(page.get_by_role("dialog")).to_contain_text("不再接受新的认捐")
    await page.get_by_role("dialog").get_by_role("button", name="取消需求").click()
    await expect(boats.locator(".badge").first).to_have_text("已取消")
    await expect(boats.get_by_role("button", name=re.compile("^取消需求"))).to_have_count(0)
    cancelled = await lakeside.dispatcher_api.get(f"/v1/calls/{lakeside.calls['personnel']['id']}")
    assert cancelled["status"] == "cancelled"


async def test_matches_show_each_organization_once_with_reasons_and_who_offered(console: Console, lakeside: World):
    page = console.page
    base = f"/v1/incidents/{lakeside.incident['id']}"
    # The team states it supplies life jackets, and offers 120 besides: one match, from its offer.
    await lakeside.organization_api.post(f"{base}/offers", {
        "kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "120", "region": "320506",
        "note": "in the boat shed"})
    await _open(console, lakeside, "room")
    offers = page.get_by_role("table", name="社会组织主动提供的能力（未被征集时提出）")
    row = offers.get_by_role("row").filter(has_text="Lakeside Rescue Team")
    await expect(row).to_contain_text("救生衣 120 件")
    await expect(row).to_contain_text("in the boat shed")

    card = page.get_by_role("article", name="Life jackets for the lake shore")
    await card.get_by_role("button", name="查看可满足需求的组织：Life jackets for the lake shore").click()
    dialog = page.get_by_role("dialog")
    matches = dialog.get_by_role("table", name=re.compile("的匹配结果$"))
    rows = matches.get_by_role("row").filter(has_text="Lakeside Rescue Team")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("主动提供")
    await expect(rows).to_contain_text("120 件")
    await expect(rows).to_contain_text("位于受灾市内（320506）")
    await expect(rows).to_contain_text("可提供 120，尚缺 140")
    await dialog.get_by_role("button", name="关闭").click()
    await expect(dialog).to_have_count(0)


async def test_change_a_shelters_capacity_close_and_reopen_it(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "shelters")
    shelters = page.get_by_role("table", name="安置点与入住情况")
    north = shelters.get_by_role("row").filter(has_text="North School")
    await north.get_by_role("button", name="修改容量：North School").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("容量（人）").fill("8")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog).to_have_count(0)
    await expect(north).to_contain_text("0 / 8")

    await north.get_by_role("button", name="关闭安置点：North School").click()
    await page.get_by_role("dialog").get_by_role("button", name="关闭安置点").click()
    await expect(north.locator(".badge")).to_have_text("已关闭")
    await north.get_by_role("button", name="重新开放安置点：North School").click()
    await expect(north.locator(".badge")).to_have_text("开放")

    # East Gym holds Li Lei: closing it is refused, in words, and it stays open.
    east = shelters.get_by_role("row").filter(has_text="East Gym")
    console.expects_failure(409, f"/v1/shelters/{lakeside.shelters[0]['id']}/close")
    await east.get_by_role("button", name="关闭安置点：East Gym").click()
    await page.get_by_role("dialog").get_by_role("button", name="关闭安置点").click()
    await expect(page.get_by_role("dialog")).to_contain_text("该安置点仍有人安置，不能关闭")
    await page.get_by_role("dialog").get_by_role("button", name="取消").click()
    shelter = await lakeside.dispatcher_api.get(f"/v1/shelters/{lakeside.shelters[0]['id']}")
    assert shelter["status"] == "open"


async def test_record_an_aggregate_evacuation(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "shelters")
    await page.get_by_text("登记批量转移", exact=True).click()
    form = page.get_by_role("form", name="登记批量转移")
    await form.get_by_label("人数").fill("30")
    await expect(form.get_by_label("转出地区")).to_have_value("320506")
    await form.get_by_label("安置方式").select_option("centralized")
    await form.get_by_label("安置点").select_option(label="East Gym（空余 39）")
    await form.get_by_label("协助组织（可选）").select_option(label="Lakeside Rescue Team")
    await form.get_by_label("备注").fill("bus from the pier")
    await form.get_by_role("button", name="登记转移").click()
    listed = page.get_by_role("table", name="批量登记的转移人数，最新的在前")
    row = listed.get_by_role("row").filter(has_text="bus from the pier")
    await expect(row).to_contain_text("集中安置")
    await expect(row).to_contain_text("East Gym")
    await expect(row).to_contain_text("Lakeside Rescue Team")
    east = page.get_by_role("table", name="安置点与入住情况").get_by_role("row").filter(has_text="East Gym")
    await expect(east).to_contain_text("31 / 40")  # Li Lei and the 30 who came by bus

    # The next count keeps its choices: a dispersed one needs only the number.
    await expect(form.get_by_label("安置方式")).to_have_value("centralized")
    await form.get_by_label("安置方式").select_option("dispersed")
    await form.get_by_label("人数").fill("7")
    await form.get_by_role("button", name="登记转移").click()
    await expect(listed.get_by_role("row").filter(has_text="分散安置")).to_have_count(2)  # the world's 12 and these 7
    items = (await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}/evacuations"))["items"]
    assert sorted((e["count"], e["placement"]) for e in items) == [(7, "dispersed"), (12, "dispersed"),
                                                                   (30, "centralized")]
    bus = next(e for e in items if e["count"] == 30)
    assert (bus["shelter_id"], bus["assisted_by"]) == (lakeside.shelters[0]["id"], lakeside.organization["id"])


async def test_the_second_donation_and_the_second_resident_save_without_retyping(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "donations")
    form = page.get_by_role("form", name="登记捐赠")
    await form.get_by_label("捐赠方类型").select_option("name")
    for n, amount in enumerate(["100.00", "200.00"], start=1):
        await form.get_by_label("捐赠方名称").fill(f"Donor {n}")
        await form.get_by_label("金额").fill(amount)
        await form.get_by_label("金额").press("Enter")
        await expect(page.get_by_role("table", name=re.compile("^捐赠台账")).get_by_role("row")
                     .filter(has_text=f"Donor {n}")).to_be_visible()
        await expect(form.get_by_label("币种")).to_have_value("CNY")
        await expect(form.get_by_label("捐赠方类型")).to_have_value("name")
    donations = (await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}/donations"))["items"]
    assert {(d["donor"].get("name"), d["amount"], d["currency"]) for d in donations} >= {
        ("Donor 1", "100.00", "CNY"), ("Donor 2", "200.00", "CNY")}

    await console.goto(f"#/incidents/{lakeside.incident['id']}/shelters")
    await page.get_by_text("登记群众", exact=True).click()
    register = page.get_by_role("form", name="登记群众")
    await register.get_by_label("家庭人数").fill("4")
    for n, sequence in enumerate([501, 502], start=1):
        await register.get_by_label("姓名", exact=True).fill(f"Arrival {n}")
        await register.get_by_label("证件号码").fill(resident_id("320506", "19700101", sequence))
        await register.get_by_label("证件号码").press("Enter")
        await expect(page.get_by_role("table", name="受灾群众（证件号和电话已脱敏）")).to_contain_text(f"Arrival {n}")
        await expect(register.get_by_label("来源地区")).to_have_value("320506")
        await expect(register.get_by_label("家庭人数")).to_have_value("1")
    found = (await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}/residents?q=Arrival"))["items"]
    assert sorted((r["name"], r["household_size"], r["origin_region"]) for r in found) == [
        ("Arrival 1", 4, "320506"), ("Arrival 2", 1, "320506")]


async def test_typing_drinking_water_in_chinese_picks_the_code_and_finds_suppliers(console: Console,
                                                                                   doksuri: DemoWorld):
    page = console.page
    await console.sign_in(doksuri.dispatcher_key)
    await console.goto(f"#/incidents/{doksuri.incident_id}/room")
    await page.get_by_text("新建救援需求", exact=True).click()
    form = page.get_by_role("form", name="新建救援需求")
    await expect(form.get_by_label("需求类型")).to_have_value("goods")
    options = await form.locator("datalist option").evaluate_all("(os) => os.map((o) => o.value)")
    assert "饮用水" in options and "drinking_water" not in options  # names, never raw codes
    await form.get_by_label("标题").fill("饮用水（望亭安置点）")
    await form.get_by_label("物资", exact=True).fill("饮用水")
    await expect(form.get_by_text("目录项：饮用水（代码 drinking_water）")).to_be_visible()
    await expect(form.get_by_label("单位")).to_have_value("箱")  # the item's usual unit, offered
    await form.get_by_label("数量").fill("800")
    await form.get_by_role("button", name="保存需求").click()
    card = page.get_by_role("article", name="饮用水（望亭安置点）")
    await expect(card).to_contain_text("物资 · 饮用水")
    await expect(form.get_by_label("需求类型")).to_have_value("goods")  # the kind survives the save

    await card.get_by_role("button", name=re.compile("^查看可满足需求的组织")).click()
    matches = page.get_by_role("dialog").get_by_role("table")
    await expect(matches.get_by_role("row")).to_have_count(4)  # a header and the demo's 3 water suppliers
    await expect(matches).to_contain_text("可供应饮用水")
    await expect(matches).to_contain_text("苏州太湖食品有限公司")


async def test_a_new_call_opens_from_the_top_and_its_fields_line_up(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "room")
    opener = page.get_by_text("新建救援需求", exact=True)
    box = await opener.bounding_box()
    assert box and box["y"] < 400, box  # above the summary, not at the bottom of a long page
    form = page.get_by_role("form", name="新建救援需求")
    await expect(form).to_be_hidden()
    await opener.click()
    await expect(form).to_be_visible()
    # The deadline has a hint, the title beside it none: their boxes start at the same height.
    title = await form.get_by_label("标题").bounding_box()
    deadline = await form.get_by_label("截止时间（可选）").bounding_box()
    assert title and deadline and abs(title["y"] - deadline["y"]) < 1, (title, deadline)
    item = await form.get_by_label("物资", exact=True).bounding_box()
    quantity = await form.get_by_label("数量").bounding_box()
    assert item and quantity and abs(item["y"] - quantity["y"]) < 1, (item, quantity)


async def test_a_viewer_sees_no_action(console: Console, lakeside: World):
    page = console.page
    await _open(console, lakeside, "room", key=lakeside.viewer_key)
    tabs = page.get_by_role("navigation", name="事件分区")
    await expect(tabs.get_by_role("link", name="动态记录")).to_have_count(0)  # the audit trail is dispatchers'
    for name in ["修改事件", "关闭事件", "重新开启事件", "修改", "取消需求", "关闭需求", "发布"]:
        await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    await expect(page.get_by_role("button", name=re.compile("^(修改|取消|关闭|发布)"))).to_have_count(0)
    await expect(page.get_by_text("新建救援需求", exact=True)).to_have_count(0)
    # Reading who could fill a call is theirs too.
    await page.get_by_role("button", name="查看可满足需求的组织：Boat crews").click()
    await expect(page.get_by_role("dialog").get_by_role("table")).to_contain_text("Lakeside Rescue Team")
    await page.get_by_role("dialog").get_by_role("button", name="关闭").click()

    await console.goto(f"#/incidents/{lakeside.incident['id']}/shelters")
    await expect(page.get_by_role("table", name="安置点与入住情况")).to_contain_text("East Gym")
    await expect(page.get_by_role("button", name=re.compile("^(修改容量|关闭安置点|重新开放)"))).to_have_count(0)
    await expect(page.get_by_text("登记批量转移", exact=True)).to_have_count(0)
    await expect(page.get_by_role("table", name="批量登记的转移人数，最新的在前")).to_contain_text("分散安置")
    # Every tab a viewer is shown opens without an error.
    for link in await tabs.get_by_role("link").all():
        await link.click()
        await page.locator("main > .screen[data-ready=true]").wait_for()
        await expect(page.get_by_role("heading", name="无法打开此页面")).to_have_count(0)
        await expect(page.locator("#notice.notice-error")).to_have_count(0)
