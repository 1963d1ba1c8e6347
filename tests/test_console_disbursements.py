"""The disbursements screen in a real browser: four eyes. One dispatcher proposes a payment from an
earmarked fund and is refused, in words, when approving it himself; a second dispatcher, in another
browser, approves it and both screens show it paid. A viewer sees stock and money but no form."""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from models.keys import Role
from tests.console_world import Console, World, add_where_it_went, expect, make_key, new_console


async def test_a_second_dispatcher_approves_what_the_first_proposed(
    console: Console, lakeside: World, browser: Any, console_url: str, conn: asyncpg.Connection
):
    page = console.page
    base = f"/v1/incidents/{lakeside.incident['id']}"
    await lakeside.dispatcher_api.post(f"{base}/donations", {
        "kind": "money", "amount": "9000.00", "channel": "bank_transfer", "donor": {"anonymous": True},
        "earmark": {"purpose": "medical", "region": "320500"}}, idempotent=True)
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/disbursements")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    funds = page.get_by_role("table", name=re.compile("^各项资金的到账、拨付与余额"))
    earmark = funds.get_by_role("row").filter(has_text="定向：医疗（苏州市 3205）")
    await expect(earmark).to_contain_text("¥9,000.00")
    await expect(funds.get_by_role("row").filter(has_text="非定向资金")).to_contain_text("¥2,500.00")

    form = page.get_by_role("form", name="申请拨付")
    await expect(form.get_by_label("币种")).to_have_value("CNY")
    await form.get_by_label("金额").fill("1200.00")
    await form.get_by_label("用途").select_option("medical")
    await form.get_by_label("资金", exact=True).select_option("medical|3205")
    await form.get_by_label("凭证号").fill("LK-V-0101")
    await form.get_by_label("收款方类型").select_option("households")
    await form.get_by_label("户数").fill("4")
    await form.get_by_label("所在地区代码").fill("320506")
    await form.get_by_label("拨付时间").fill("2023-08-01T10:00")  # paid on the voucher's date, recorded now
    await form.get_by_role("button", name="提交申请").click()
    entries = page.get_by_role("table", name=re.compile("^拨付申请、审批与冲正"))
    row = entries.get_by_role("row").filter(has_text="LK-V-0101")
    await expect(row).to_contain_text("待审批")
    await expect(row).to_contain_text("¥1,200.00")
    await expect(row).to_contain_text("4 户 · 吴中区 320506")
    await expect(row.get_by_role("cell").first).to_have_text("2023/08/01 10:00")  # Beijing time
    await expect(form.get_by_label("拨付时间")).to_have_value("")
    await expect(earmark).to_contain_text("¥1,200.00")  # awaiting approval
    await expect(form.get_by_label("用途")).to_have_value("medical")  # kept for the next one
    await expect(form.get_by_label("凭证号")).to_have_value("")

    # The proposer's own approval: refused (403), and said so.
    console.expects_failure(403, "/approve")
    await row.get_by_role("button", name="批准拨付 LK-V-0101").click()
    await expect(page.locator("#notice")).to_have_text(
        "须由另一位调度员审批：提出拨付申请的人不能审批或驳回自己的申请。")
    await expect(row).to_contain_text("待审批")

    # A second dispatcher, with their own key, in their own browser.
    context, other = await new_console(browser, console_url)
    try:
        await other.sign_in(await make_key(conn, Role.dispatcher, name="day dispatcher"))
        await other.goto(f"#/incidents/{lakeside.incident['id']}/disbursements")
        theirs = other.page.get_by_role("row").filter(has_text="LK-V-0101")
        await theirs.get_by_role("button", name="批准拨付 LK-V-0101").click()
        await expect(theirs).to_contain_text("已批准")
        other.assert_clean()
    finally:
        await context.close()
    # The proposer sees it paid without a reload: the earmark's balance is 9,000 − 1,200.
    await expect(row).to_contain_text("已批准")
    await expect(earmark).to_contain_text("¥7,800.00")
    await expect(row.get_by_role("button", name="冲正拨付 LK-V-0101")).to_be_visible()
    await expect(row.get_by_role("cell").first).to_have_text("2023/08/01 10:00")  # the approval keeps it
    paid, = [d for d in (await lakeside.dispatcher_api.get(f"{base}/disbursements"))["items"]
             if d["voucher_no"] == "LK-V-0101"]
    assert paid["disbursed_at"] == "2023-08-01T02:00:00Z" and paid["status"] == "approved"
    await console.screenshot("disbursements-zh")


async def test_a_viewer_reads_stock_and_money_without_forms(console: Console, lakeside: World,
                                                           conn: asyncpg.Connection):
    page = console.page
    await add_where_it_went(conn, lakeside)
    await console.sign_in(lakeside.viewer_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/stock")
    levels = page.get_by_role("table", name=re.compile("^各仓储点和安置点的库存"))
    await expect(levels.get_by_role("row").filter(has_text="Harbour depot")).to_contain_text("50 箱")
    await expect(page.get_by_role("table", name="已调出、尚未确认到货的调拨")).to_contain_text("饮用水 40 箱")
    await expect(page.get_by_role("form")).to_have_count(0)
    await expect(page.locator("main button")).to_have_count(0)

    await console.goto(f"#/incidents/{lakeside.incident['id']}/disbursements")
    row = page.get_by_role("row").filter(has_text="LK-V-0001")
    await expect(row).to_contain_text("已批准")
    await expect(page.get_by_role("form")).to_have_count(0)
    await expect(page.locator("main button")).to_have_count(0)
