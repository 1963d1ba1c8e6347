"""The impact figures tab in a real browser: a dispatcher records figures through the form (the government's,
an organization's, one for a region typed by its code) and sees each in its region's grid, with the form
keeping its choices; a refused code is explained in the form; a figure's history opens on a click; a figure
recorded elsewhere arrives live; the incident room shows the latest totals with their source. A viewer reads
the grid and has no form. On the Doksuri demo, every source stands side by side."""

from __future__ import annotations

import re

from tests.console_world import Console, DemoWorld, World, expect
from tests.test_console_i18n import _CATALOGUES, _check, _fragments


async def test_a_dispatcher_records_impact_figures_and_a_viewer_reads_them(console: Console, lakeside: World):
    page = console.page
    incident = lakeside.incident["id"]
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{incident}/impacts")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    grid = page.get_by_role("table", name="320506 各项指标、各来源的最新统计")
    # Before anything is recorded: Relief's own count (12 evacuated in one group, 1 resident registered).
    relief = grid.locator("tr[data-figure=emergency_relocated][data-source=relief]")
    await expect(relief).to_contain_text("Relief 统计")
    await expect(relief).to_contain_text("13 人")

    # The government's count of people affected, through the form.
    form = page.get_by_role("form", name="登记灾情数据")
    await expect(form.get_by_label("地区", exact=True)).to_have_value("320506")
    await expect(form.get_by_text("受灾人口 · People affected · 单位：人")).to_be_visible()
    await form.get_by_label("数值").fill("1200")
    await form.get_by_label("统计截至").fill("2024-07-02T08:00")
    await form.get_by_role("button", name="登记").click()
    row = grid.locator("tr[data-figure=affected][data-source=government]")
    await expect(row).to_contain_text("政府")
    await expect(row).to_contain_text("1,200 人")
    await expect(row).to_contain_text("2024/07/02 08:00")  # the bureau's time, not the browser's (London)
    # The choices stay for the next figure of the same report; only the value goes.
    await expect(form.get_by_label("数值")).to_have_value("")
    await expect(form.get_by_label("来源")).to_have_value("government")
    await expect(form.get_by_label("指标")).to_have_value("affected")
    await expect(form.get_by_label("统计截至")).to_have_value("2024-07-02T08:00")

    # Houses damaged (the unit follows the figure), then the team's own count of people affected.
    await form.get_by_label("指标").select_option("houses_damaged")
    await expect(form.get_by_text("单位：间")).to_be_visible()
    await form.get_by_label("数值").fill("37")
    await form.get_by_role("button", name="登记").click()
    await expect(grid.locator("tr[data-figure=houses_damaged]")).to_contain_text("37 间")
    await expect(form.get_by_label("指标")).to_have_value("houses_damaged")
    await expect(form.get_by_label("报送组织")).to_be_hidden()
    await form.get_by_label("指标").select_option("affected")
    await form.get_by_label("来源").select_option("organization")
    await expect(form.get_by_label("报送组织")).to_have_value(lakeside.organization["id"])
    await form.get_by_label("数值").fill("1500")
    await form.get_by_label("统计截至").fill("2024-07-02T10:00")
    await form.get_by_role("button", name="登记").click()
    team_row = grid.locator("tr[data-figure=affected][data-source=organization]")
    await expect(team_row).to_contain_text("社会组织：Lakeside Rescue Team")
    await expect(team_row).to_contain_text("1,500 人")
    await expect(row).to_contain_text("1,200 人")  # each source keeps its own current value
    await expect(form.get_by_label("来源")).to_have_value("organization")

    # A region typed by its code: the server refuses a code that names no province, and the form says why.
    await form.get_by_label("地区", exact=True).select_option("other")
    await form.get_by_label("行政区划代码").fill("990000")
    await form.get_by_label("数值").fill("1500")
    console.expects_failure(422, f"/v1/incidents/{incident}/impacts")
    await form.get_by_role("button", name="登记").click()
    await expect(form.get_by_role("alert")).to_contain_text("有内容填写不正确")
    await expect(form.get_by_role("alert")).to_contain_text("/region")
    await form.get_by_label("行政区划代码").fill("320507")
    await form.get_by_role("button", name="登记").click()
    await expect(page.get_by_role("table", name="320507 各项指标、各来源的最新统计")).to_contain_text("1,500 人")
    await expect(form.get_by_role("alert")).to_be_hidden()

    # The history of a region's figure: every count, from every source.
    await grid.get_by_role("button", name="受灾人口：320506 的历次统计").click()
    history = page.get_by_role("table", name="320506 受灾人口 的每一次登记，按统计时间，最新的在前")
    await expect(history.get_by_role("row")).to_have_count(3)  # the header and two counts
    await expect(history.get_by_role("row").nth(1)).to_contain_text("社会组织：Lakeside Rescue Team")
    await expect(history.get_by_role("row").nth(2)).to_contain_text("政府")

    # Recorded elsewhere (through the API), it arrives live, in the grid and in the open history.
    await lakeside.dispatcher_api.post(f"/v1/incidents/{incident}/impacts", {
        "region": "320506", "figure": "affected", "value": "1800", "source": "government",
        "as_of": "2024-07-03T08:00:00+08:00", "note": "verified count"})
    await expect(row).to_contain_text("1,800 人")
    await expect(history.get_by_role("row")).to_have_count(4)
    await expect(history.get_by_role("row").nth(1)).to_contain_text("verified count")
    await page.get_by_role("button", name="关闭历次统计").click()
    await expect(history).to_have_count(0)

    # The incident room: the government's total over its regions, with its source.
    await page.get_by_role("link", name="指挥总览").click()
    panel = page.get_by_role("region", name="最新灾情数据")
    await expect(panel.locator("[data-figure=affected] dd")).to_have_text(
        "1,800 人 政府 · 1 个地区 · 截至 2024/07/03 08:00")
    await expect(panel.locator("[data-figure=emergency_relocated] dd")).to_contain_text("13 人 Relief 统计")
    await expect(panel.locator("[data-figure=dead] dd")).to_have_text("暂无")

    # In English, every word of the tab is English (the statistics system's Chinese term is marked as such).
    zh, en = await page.evaluate(_CATALOGUES)
    await page.get_by_role("button", name="切换为英文界面").click()
    await page.get_by_role("link", name="Impact figures", exact=True).click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    await expect(page.get_by_role("table", name="Latest count of each figure from each source in 320506")
                 .locator("tr[data-figure=houses_damaged]")).to_contain_text("37 houses")
    await _check(console, _fragments(zh, en), "impact figures")
    await page.get_by_role("button", name="中文: switch the interface to Chinese").click()

    # A viewer reads the same grid and has no form.
    await page.get_by_role("button", name="退出登录").click()
    await console.sign_in(lakeside.viewer_key)
    await console.goto(f"#/incidents/{incident}/impacts")
    await expect(grid.locator("tr[data-figure=affected][data-source=government]")).to_contain_text("1,800 人")
    await expect(page.get_by_role("form", name="登记灾情数据")).to_have_count(0)
    await grid.get_by_role("button", name="受灾人口：320506 的历次统计").click()
    await expect(history.get_by_role("row")).to_have_count(4)


