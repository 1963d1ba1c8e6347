"""The email screen and an alert's reach in a real browser: a dispatcher reads the rules (SMTP unset: a banner
says no email is sent), the log with its status filter and paging, and one message's attempts; on the alerts
tab, each alert says which organizations it reached, by webhook and by email, who acknowledged and who was
escalated. A viewer reads the reach too, but has no Email link (the log is the dispatchers')."""

from __future__ import annotations

import re
import uuid

import asyncpg

from tests.console_world import Console, World, expect
from tests.test_console_i18n import _CATALOGUES, _check, _fragments

SUBJECT = "Relief alert: Embankment breach at pier 3"


async def _plant(world: World, conn: asyncpg.Connection) -> dict:
    """An alert the Lakeside team is a target of (its region moved inside the incident's), acknowledged and
    escalated, with its email delivered (one attempt), a failed bureau notice, and fifty more messages pending."""
    organization = uuid.UUID(world.organization["id"])
    await conn.execute("update organizations set region = '320506' where id = $1", organization)
    alert = await world.dispatcher_api.post(f"/v1/incidents/{world.incident['id']}/alerts", {
        "headline": "Embankment breach at pier 3", "instruction": "Boats to pier 3 now.", "category": "Met",
        "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
        "area": {"description": "Pier 3", "circle": "31.21,120.42 3"}})
    targets = await world.dispatcher_api.get(f"/v1/alerts/{alert['id']}/targets")
    assert [r["organization"]["name"] for r in targets["items"]] == ["Lakeside Rescue Team"]
    await world.organization_api.post(f"/v1/alerts/{alert['id']}/acks", {"status": "responding"})
    await conn.execute("update alert_targets set escalated_at = now() where alert_id = $1 and organization_id = $2",
                       uuid.UUID(alert["id"]), organization)
    event_id = await conn.fetchval("select event_id from alerts where id = $1", uuid.UUID(alert["id"]))
    incident = uuid.UUID(world.incident["id"])
    delivered = await conn.fetchval(
        """insert into notifications (event_id, rule, incident_id, organization_id, recipient, language, subject,
                                      body_text, body_html, status, attempts, delivered_at, created_at)
           values ($1, 'alert.broadcast', $2, $3, 'captain.wang@lakeside.example', 'zh', $4,
                   'Boats to pier 3 now.', '<p>Boats to pier 3 now.</p>', 'delivered', 1, now(), now())
           returning id""", event_id, incident, organization, SUBJECT)
    await conn.execute("insert into notification_attempts (notification_id, number, attempted_at, smtp_code, "
                       "latency_ms) values ($1, 1, now(), 250, 137)", delivered)
    await conn.execute(
        """insert into notifications (event_id, rule, incident_id, recipient, language, subject, body_text, body_html,
                                      status, attempts, last_error, created_at)
           values ($1, 'stock.low', $2, 'duty@bureau.example', 'en', 'Stock low at Harbour depot', 'Low.',
                   '<p>Low.</p>', 'failed', 3, '550 mailbox unavailable', now() - interval '1 minute')""",
        event_id, incident)
    await conn.execute(
        """insert into notifications (event_id, rule, incident_id, organization_id, recipient, language, subject,
                                      body_text, body_html, created_at)
           select $1, 'alert.broadcast', $2, $3, 'member' || n || '@lakeside.example', 'en', 'Older message ' || n,
                  'Older.', '<p>Older.</p>', now() - interval '1 hour' - n * interval '1 second'
             from generate_series(1, 50) n""", event_id, incident, organization)
    return alert


