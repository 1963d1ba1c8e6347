"""The bureau-wide screens in a real browser: organizations (register, approve, suspend; an admin issues keys,
shown once), webhooks read-only with their delivery log (a retry only for the bureau's own), an incident's
exports downloaded with the session cookie, a 422 in Chinese beside the field it names, the audit trail naming
the key that acted, the public list of open incidents, and a viewer who sees no tab or button they cannot use."""

from __future__ import annotations

import re
import uuid

import asyncpg

from models.keys import Role
from tests.console_world import Console, Http, World, expect, make_key


def _credit_code(first17: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(alphabet.index(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + alphabet[-total % 31]


async def _webhooks(world: World, conn: asyncpg.Connection) -> tuple[dict, dict]:
    """A bureau subscription with a failed and a delivered delivery, and the team's own with one failed."""
    ours = await world.dispatcher_api.post("/v1/webhooks", {
        "url": "http://127.0.0.1:9/bureau-hook", "event_types": ["pledge.*"], "description": "duty room"})
    theirs = await world.organization_api.post("/v1/webhooks", {
        "url": "http://127.0.0.1:9/team-hook", "event_types": ["call.*"], "rate_limit": 2})
    event_ids = await conn.fetch("select id, type from events order by id limit 3")
    await conn.execute(
        """insert into webhook_deliveries (webhook_id, event_id, event_type, status, attempts, last_status_code,
                                           last_error, delivered_at, created_at)
           values ($1, $2, $3, 'failed', 10, 503, null, null, now() - interval '2 hours'),
                  ($1, $4, $5, 'delivered', 1, 200, null, now(), now() - interval '1 hour'),
                  ($6, $2, $3, 'failed', 10, null, 'connection refused', null, now())""",
        uuid.UUID(ours["id"]), event_ids[0]["id"], event_ids[0]["type"], event_ids[1]["id"], event_ids[1]["type"],
        uuid.UUID(theirs["id"]))
    await conn.execute("update webhooks set failing_since = now() - interval '3 hours' where id = $1",
                       uuid.UUID(ours["id"]))
    return ours, theirs


async def test_a_dispatcher_registers_and_approves_an_organization(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    await page.get_by_role("navigation", name="调度台").get_by_role("link", name="社会组织").click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    await expect(page.get_by_role("heading", level=1)).to_have_text("社会组织")
    listed = page.get_by_role("table", name="社会组织，最新登记的在前")
    await expect(listed.get_by_role("row").filter(has_text="Lakeside Rescue Team")).to_contain_text("已通过")
    # A dispatcher issues no key: that is an admin's.
    await expect(page.get_by_role("button", name=re.compile("发放密钥"))).to_have_count(0)

    form = page.get_by_role("form", name="登记社会组织")
    await form.get_by_label("名称").fill("Hill Town Relief Society")
    await form.get_by_label("统一社会信用代码").fill(_credit_code("91320500MA1Y2K3L4"))
    await form.get_by_label("类型").select_option("charity")
    await form.get_by_label("所在地区").fill("320506")
    await form.get_by_label("联系人").fill("Ms Zhou")
    await form.get_by_role("button", name="登记").click()
    await expect(page.locator("#notice")).to_have_text("已登记：Hill Town Relief Society（待审核）")
    row = listed.get_by_role("row").filter(has_text="Hill Town Relief Society")
    await expect(row).to_contain_text("待审核")
    await expect(row).to_contain_text("慈善组织")

    await page.get_by_role("button", name="审核通过：Hill Town Relief Society").click()
    await expect(row).to_contain_text("已通过")
    await page.get_by_role("button", name="暂停：Hill Town Relief Society").click()
    await expect(row).to_contain_text("已暂停")
    organizations = await lakeside.dispatcher_api.get("/v1/organizations?status=suspended")
    assert [o["name"] for o in organizations["items"]] == ["Hill Town Relief Society"]


async def test_a_422_is_said_in_chinese_beside_its_field(console: Console, lakeside: World):
    page = console.page
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto("#/organizations")
    form = page.get_by_role("form", name="登记社会组织")
    await form.get_by_label("名称").fill("Bad Codes Team")
    await form.get_by_label("统一社会信用代码").fill("91320500MA1Y2K3L4X")  # the check character is wrong
    await form.get_by_label("所在地区").fill("990000")  # no province 99
    await form.get_by_label("联系人").fill("Mr Wu")
    console.expects_failure(422, "/v1/organizations")
    await form.get_by_role("button", name="登记").click()
    region = form.get_by_label("所在地区")
    await expect(region).to_have_attribute("aria-invalid", "true")
    await expect(region).to_have_accessible_description(re.compile("行政区划代码不正确"))
    credit = form.get_by_label("统一社会信用代码")
    await expect(credit).to_have_attribute("aria-invalid", "true")
    await expect(form.locator(".field-error[data-code=credit_code]")).to_have_text(
        "统一社会信用代码不正确（18 位，含校验位）")
    alert = form.get_by_role("alert")
    await expect(alert).to_contain_text("有内容填写不正确")
    text = await alert.inner_text()
    assert "check character" not in text and "first two digits" not in text, text  # no English from the server
    # Put right, the marks go with the next answer.
    await region.fill("320506")
    await credit.fill(_credit_code("91320500MA1Y2K3L4"))
    await form.get_by_role("button", name="登记").click()
    await expect(page.locator("#notice")).to_contain_text("已登记：Bad Codes Team")
    await expect(form.locator("[aria-invalid=true]")).to_have_count(0)

    # An incident's regions: the second one is at fault, and the field says which.
    await console.goto("#/incidents")
    incident_form = page.get_by_role("form", name="新建事件")
    await incident_form.get_by_label("事件编号").fill("2024-BAD-REGION")
    await incident_form.get_by_label("名称").fill("Bad region")
    regions = incident_form.get_by_label("涉及地区")
    await regions.fill("320506 990000")
    console.expects_failure(422, "/v1/incidents")
    await incident_form.get_by_role("button", name="新建事件").click()
    await expect(regions).to_have_attribute("aria-invalid", "true")
    await expect(incident_form.locator(".field-error")).to_have_text(re.compile("^第 2 项：行政区划代码不正确"))


async def test_an_admin_issues_keys_shown_once(console: Console, lakeside: World, conn: asyncpg.Connection, http):
    page = console.page
    admin_key = await make_key(conn, Role.admin, name="bureau admin")
    await console.sign_in(admin_key)
    await console.goto("#/organizations")
    await page.get_by_role("button", name="为 Lakeside Rescue Team 发放密钥").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("密钥名称").fill("team dispatch system")
    await dialog.get_by_role("button", name="发放").click()
    issued = page.get_by_role("status").filter(has_text="新密钥：team dispatch system")
    secret = await issued.locator("code.key-secret").inner_text()
    assert secret.startswith("rk_")
    await expect(issued.get_by_role("button", name="复制密钥")).to_be_visible()
    await issued.get_by_role("button", name="复制密钥").click()
    await expect(page.locator("#notice")).to_have_text(re.compile("已复制到剪贴板|已选中密钥"))
    # The key works, as the team's.
    team = Http(http, secret)
    own = await team.get(f"/v1/organizations/{lakeside.organization['id']}")
    assert own["name"] == "Lakeside Rescue Team"

    staff = page.get_by_role("form", name="局方工作人员密钥")
    await staff.get_by_label("密钥名称").fill("night viewer Li")
    await staff.get_by_label("角色").select_option("viewer")
    await staff.get_by_role("button", name="发放").click()
    issued = page.get_by_role("status").filter(has_text="新密钥：night viewer Li")
    secret = await issued.locator("code.key-secret").inner_text()
    listed = page.get_by_role("table", name="已发放的密钥")
    await expect(listed.get_by_role("row").filter(has_text="night viewer Li")).to_contain_text("查看员")
    assert secret not in await listed.inner_text()  # the list shows the prefix, never the secret
    viewer = Http(http, secret)
    await viewer.send("POST", "/v1/incidents", {"code": "X-1"}, expect=403)


async def test_the_webhooks_screen_reads_logs_and_retries_only_the_bureaus(console: Console, lakeside: World,
                                                                           conn: asyncpg.Connection):
    page = console.page
    ours, theirs = await _webhooks(lakeside, conn)
    await console.sign_in(lakeside.dispatcher_key)
    await page.get_by_role("navigation", name="调度台").get_by_role("link", name="订阅推送").click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    listed = page.get_by_role("table", name="全部 Webhook 订阅")
    bureau_row = listed.locator(f"tr[data-webhook-id='{ours['id']}']")
    await expect(bureau_row).to_contain_text("局方")
    await expect(bureau_row).to_contain_text("启用")
    await expect(bureau_row).to_contain_text("正常")  # the breaker
    await expect(bureau_row).to_contain_text("不限")
    team_row = listed.locator(f"tr[data-webhook-id='{theirs['id']}']")
    await expect(team_row).to_contain_text("Lakeside Rescue Team")
    await expect(team_row).to_contain_text("每秒 2 次")

    # The team's log: read-only.
    await team_row.get_by_role("link", name=re.compile("^查看投递记录")).click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    log = page.get_by_role("table", name="发往 http://127.0.0.1:9/team-hook 的投递，最新的在前")
    await expect(log.get_by_role("row")).to_have_count(2)
    await expect(log).to_contain_text("connection refused")
    await expect(log.get_by_role("button", name=re.compile("^重发"))).to_have_count(0)

    # The bureau's log: a failed and a delivered delivery, each retried from here.
    await console.goto(f"#/webhooks/{ours['id']}")
    log = page.get_by_role("table", name="发往 http://127.0.0.1:9/bureau-hook 的投递，最新的在前")
    failed = log.locator("tr[data-status=failed]")
    await expect(failed).to_contain_text("HTTP 503")
    await expect(failed).to_contain_text("投递失败")
    await failed.get_by_role("button", name=re.compile("^重发")).click()
    await expect(page.locator("#notice")).to_contain_text("已安排重发")
    await expect(log.locator("tr[data-status=pending]")).to_have_count(1)
    pending = await conn.fetchval(
        "select count(*) from webhook_deliveries where webhook_id = $1 and status = 'pending'", uuid.UUID(ours["id"]))
    assert pending == 1


async def test_exports_download_with_the_session(console: Console, lakeside: World):
    page = console.page
    incident = lakeside.incident
    await console.sign_in(lakeside.viewer_key)  # every staff role exports
    await console.goto(f"#/incidents/{incident['id']}/exports")
    links = page.locator(".export-list a")
    await expect(links).to_have_count(7)
    async with page.expect_download() as waiting:
        await page.locator(".export-list").get_by_role("link", name="捐赠台账").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".csv")
    content = (await download.path()).read_text(encoding="utf-8-sig")
    lines = content.splitlines()
    assert lines[1].startswith("#"), lines[:2]  # the HXL hashtag row
    assert "LK-0001" in content  # the world's donation


async def test_a_viewer_sees_no_activity_tab_and_no_action(console: Console, lakeside: World,
                                                           conn: asyncpg.Connection):
    page = console.page
    await _webhooks(lakeside, conn)
    await console.sign_in(lakeside.viewer_key)
    incident = lakeside.incident["id"]
    await console.goto(f"#/incidents/{incident}/room")
    tabs = page.get_by_role("navigation", name="事件分区")
    await expect(tabs.get_by_role("link", name="数据导出")).to_be_visible()
    await expect(tabs.get_by_role("link", name="动态记录")).to_have_count(0)
    await console.goto(f"#/incidents/{incident}/activity")  # typed in: the room, not a refusal
    await expect(tabs.locator("a[aria-current=page]")).to_have_text("指挥总览")

    await console.goto("#/organizations")
    await expect(page.get_by_role("table", name="社会组织，最新登记的在前")).to_contain_text("Lakeside Rescue Team")
    await expect(page.locator("main button")).to_have_count(0)
    await expect(page.get_by_role("form")).to_have_count(0)

    await console.goto("#/webhooks")
    hook = page.locator("tr[data-owner=bureau]").get_by_role("link", name=re.compile("^查看投递记录"))
    await hook.click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    await expect(page.locator("tr[data-status=failed]")).to_have_count(1)
    await expect(page.locator("main button")).to_have_count(0)
    await expect(page.get_by_role("link", name="邮件通知")).to_have_count(0)


async def test_the_activity_trail_names_the_key_and_a_partial_delivery(console: Console, lakeside: World):
    page = console.page
    bureau, team = lakeside.dispatcher_api, lakeside.organization_api
    pledge = await team.post(f"/v1/calls/{lakeside.calls['goods']['id']}/pledges", {"quantity": "50"}, idempotent=True)
    await bureau.post(f"/v1/pledges/{pledge['id']}/accept")
    await team.post(f"/v1/pledges/{pledge['id']}/dispatch")
    await bureau.post(f"/v1/pledges/{pledge['id']}/deliver", {"quantity": "30"}, idempotent=True)
    await console.sign_in(lakeside.dispatcher_key)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/activity")
    trail = page.get_by_role("table", name="事件的动态记录，最新的在前")
    delivered = trail.locator("tr[data-event-type='pledge.delivered']").first
    await expect(delivered).to_contain_text("已送达 30 件（认捐 50 件，部分送达）")
    await expect(delivered).to_contain_text("night dispatcher")
    await expect(delivered).to_contain_text("调度员")
    dispatched = trail.locator("tr[data-event-type='pledge.dispatched']").first
    await expect(dispatched).to_contain_text("team system")


async def test_the_public_list_shows_open_incidents_with_units_and_yuan(console: Console, lakeside: World):
    page = console.page
    await console.open("/public")
    await expect(page.get_by_role("heading", level=1)).to_have_text("进行中的事件")
    await page.get_by_role("link", name="Lakeside flood").click()
    await page.locator("body[data-ready=true]").wait_for()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lakeside flood")
    calls = page.get_by_role("table", name="各项救援需求的送达进度")
    await expect(calls.get_by_role("row").filter(has_text="Life jackets")).to_contain_text("200 件")
    await expect(calls.get_by_role("row").filter(has_text="Emergency fund")).to_contain_text("¥100,000.00")


async def test_the_public_incidents_list_and_the_trails_key_names_through_the_api(lakeside: World, http, conn):
    """What the screens above read: /v1/public/incidents (no key, open incidents only, nothing personal) and
    the audit trail's actor with its key's name and prefix (never the secret)."""
    bureau = lakeside.dispatcher_api
    closed = await bureau.post("/v1/incidents", {
        "code": "2024-CLOSED", "title": "Closed one", "type": "fire", "severity": "IV", "regions": ["320506"],
        "started_at": "2024-06-01T00:00:00Z"})
    await bureau.post(f"/v1/incidents/{closed['id']}/close")
    async with http.get("/v1/public/incidents") as response:
        assert response.status == 200
        assert "public" in response.headers["Cache-Control"]
        listed = await response.json()
    assert [i["code"] for i in listed["items"]] == ["2024-LAKESIDE-FLOOD"]
    assert set(listed["items"][0]) >= {"incident_id", "code", "title", "type", "severity", "regions", "started_at"}
    async with http.get(f"/v1/public/incidents/{lakeside.incident['id']}") as response:
        calls = {c["title"]: c for c in (await response.json())["calls"]}
    assert (calls["Life jackets for the lake shore"]["unit"], calls["Emergency fund"]["currency"]) == ("piece", "CNY")
    assert calls["Emergency fund"]["unit"] is None

    trail = await bureau.get(f"/v1/incidents/{lakeside.incident['id']}/events")
    opened = next(e for e in trail["items"] if e["type"] == "incident.opened")
    assert opened["actor"]["key_name"] == "night dispatcher"
    assert bureau.key.startswith(opened["actor"]["key_prefix"]) and len(opened["actor"]["key_prefix"]) < len(bureau.key)
