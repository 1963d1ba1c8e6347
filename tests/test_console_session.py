"""Signing in to the console: who may, what a reload keeps, and what a viewer sees."""

from __future__ import annotations

from tests.console_world import Console, World, expect


async def test_only_live_bureau_keys_sign_in_and_a_reload_keeps_the_session(console: Console, lakeside: World):
    page = console.page
    console.expects_failure(403, "/console/session")
    console.expects_failure(401, "/console/session")  # the wrong key below (not the probe: that answers 200)
    await console.open("/")
    key = page.get_by_label("API 密钥")
    await key.fill("rk_" + "x" * 43)
    await key.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text("密钥无效或已被吊销。")
    await key.fill(lakeside.organization_api.key)
    await key.press("Enter")
    await expect(page.get_by_role("alert")).to_have_text("社会组织的密钥不能登录调度台，请通过 API 操作。")
    assert not [c for c in await page.context.cookies() if c["name"] == "relief_session"]

    await console.sign_in(lakeside.viewer_key)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "relief_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert lakeside.viewer_key not in await page.evaluate("JSON.stringify(localStorage) + document.cookie")
    await console.goto(f"#/incidents/{lakeside.incident['id']}/shelters")
    await page.reload()
    await expect(page.get_by_role("heading", name="受灾群众")).to_be_visible()
    await expect(page.locator(".who")).to_have_text("auditor（查看员）")

    # A viewer reads every figure but changes nothing, and never sees a resident's name.
    table = page.get_by_role("table", name="受灾群众（证件号和电话已脱敏）")
    await expect(table).to_contain_text(f"****{lakeside.resident_id_number[-4:]}")
    await expect(table).not_to_contain_text("Li Lei")
    await expect(page.get_by_role("button", name="入住")).to_have_count(0)
    await expect(page.get_by_role("form", name="开设安置点")).to_have_count(0)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/room")
    await expect(page.get_by_role("article", name="Boat crews")).to_be_visible()
    await expect(page.get_by_role("form", name="新建救援需求")).to_have_count(0)
    await expect(page.get_by_role("button", name="发布需求：Tents for the school")).to_have_count(0)
