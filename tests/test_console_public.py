"""The transparency page: the incident's figures for anyone, signed out, with nothing personal on it."""

from __future__ import annotations

import re

import asyncpg

from tests.console_world import Console, DemoWorld, World, add_where_it_went, expect, new_console


async def test_anyone_reads_the_public_page_signed_out(console: Console, doksuri: DemoWorld, http):
    page = console.page
    async with http.get(f"/v1/public/incidents/{doksuri.incident_id}") as response:
        figures = await response.json()
    await console.open(f"/public/incidents/{doksuri.incident_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(figures["title"])
    assert await page.context.cookies() == []
    await expect(page.get_by_label("API 密钥")).to_have_count(0)

    # The figures are the public endpoint's own.
    residents = page.get_by_role("region", name="受灾群众")
    await expect(residents.locator(".big-number")).to_have_text(f"{int(figures['residents']['evacuated']):,}")
    organizations = page.get_by_role("region", name="参与组织")
    await expect(organizations.locator(".big-number")).to_have_text(str(len(figures["organizations"])))
    await expect(organizations.get_by_role("listitem")).to_have_count(len(figures["organizations"]))
    cny = next(m for m in figures["money"] if m["currency"] == "CNY")
    received = f"¥{float(cny['received']):,.2f}"  # formatted the way zh-CN shows CNY
    await expect(page.get_by_role("region", name="资金", exact=True)).to_contain_text(received)
    await expect(page.locator("meter")).to_have_count(len(figures["shelters"]))
    calls = page.get_by_role("table", name="各项救援需求的送达进度")
    await expect(calls.get_by_role("row")).to_have_count(len(figures["calls"]) + 1)

    text = await page.locator("body").inner_text()
    assert not re.search(r"\*{4}|1\d{2}\*{4}\d{4}", text), "a masked ID or phone number is on the public page"
    await console.screenshot("public-zh")

    await page.get_by_role("button", name="切换为英文界面").click()
    await expect(page.get_by_role("heading", name="Shelter occupancy")).to_be_visible()
    await expect(page.get_by_role("region", name="Residents")).to_contain_text("people evacuated")
    await console.screenshot("public-en")


async def test_an_unknown_incident_says_so(console: Console, lakeside):
    console.expects_failure(404, "/v1/public/incidents/00000000-0000-4000-8000-000000000000")
    await console.open("/public/incidents/00000000-0000-4000-8000-000000000000")
    await expect(console.page.get_by_role("alert")).to_have_text("找不到该事件。")


async def test_the_public_page_shows_how_donations_were_used_and_the_signed_head(
    console: Console, lakeside: World, conn: asyncpg.Connection, http
):
    page = console.page
    await add_where_it_went(conn, lakeside)
    incident = lakeside.incident["id"]
    async with http.get(f"/v1/public/incidents/{incident}/ledger") as response:
        head = await response.json()
    await console.open(f"/public/incidents/{incident}")
    use = page.get_by_role("region", name="捐赠款物使用情况")
    money = use.get_by_role("region", name="资金使用（CNY）")
    await expect(money.locator("dl")).to_contain_text("到账¥11,500.00已拨付¥1,500.00结余¥10,000.00")
    await expect(money.get_by_role("table", name="CNY 资金按用途的拨付").get_by_role("row").filter(
        has_text="医疗")).to_contain_text("¥1,500.00")
    earmark = money.get_by_role("table", name="CNY 定向与非定向资金").get_by_role("row").filter(has_text="定向：医疗")
    await expect(earmark).to_contain_text("¥9,000.00¥1,500.00¥7,500.00")
    water = use.get_by_role("table", name="各项捐赠物资的入库与去向").get_by_role("row").filter(has_text="饮用水")
    await expect(water).to_have_text(re.compile("饮用水100 箱4 箱1 箱40 箱55 箱12"))
    await expect(use.get_by_role("region", name="物资去向").locator(".big-number")).to_have_text("12")

    # The signed head: its entry count, the hash shortened with the whole of it at hand, and where to check it.
    ledger = use.get_by_role("region", name="台账校验")
    await expect(ledger).to_contain_text(f"台账条目{head['entries']}")
    await expect(ledger).to_contain_text(f"签名密钥编号{head['key_id']}")
    short = ledger.locator(f"code[data-hash='{head['head']}']")
    await expect(short).to_have_attribute("title", head["head"])
    await expect(short).to_have_text(f"{head['head'][:12]}…{head['head'][-6:]}")
    await expect(ledger.locator(".hash-full")).to_have_text(head["head"])
    await expect(ledger.get_by_role("link", name="全部台账条目（JSON）")).to_have_attribute(
        "href", f"/v1/public/incidents/{incident}/ledger/entries")
    await expect(ledger.get_by_role("link", name="局方公钥")).to_have_attribute("href", "/v1/public/ledger-key")
    await console.screenshot("public-use-zh")

    await page.get_by_role("button", name="切换为英文界面").click()
    use = page.get_by_role("region", name="How donations were used")
    money = use.get_by_role("region", name="Money (CNY)")
    await expect(money).to_contain_text("Earmarked: Medical (region 苏州市 3205)")  # the name in lang=zh
    await expect(use.get_by_role("region", name="Check the ledger")).to_contain_text(f"Ledger entries{head['entries']}")


async def test_the_public_page_shows_the_latest_situation_report_marked_provisional(
    console: Console, lakeside: World, browser
):
    page = console.page
    incident = lakeside.incident["id"]
    bureau = lakeside.dispatcher_api
    await bureau.post(f"/v1/incidents/{incident}/impacts", {
        "region": "320506", "figure": "affected", "value": "1200", "source": "government",
        "as_of": "2024-07-02T08:00:00+08:00"})
    report = await bureau.post(f"/v1/incidents/{incident}/sitreps",
                               {"kind": "initial", "narrative": "Internal: call Captain Wang at 13900000106"})
    await console.open(f"/public/incidents/{incident}")
    section = page.get_by_role("region", name="灾情报告")
    await expect(section).to_contain_text("初步数据（未核定）")
    await expect(section).to_contain_text("以下数据摘自第1期（初报）")
    await expect(section.locator("[data-figure='residents.evacuated'] dd")).to_have_text("13 人")
    await expect(section.locator("[data-figure='money.received.CNY'] dd")).to_have_text("¥2,500.00")
    row = section.get_by_role("table", name="各地区灾情数据（按来源）").get_by_role("row").filter(has_text="受灾人口")
    await expect(row).to_contain_text("320506")
    await expect(row).to_contain_text("政府")
    await expect(row).to_contain_text("1,200 人")
    await expect(section.get_by_role("link", name=re.compile("^第1期（初报）"))).to_have_attribute(
        "href", f"/v1/public/sitreps/{report['id']}.html?lang=zh")
    text = await section.inner_text()
    assert "Captain Wang" not in text and "13900000106" not in text and "night dispatcher" not in text

    # A verified report takes over, and the mark goes (a fresh browser: the list may be cached for 30 s).
    await bureau.post(f"/v1/incidents/{incident}/sitreps", {"kind": "verified"})
    context, later = await new_console(browser, console.url)
    page = later.page
    await later.open(f"/public/incidents/{incident}")
    section = page.get_by_role("region", name="灾情报告")
    await expect(section).to_contain_text("以下数据摘自第2期（核报）")
    await expect(section).not_to_contain_text("初步数据（未核定）")
    await expect(section.get_by_role("listitem")).to_have_count(2)

    await page.get_by_role("button", name="切换为英文界面").click()
    english = page.get_by_role("region", name="Situation reports")
    await expect(english).to_contain_text("Figures from No. 2 (Verified report)")
    await expect(english.get_by_role("link", name=re.compile("^No. 1 "))).to_have_attribute(
        "href", f"/v1/public/sitreps/{report['id']}.html?lang=en")
    await context.close()
    later.assert_clean()
