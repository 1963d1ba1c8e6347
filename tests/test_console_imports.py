"""The imports tab in a real browser: a dispatcher picks residents, finds the kind's templates, checks a CSV
with one bad row (a dry run: the progress reaches the end, the refused row is in the table with its row,
column and masked cells, the errors CSV is offered, and nothing is written), then imports the valid rows and
sees them written; a file whose header is not the template's is refused in the form, as any server error;
a viewer gets the templates and no upload form. (English mode is checked in tests/test_console_i18n.py.)"""

from __future__ import annotations

import re

import pytest

from tests.console_world import Console, World, expect
from tests.test_imports import as_csv, rows

RESIDENTS = "/v1/incidents/{incident}/residents"


@pytest.mark.parametrize("settings", [{"imports_in_process": True}], indirect=True)
async def test_a_dispatcher_checks_and_imports_a_sheet_and_a_viewer_cannot(console: Console, lakeside: World):
    page = console.page
    incident = lakeside.incident["id"]
    before = len((await lakeside.dispatcher_api.get(RESIDENTS.format(incident=incident)))["items"])
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{incident}/imports")
    await expect(page.locator(".live")).to_have_attribute("data-state", "live")
    await expect(page.locator("main nav a[aria-current=page]")).to_have_text("批量导入")

    # The kind picks the templates; the workbook's lists the incident's regions.
    form = page.get_by_role("form", name="上传表格")
    await form.get_by_label("导入内容").select_option("donations")
    await expect(form.get_by_role("link", name="下载“捐赠”的 CSV 模板")).to_have_attribute(
        "href", "/v1/imports/templates/donations.csv")
    await form.get_by_label("导入内容").select_option("residents")
    csv_template = form.get_by_role("link", name="下载“受灾群众”的 CSV 模板")
    await expect(csv_template).to_have_attribute("href", "/v1/imports/templates/residents.csv")
    await expect(form.get_by_role("link", name="下载“受灾群众”的 Excel 模板")).to_have_attribute(
        "href", f"/v1/imports/templates/residents.xlsx?incident_id={incident}")
    response = await page.request.get(f"{console.url}/v1/imports/templates/residents.csv")
    assert response.status == 200 and "姓名" in (await response.body()).decode("utf-8-sig")

    # A check of three rows, the second with a wrong check character: it writes nothing, lists the bad row.
    data = as_csv(rows(3, bad={1}))
    await form.get_by_label("表格文件").set_input_files({"name": "x.csv", "mimeType": "text/csv", "buffer": data})
    await form.get_by_role("button", name="检查（不写入）").click()
    result = page.locator(".import-result")
    await expect(result.get_by_role("heading", name="检查：x.csv（受灾群众）")).to_be_visible()
    await expect(result.locator(".import-state")).to_have_attribute("data-state", "done")
    bar = result.locator("progress")
    await expect(bar).to_have_attribute("data-total", "3")
    await expect(bar).to_have_attribute("data-read", "3")
    assert await bar.evaluate("(el) => el.value === el.max")
    await expect(result.get_by_text("已处理 3 / 3 行")).to_be_visible()
    await expect(result.locator("[data-count=written] dt")).to_have_text("将写入")
    await expect(result.locator("[data-count=written] dd")).to_have_text("2")
    await expect(result.locator("[data-count=refused] dd")).to_have_text("1")
    refused = result.get_by_role("table", name="被拒绝的行")
    await expect(refused.locator("tbody tr")).to_have_count(1)
    row = refused.locator("tr[data-row='3']")
    await expect(row).to_contain_text("证件号码")
    await expect(row).to_contain_text("校验码不符")  # the reason in the console's language
    await expect(row).to_contain_text("居民1")
    await expect(row).to_contain_text("****")  # the ID number and the phone, masked
    await expect(page.locator("#notice")).to_have_text("检查完成：2 行可以写入，1 行被拒绝（什么也没有写入）")
    errors_csv = result.get_by_role("link", name=re.compile("^下载全部被拒绝的行"))
    href = await errors_csv.get_attribute("href")
    assert re.fullmatch(r"/v1/imports/[0-9a-f-]{36}/errors\.csv", href)
    response = await page.request.get(console.url + href)
    assert response.status == 200 and "attachment" in response.headers["content-disposition"]
    assert "证件号码" in (await response.body()).decode("utf-8-sig")
    listed = await lakeside.dispatcher_api.get(RESIDENTS.format(incident=incident))
    assert len(listed["items"]) == before  # the check wrote nothing

    # The valid rows of the same file, for real.
    await result.get_by_role("button", name="仍然导入有效的行").click()
    await expect(result.get_by_role("heading", name="导入：x.csv（受灾群众）")).to_be_visible()
    await expect(result.locator(".import-state")).to_have_attribute("data-state", "done")
    await expect(result.locator("[data-count=written] dt")).to_have_text("已写入")
    await expect(result.locator("[data-count=written] dd")).to_have_text("2")
    await expect(result.locator("[data-count=refused] dd")).to_have_text("1")
    await expect(result.locator("progress")).to_have_attribute("data-read", "3")
    await expect(page.locator("#notice")).to_have_text("导入完成：写入 2 行，已存在 0 行，拒绝 1 行")
    await expect(result.get_by_role("button", name="仍然导入有效的行")).to_have_count(0)
    listed = await lakeside.dispatcher_api.get(RESIDENTS.format(incident=incident))
    assert len(listed["items"]) == before + 2

    # The same file again, with the import button: no one is added.
    await form.get_by_role("button", name="导入", exact=True).click()
    await expect(result.locator("[data-count=present] dd")).to_have_text("2")
    await expect(result.locator("[data-count=written] dd")).to_have_text("0")

    # A header that is not the template's is refused at upload, in the form, with the expected columns.
    console.expects_failure(422, f"/v1/incidents/{incident}/imports?kind=residents&dry_run=true")
    await form.get_by_label("表格文件").set_input_files(
        {"name": "y.csv", "mimeType": "text/csv", "buffer": "名字,电话\n张三,13900000000\n".encode()})
    await form.get_by_role("button", name="检查（不写入）").click()
    alert = form.get_by_role("alert")
    await expect(alert).to_contain_text("有内容填写不正确")
    await expect(alert).to_contain_text("姓名")  # the expected columns
    await expect(form.get_by_role("button", name="检查（不写入）")).to_be_enabled()

    # A viewer downloads templates and has no upload form.
    await page.get_by_role("button", name="退出登录").click()
    await console.sign_in(lakeside.viewer_key)
    await console.goto(f"#/incidents/{incident}/imports")
    await expect(page.get_by_text("只有调度员可以导入表格；你可以在这里下载模板。")).to_be_visible()
    await expect(page.get_by_role("form", name="上传表格")).to_have_count(0)
    await expect(page.locator("input[type=file]")).to_have_count(0)
    await expect(page.get_by_role("link", name="下载“受灾群众”的 CSV 模板")).to_be_visible()
