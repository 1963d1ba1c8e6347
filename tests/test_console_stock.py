"""The stock screen in a real browser: a dispatcher sends water from a warehouse to a shelter, receives it
short (which asks why), distributes it to the shelter's residents, and sees every level move; asking for
more than a location holds says how much it has; a donation recorded elsewhere shows up live."""

from __future__ import annotations

import re

from tests.console_world import Console, World, expect


async def test_a_transfer_and_a_distribution_move_the_levels(console: Console, lakeside: World):
    page = console.page
    bureau, base = lakeside.dispatcher_api, f"/v1/incidents/{lakeside.incident['id']}"
    depot = await bureau.post(f"{base}/sites", {"kind": "warehouse", "name": "Wuzhong depot", "address": "5 Dock Road"})
    await bureau.post(f"{base}/donations", {
        "kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "100", "donor": {"anonymous": True},
        "site_id": depot["id"]}, idempotent=True)
    east_gym = lakeside.shelters[0]["id"]

    keys: list[str | None] = []  # the Idempotency-Key of every movement the console sends
    page.on("request", lambda r: keys.append(r.headers.get("idempotency-key"))
            if r.method == "POST" and r.url.endswith("/stock-movements") else None)
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/stock")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    levels = page.get_by_role("table", name=re.compile("^各仓储点和安置点的库存"))
    at_depot = levels.get_by_role("row").filter(has_text="Wuzhong depot")
    at_gym = levels.get_by_role("row").filter(has_text="East Gym")
    await expect(at_depot).to_contain_text("饮用水100 箱")  # item, then on hand

    # A transfer: the goods leave at once and are in transit.
    form = page.get_by_role("form", name="登记调拨、发放或报损")
    await form.get_by_label("调出地点").select_option(f"site:{depot['id']}")
    await form.get_by_label("物资", exact=True).select_option("drinking_water|box")
    await expect(form.get_by_text("该处现有 100 箱")).to_be_visible()
    await form.get_by_label("数量").fill("30")
    await form.get_by_label("调往").select_option(f"shelter:{east_gym}")
    await form.get_by_label("发生时间").fill("2023-07-29T19:00")  # sent on the story's day, recorded now
    await form.get_by_role("button", name="登记").click()
    await expect(at_depot).to_contain_text("70 箱")
    transit = page.get_by_role("table", name="已调出、尚未确认到货的调拨").get_by_role("row").filter(
        has_text="East Gym")
    await expect(transit).to_contain_text("饮用水 30 箱")
    await expect(transit.get_by_role("cell").first).to_have_text("2023/07/29 19:00")  # Beijing time
    await expect(form.get_by_label("数量")).to_have_value("")  # the quantity goes; the choices stay
    await expect(form.get_by_label("物资", exact=True)).to_have_value("drinking_water|box")

    # Received short: the dialog asks why before anything is sent.
    await transit.get_by_role("button", name=re.compile("^确认到货")).click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("实际到货（箱）").fill("28")
    await dialog.get_by_role("button", name="确认到货").click()
    await expect(dialog.get_by_role("alert")).to_have_text("有 2 箱未到货，请填写短少原因。")
    await dialog.get_by_label("短少原因").fill("两箱途中破损")
    await dialog.get_by_label("到货时间").fill("2023-07-29T20:30")
    await dialog.get_by_role("button", name="确认到货").click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_text("没有在途的调拨。")).to_be_visible()
    await expect(at_gym).to_contain_text("饮用水28 箱")
    await expect(at_depot.get_by_role("cell").nth(7)).to_have_text("2 箱")  # the loss is written off at the origin

    # A distribution to everyone East Gym holds (one resident checked in: one person reached).
    await form.get_by_label("操作").select_option("distribution")
    await form.get_by_label("调出地点").select_option(f"shelter:{east_gym}")
    await form.get_by_label("发放对象").select_option("shelter_residents")
    await form.get_by_label("数量").fill("5")
    await form.get_by_role("button", name="登记").click()
    await expect(at_gym).to_contain_text("23 箱")
    log = page.get_by_role("table", name=re.compile("^物资调拨、到货、发放"))
    handed_out = log.locator("tr[data-kind=distribution]")
    await expect(handed_out).to_contain_text("East Gym 全体入住群众")
    await expect(handed_out.get_by_role("cell").nth(6)).to_have_text("1")
    # The log says when the goods moved, beside when each entry was recorded.
    arrival = log.locator("tr[data-kind=arrival]")
    await expect(arrival.get_by_role("cell").first).to_have_text("2023/07/29 20:30")
    await expect(arrival.get_by_role("cell").nth(1)).not_to_have_text(re.compile("^2023"))
    await expect(log.locator("tr[data-kind=transfer] td").first).to_have_text("2023/07/29 19:00")
    assert (await bureau.get(f"{base}/stock-movements?kind=arrival"))["items"][0]["moved_at"] == "2023-07-29T12:30:00Z"

    # One registered resident, found by name (never by a number a dispatcher would have to know).
    await form.get_by_label("发放对象").select_option("resident")
    await form.get_by_label("查找群众（姓名或证件号后 4 位）").fill("Li Lei")
    await form.get_by_label("查找群众（姓名或证件号后 4 位）").press("Enter")
    await expect(form.get_by_text("找到 1 人")).to_be_visible()
    await expect(form.get_by_label("受灾群众", exact=True)).to_contain_text("Li Lei")
    await form.get_by_label("数量").fill("2")
    await form.get_by_role("button", name="登记").click()
    await expect(log.locator("tr[data-kind=distribution]").first).to_contain_text("登记群众")
    await expect(at_gym).to_contain_text("21 箱")

    # More than the shelter holds: a 409, said with what it has, in Chinese.
    console.expects_failure(409, f"{base}/stock-movements")
    await form.get_by_label("数量").fill("500")
    await form.get_by_role("button", name="登记").click()
    await expect(form.get_by_role("alert")).to_have_text("库存不足：该处现有 21 箱。")
    await expect(at_gym).to_contain_text("21 箱")
    assert len(keys) == 4 and None not in keys and len(set(keys)) == 4, keys  # a fresh key per submission

    # Someone else records a donation into the depot: the level follows without a reload.
    await bureau.post(f"{base}/donations", {
        "kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "50", "donor": {"anonymous": True},
        "site_id": depot["id"]}, idempotent=True)
    await expect(at_depot).to_contain_text("120 箱")
    totals = page.get_by_role("table", name="全事件各项物资的入库与去向").get_by_role("row").filter(has_text="饮用水")
    await expect(totals).to_contain_text("150 箱")  # received
    await expect(totals).to_contain_text("141 箱")  # on hand: 150 − 7 distributed − 2 lost
    await console.screenshot("stock-zh")


async def test_a_minimum_marks_the_level_low(console: Console, lakeside: World):
    page = console.page
    bureau, base = lakeside.dispatcher_api, f"/v1/incidents/{lakeside.incident['id']}"
    await bureau.post(f"{base}/donations", {
        "kind": "goods", "item": "tent", "unit": "piece", "quantity": "8", "donor": {"anonymous": True},
        "shelter_id": lakeside.shelters[1]["id"]}, idempotent=True)
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/stock")
    row = page.get_by_role("table", name=re.compile("^各仓储点和安置点的库存")).get_by_role("row").filter(
        has_text="North School")
    await expect(row).to_contain_text("未设")
    await page.get_by_text("设置库存下限").click()
    form = page.get_by_role("form", name="设置库存下限")
    await form.get_by_label("地点").select_option(f"shelter:{lakeside.shelters[1]['id']}")
    await form.get_by_label("物资").select_option("tent|piece")
    await form.get_by_label("下限").fill("10")
    await form.get_by_role("button", name="保存下限").click()
    await expect(row).to_contain_text("低于下限")
    await expect(row).to_have_class("low")
    await expect(row.get_by_role("cell").nth(3)).to_have_text("10 件")
