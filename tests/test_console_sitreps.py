"""The situation reports tab in a real browser: a dispatcher previews the initial report (its number, key
figures and change list), issues it and sees it listed with its printable page and CSV; the kind then moves
to update (initial is refused once a report exists), a report issued elsewhere arrives live, English mode has
no Chinese on the tab, and a viewer reads the list without the issue panel."""

from __future__ import annotations

import re

from tests.console_world import Console, DemoWorld, World, expect
from tests.test_console_i18n import _CATALOGUES, _check, _fragments


async def test_a_dispatcher_previews_and_issues_reports_and_a_viewer_reads_them(console: Console, lakeside: World):
    page = console.page
    incident = lakeside.incident["id"]
    await lakeside.dispatcher_api.post(f"/v1/incidents/{incident}/impacts", {
        "region": "320506", "figure": "affected", "value": "1200", "source": "government",
        "as_of": "2024-07-02T08:00:00+08:00"})
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{incident}/sitreps")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    await expect(page.get_by_text("还没有签发灾情报告。")).to_be_visible()

    # The first report can only be the initial one.
    form = page.get_by_role("form", name="签发灾情报告")
    kind = form.get_by_label("报告类型")
    await expect(kind).to_have_value("initial")
    await expect(kind.locator("option[value=update]")).to_be_disabled()
    await form.get_by_label("报告正文").fill("7月1日夜起湖岸持续进水，已转移群众13人。")

    # The preview: the next number, the key figures, and every figure (it is the first report).
    await form.get_by_role("button", name="预览").click()
    await expect(form.get_by_role("heading", name="预览：第1期（初报）")).to_be_visible()
    figures = form.locator(".sitrep-figures")
    await expect(figures.locator("[data-figure='residents.evacuated'] dd")).to_have_text("13 人")
    await expect(figures.locator("[data-figure='money.received.CNY'] dd")).to_have_text("¥2,500.00")
    changes = form.get_by_role("table", name="首期报告的全部数据")
    await expect(changes.locator("tr[data-figure='impacts.320506.affected.government']")).to_contain_text("—1,200")
    listed = await lakeside.dispatcher_api.get(f"/v1/incidents/{incident}/sitreps")
    assert listed["items"] == []  # the preview issued nothing

    # Issued: listed with its print link (in the console's language, a new tab) and its CSV.
    await form.get_by_role("button", name="签发", exact=True).click()
    await expect(page.locator("#notice")).to_have_text("第1期已签发（初报）")
    (report,) = (await lakeside.dispatcher_api.get(f"/v1/incidents/{incident}/sitreps"))["items"]
    assert report["kind"] == "initial" and report["number"] == 1
    row = page.get_by_role("table", name="本事件的灾情报告，最新的在前").locator("tr[data-number='1']")
    await expect(row).to_contain_text("第1期")
    await expect(row).to_contain_text("初报")
    await expect(row).to_contain_text("night dispatcher")
    await expect(row).to_contain_text(re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}"))
    printed = row.get_by_role("link", name="打印第1期（在新标签页打开）")
    await expect(printed).to_have_attribute("href", f"/v1/sitreps/{report['id']}.html?lang=zh")
    await expect(printed).to_have_attribute("target", "_blank")
    await expect(printed).to_have_attribute("rel", "noopener")
    await expect(row.get_by_role("link", name="下载第1期的 CSV")).to_have_attribute(
        "href", f"/v1/sitreps/{report['id']}.csv")
    response = await page.request.get(f"{console.url}/v1/sitreps/{report['id']}.html?lang=zh")
    assert response.status == 200 and response.headers["content-type"].startswith("text/html")
    response = await page.request.get(f"{console.url}/v1/sitreps/{report['id']}.csv")
    assert response.status == 200 and "attachment" in response.headers["content-disposition"]

    # The next one is an update (initial is no longer offered); the narrative went, the preview too.
    await expect(kind).to_have_value("update")
    await expect(kind.locator("option[value=initial]")).to_be_disabled()
    await expect(form.get_by_label("报告正文")).to_have_value("")
    await expect(form.locator(".sitrep-preview")).to_be_empty()
    await lakeside.dispatcher_api.post(f"/v1/incidents/{incident}/impacts", {
        "region": "320506", "figure": "affected", "value": "1500", "source": "government",
        "as_of": "2024-07-03T08:00:00+08:00"})
    await form.get_by_role("button", name="预览").click()
    await expect(form.get_by_role("heading", name="预览：第2期（续报）")).to_be_visible()
    moved = form.get_by_role("table", name="与第1期相比有变化的数据").locator(
        "tr[data-figure='impacts.320506.affected.government']")
    await expect(moved).to_contain_text("1,2001,500+300")

    # A report issued elsewhere (through the API) arrives live.
    await lakeside.dispatcher_api.post(f"/v1/incidents/{incident}/sitreps", {"kind": "verified"}, idempotent=True)
    await expect(page.locator("tr[data-number='2']")).to_contain_text("核报")
    await expect(kind).to_have_value("update")

    # In English every word of the tab is English, and the print link asks for the English page.
    zh, en = await page.evaluate(_CATALOGUES)
    await page.get_by_role("button", name="切换为英文界面").click()
    await page.get_by_role("link", name="Situation reports", exact=True).click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    english = page.get_by_role("table", name="The incident's situation reports, latest first")
    await expect(english.locator("tr[data-number='1']")).to_contain_text("Initial report")
    await expect(english.get_by_role("link", name="Print No. 1 (opens a new tab)")).to_have_attribute(
        "href", f"/v1/sitreps/{report['id']}.html?lang=en")
    await page.get_by_role("form", name="Issue a situation report").get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("heading", name="Preview: No. 3 (Update)")).to_be_visible()
    await _check(console, _fragments(zh, en), "situation reports")
    await page.get_by_role("button", name="中文: switch the interface to Chinese").click()

    # A viewer reads the list and has no issue panel.
    await page.get_by_role("button", name="退出登录").click()
    await console.sign_in(lakeside.viewer_key)
    await console.goto(f"#/incidents/{incident}/sitreps")
    await expect(page.get_by_role("table", name="本事件的灾情报告，最新的在前").locator("tbody tr")).to_have_count(2)
    await expect(page.get_by_role("link", name="打印第2期（在新标签页打开）")).to_be_visible()
    await expect(page.get_by_role("form", name="签发灾情报告")).to_have_count(0)


async def test_the_demo_lists_its_two_reports(console: Console, doksuri: DemoWorld):
    page = console.page
    await console.sign_in(doksuri.dispatcher_key)
    await console.goto(f"#/incidents/{doksuri.incident_id}/sitreps")
    await page.locator("main > .screen[data-ready=true]").wait_for()
    listed = page.get_by_role("table", name="本事件的灾情报告，最新的在前")
    await expect(listed.get_by_role("row")).to_have_count(3)  # the header and two reports
    await expect(listed.get_by_role("row").nth(1)).to_contain_text("续报")
    await expect(listed.get_by_role("row").nth(2)).to_contain_text("初报")
    print_link = listed.get_by_role("row").nth(1).get_by_role("link", name=re.compile("打印"))
    await expect(print_link).to_have_attribute("href", re.compile(r"^/v1/sitreps/[0-9a-f-]{36}\.html\?lang=zh$"))
    await console.screenshot("sitreps-zh")
