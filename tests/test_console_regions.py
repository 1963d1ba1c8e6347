"""The region picker in a real browser: a dispatcher picks 江苏省 → 苏州市 → 吴中区 for a resident's origin and
sees 吴中区 beside the code in the form and in the list; a new incident's regions are added from the picker
and listed by name; a typed code moves the picker, and one the table lacks is still saved."""

from __future__ import annotations

import re
import uuid

from relief.demo_data import resident_id
from tests.console_world import Console, World, expect


async def test_pick_a_residents_origin_province_city_county(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/shelters")
    await page.get_by_text("登记群众", exact=True).click()
    register = page.get_by_role("form", name="登记群众")
    code = register.get_by_label("来源地区")
    province, city, county = (register.get_by_label(name, exact=True) for name in ("省份", "城市", "区县"))
    # The incident's region is the default, and the picker starts where it is.
    await expect(code).to_have_value("320506")
    await expect(county).to_have_value("320506")
    await expect(register.locator(".region-name")).to_have_text("吴中区")

    await province.select_option(label="广东省")
    await expect(code).to_have_value("440000")
    await expect(county).to_be_hidden()
    await province.select_option(label="江苏省")
    await city.select_option(label="苏州市")
    await expect(code).to_have_value("320500")
    await county.select_option(label="吴中区")
    await expect(code).to_have_value("320506")
    await expect(register.locator(".region-name")).to_have_text("吴中区")

    await register.get_by_label("姓名", exact=True).fill("Picked Origin")
    await register.get_by_label("证件号码").fill(resident_id("320506", "19700101", 611))
    await register.get_by_role("button", name="登记", exact=True).click()
    listed = page.get_by_role("table", name="受灾群众（证件号和电话已脱敏）").get_by_role("row").filter(
        has_text="Picked Origin")
    await expect(listed).to_contain_text("吴中区 320506")
    # The form starts the next entry from the same origin, the picker with it.
    await expect(code).to_have_value("320506")
    await expect(county).to_have_value("320506")

    # A typed code moves the picker; one the table lacks is said so, and still saved.
    await code.fill("320585")
    await expect(county).to_have_value("320585")
    await expect(register.locator(".region-name")).to_have_text("太仓市")
    await code.fill("329999")
    await expect(register.locator(".region-name")).to_contain_text("区划表中无此代码")
    await register.get_by_label("姓名", exact=True).fill("Unknown Origin")
    await register.get_by_label("证件号码").fill(resident_id("320506", "19700101", 612))
    await register.get_by_role("button", name="登记", exact=True).click()
    await expect(page.get_by_role("table", name="受灾群众（证件号和电话已脱敏）").get_by_role("row").filter(
        has_text="Unknown Origin")).to_contain_text("329999")
    found = (await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}/residents?q=Origin"))["items"]
    assert sorted((r["origin_region"], r["origin_region_name"]) for r in found) == [
        ("320506", "吴中区"), ("329999", None)]


async def test_a_new_incidents_regions_come_from_the_picker(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto("#/incidents")
    form = page.get_by_role("form", name="新建事件")
    code = f"PICK-{uuid.uuid4().hex[:8]}"
    await form.get_by_label("事件编号").fill(code)
    await form.get_by_label("名称").fill("Picked regions")
    add = form.get_by_role("button", name="添加所选地区")
    for city, county in (("苏州市", "吴中区"), ("苏州市", "相城区")):
        await form.get_by_label("省份", exact=True).select_option(label="江苏省")
        await form.get_by_label("城市", exact=True).select_option(label=city)
        await form.get_by_label("区县", exact=True).select_option(label=county)
        await add.click()
    await expect(form.get_by_label("涉及地区")).to_have_value("320506 320507")
    await expect(form.locator(".region-name")).to_have_text("吴中区、相城区")
    await form.get_by_role("button", name="新建事件").click()
    await expect(page).to_have_url(re.compile(r"#/incidents/[0-9a-f-]+/room$"))
    await console.goto("#/incidents")
    row = page.get_by_role("row").filter(has_text="Picked regions")
    await expect(row).to_contain_text("吴中区 320506、相城区 320507")


async def test_the_incident_edit_dialog_adds_a_region_from_the_picker(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/room")
    head = page.locator(".incident-head")
    await expect(head.locator(".incident-regions")).to_have_text("吴中区 320506")
    await head.get_by_role("button", name="修改事件：Lakeside flood").click()
    dialog = page.get_by_role("dialog")
    code = dialog.get_by_label("涉及地区")
    await expect(code).to_have_value("320506")
    await expect(dialog.locator(".region-name")).to_have_text("吴中区")
    await dialog.get_by_label("省份", exact=True).select_option(label="江苏省")
    await dialog.get_by_label("城市", exact=True).select_option(label="苏州市")
    await dialog.get_by_label("区县", exact=True).select_option(label="相城区")
    await dialog.get_by_role("button", name="添加所选地区").click()
    await expect(code).to_have_value("320506 320507")
    await expect(dialog.locator(".region-name")).to_have_text("吴中区、相城区")
    await dialog.get_by_role("button", name="保存").click()
    await expect(dialog).to_have_count(0)
    # The saved edit shows the picked county by name in the incident's head.
    await expect(head.locator(".incident-regions")).to_have_text("吴中区 320506、相城区 320507")
    incident = await lakeside.dispatcher_api.get(f"/v1/incidents/{lakeside.incident['id']}")
    assert (incident["regions"], incident["region_names"]) == (["320506", "320507"], ["吴中区", "相城区"])


async def test_impacts_activity_and_earmarks_name_their_regions(console: Console, lakeside: World):
    """Where the console showed a bare code: the impacts form's regions, the activity trail's impact rows and a
    fund's earmark (a prefix: 3205 is 苏州市) read with their names, in Chinese and, in lang=zh, in English."""
    page = console.page
    bureau, incident = lakeside.dispatcher_api, lakeside.incident["id"]
    await bureau.post(f"/v1/incidents/{incident}/impacts", {
        "region": "320507", "figure": "affected", "source": "government", "value": "800",
        "as_of": "2024-07-02T00:00:00Z"}, idempotent=True)
    await bureau.post(f"/v1/incidents/{incident}/donations", {
        "kind": "money", "amount": "900.00", "donor": {"anonymous": True},
        "earmark": {"purpose": "medical", "region": "320500"}}, idempotent=True)
    await console.sign_in(lakeside.dispatcher_key)

    await console.goto(f"#/incidents/{incident}/impacts")
    region = page.get_by_role("form", name="登记灾情数据").get_by_label("地区", exact=True)
    await expect(region.locator("option[value='320506']")).to_have_text("吴中区 320506")
    await expect(region.locator("option[value='320507']")).to_have_text("相城区 320507")
    await expect(region.locator("option[value='320507']")).to_have_attribute("lang", "zh")

    await console.goto(f"#/incidents/{incident}/activity")
    recorded = page.get_by_role("table", name="事件的动态记录，最新的在前").locator(
        "tr[data-event-type='impact.recorded']")
    await expect(recorded).to_contain_text("相城区 320507")
    await expect(recorded.locator("[lang=zh]")).to_have_text("相城区")

    await console.goto(f"#/incidents/{incident}/disbursements")
    funds = page.get_by_role("table", name=re.compile("^各项资金的到账、拨付与余额"))
    await expect(funds.get_by_role("row").filter(has_text="定向：医疗（苏州市 3205）")).to_contain_text("¥900.00")
    form = page.get_by_role("form", name="申请拨付")
    await form.get_by_label("用途").select_option("medical")
    await expect(form.get_by_label("资金", exact=True).locator("option[value='medical|3205']")).to_contain_text(
        "定向：医疗（苏州市 3205）")

    await page.get_by_role("button", name="切换为英文界面").click()
    funds = page.get_by_role("table", name=re.compile("^Each fund received, paid and left"))
    earmark = funds.get_by_role("row").filter(has_text="Earmarked: Medical (region 苏州市 3205)")
    await expect(earmark.locator("[lang=zh]")).to_have_text("苏州市")
    # An option has one language: in English, the code alone.
    form = page.get_by_role("form", name="Propose a disbursement")
    await form.get_by_label("Purpose").select_option("medical")
    await expect(form.get_by_label("Fund", exact=True).locator("option[value='medical|3205']")).to_contain_text(
        "Earmarked: Medical (region 3205)")