async def test_a_dispatcher_reads_the_email_log_and_an_alerts_reach(console: Console, lakeside: World,
                                                                   conn: asyncpg.Connection):
    page = console.page
    alert = await _plant(lakeside, conn)
    await console.sign_in(lakeside.dispatcher_key)
    await page.get_by_role("navigation", name="调度台").get_by_role("link", name="邮件通知").click()
    await page.locator("main > .screen[data-ready=true]").wait_for()
    await expect(page.get_by_role("heading", level=1)).to_have_text("邮件通知")
    await expect(page.get_by_text("未配置 SMTP：不发送邮件 (RELIEF_SMTP_HOST)")).to_be_visible()

    rules = page.get_by_role("table", name="哪些事会发邮件、发给谁")
    broadcast = rules.get_by_role("row").filter(has_text="alert.broadcast")
    await expect(broadcast).to_contain_text("发布预警")
    await expect(broadcast).to_contain_text("关闭")  # no SMTP server: every rule is off
    await expect(broadcast).to_contain_text("RELIEF_NOTIFY_ALERT_BROADCAST")
    await expect(rules.get_by_role("row").filter(has_text="alert.escalated")).to_contain_text("预警未确认·再次提醒")

    log = page.get_by_role("table", name="邮件发送记录，最新的在前")
    await expect(log.get_by_role("row")).to_have_count(51)  # the header and the first 50 of 52
    sent = log.get_by_role("row").nth(1)
    await expect(sent).to_contain_text(SUBJECT)
    await expect(sent).to_contain_text("captain.wang@lakeside.example")
    await expect(sent).to_contain_text("已送达")
    await expect(sent).to_contain_text("发布预警")
    failed = log.get_by_role("row").nth(2)
    await expect(failed).to_contain_text("发送失败")
    await expect(failed).to_contain_text("550 mailbox unavailable")
    await expect(failed).to_contain_text("库存不足")
    more = page.get_by_role("button", name="加载更多")
    await more.click()
    await expect(log.get_by_role("row")).to_have_count(53)
    await expect(more).to_be_hidden()

    await page.get_by_label("状态", exact=True).select_option("failed")
    await expect(log.get_by_role("row")).to_have_count(2)
    await expect(log.get_by_role("row").nth(1)).to_contain_text("duty@bureau.example")
    await page.get_by_label("状态", exact=True).select_option("")
    await expect(log.get_by_role("row")).to_have_count(51)

    await log.get_by_role("row").filter(has_text=SUBJECT).click()
    detail = page.get_by_role("region", name=f"发送尝试：{SUBJECT}")
    attempts = detail.get_by_role("table", name=f"“{SUBJECT}”的每次发送尝试")
    await expect(attempts.get_by_role("row")).to_have_count(2)
    await expect(attempts.get_by_role("row").nth(1)).to_contain_text("250")
    await expect(attempts.get_by_role("row").nth(1)).to_contain_text("137")
    await expect(log.get_by_role("button", name=f"查看“{SUBJECT}”的发送尝试")).to_have_attribute(
        "aria-expanded", "true")
    await console.screenshot("notifications-zh")

    zh, en = await page.evaluate(_CATALOGUES)
    await page.get_by_role("button", name="切换为英文界面").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Email notifications")
    await expect(page.get_by_text("SMTP is not configured: no email is sent (RELIEF_SMTP_HOST)")).to_be_visible()
    english = page.get_by_role("table", name="Email sent, newest first")
    await english.get_by_role("row").filter(has_text=SUBJECT).click()
    await expect(page.get_by_role("region", name=f"Attempts: {SUBJECT}")).to_contain_text("250")
    await _check(console, _fragments(zh, en), "email screen")
    await page.get_by_role("button", name="中文: switch the interface to Chinese").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("邮件通知")

    # The alert's reach: the team, its email delivered, its answer, its escalation.
    await console.goto(f"#/incidents/{lakeside.incident['id']}/alerts")
    card = page.get_by_role("article", name="Embankment breach at pier 3")
    await expect(card).to_contain_text("发送对象 1 · 已送达 1 · 已确认 1 · 已升级提醒 1")
    reach = card.get_by_role("table", name=re.compile("^“Embankment breach at pier 3”发给了哪些组织"))
    team = reach.get_by_role("row").filter(has_text="Lakeside Rescue Team")
    await expect(team).to_have_attribute("data-email", "delivered")
    await expect(team).to_have_attribute("data-webhook", "none")
    await expect(team).to_contain_text("已送达")
    await expect(team).to_contain_text("未发送")  # no subscription: no webhook
    await expect(team).to_contain_text("正在响应")
    await expect(team).to_contain_text("提醒邮件：未发送")
    # The world's first alert (a circle, before the team's region moved) was sent to nobody.
    first = page.get_by_role("article", name="Lake shore flooding")
    await expect(first).to_contain_text("发送对象 0 · 已送达 0 · 已确认 0 · 已升级提醒 0")
    await expect(first).to_contain_text("这条预警没有发送对象。")
    assert alert["id"] == await card.get_attribute("data-alert-id")


async def test_a_viewer_reads_the_reach_but_has_no_email_link(console: Console, lakeside: World,
                                                              conn: asyncpg.Connection):
    page = console.page
    await _plant(lakeside, conn)
    await console.sign_in(lakeside.viewer_key)
    await expect(page.get_by_role("heading", level=1)).to_have_text("事件")
    await expect(page.get_by_role("link", name="邮件通知")).to_have_count(0)
    await console.goto(f"#/incidents/{lakeside.incident['id']}/alerts")
    card = page.get_by_role("article", name="Embankment breach at pier 3")
    await expect(card).to_contain_text("发送对象 1 · 已送达 1 · 已确认 1 · 已升级提醒 1")
    await expect(page.get_by_role("form", name="发布预警")).to_have_count(0)
    # Typed in by hand, the route says whose screen it is, and asks the API nothing (it would answer 403).
    await console.goto("#/notifications")
    await expect(page.get_by_text("只有调度员和管理员可以查看邮件通知。")).to_be_visible()
    await expect(page.get_by_role("table")).to_have_count(0)