async def test_the_demo_shows_each_source_side_by_side(console: Console, doksuri: DemoWorld):
    page = console.page
    await console.sign_in(doksuri.dispatcher_key)
    await console.goto(f"#/incidents/{doksuri.incident_id}/room")
    panel = page.get_by_role("region", name="最新灾情数据")
    await expect(panel.locator("[data-figure=affected] dd")).to_contain_text(re.compile(r"政府 · 4 个地区"))
    await expect(panel.locator("[data-figure=dead] dd")).to_contain_text("0 人 政府")

    await page.get_by_role("link", name="灾情统计").click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    wuzhong = page.get_by_role("table", name="320506 各项指标、各来源的最新统计")
    affected = wuzhong.locator("tr[data-figure=affected]")
    await expect(affected).to_have_count(2)
    await expect(affected.nth(0)).to_contain_text("政府")
    await expect(affected.nth(0)).to_contain_text("12,400 人")  # the verified count, not the first
    await expect(affected.nth(1)).to_contain_text("社会组织：吴中区蓝天救援队")
    await expect(wuzhong.locator("tr[data-figure=direct_loss]")).to_contain_text("¥7,620,000.00")
    await expect(wuzhong.locator("tr[data-figure=crops_affected_ha]")).to_contain_text("886.3 公顷")
    await expect(page.get_by_role("table", name="320507 各项指标、各来源的最新统计")
                 .locator("tr[data-figure=affected][data-source=media]")).to_contain_text("9,000 人")
    await console.screenshot("impacts-zh")
