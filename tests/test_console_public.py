"""The transparency page: the incident's figures for anyone, signed out, with nothing personal on it."""

from __future__ import annotations

import re

from tests.console_world import Console, DemoWorld, expect


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
    await expect(page.get_by_role("region", name="资金")).to_contain_text(received)
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
