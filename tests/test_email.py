"""Reaching people by email (issue 15, items 1–3): the rules, the SMTP outbox, escalation.

A local SMTP server (aiosmtpd) stands in for the bureau's; the delivery worker runs with a clock the
test moves, and the escalation steps are called with an explicit `now`, as the overdue watch calls them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from models.keys import Role
from notifications.worker import Worker
from relief import db, escalations, overdue
from tests.conftest import Api, Org, _key, incident_body, organization_body
from tests.pledge_world import open_incident, personnel_call, personnel_pledge
from tests.ports import free_port
from tests.test_alerts import alert_body
from tests.test_matching import credit_code
from tests.webhook_world import subscribe


class Inbox:
    """An SMTP server that keeps what it is sent; stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.controller: Controller | None = None
        self.refused: set[str] = set()  # addresses answered 550

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # aiosmtpd's name
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        # The stand-in server is not ours: its own log of every RCPT TO is no leak of the service's.
        logging.getLogger("mail.log").propagate = False
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]


@pytest.fixture
def inbox():
    box = Inbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
async def mailer(settings, database_url, clock, inbox):
    """A delivery worker that sends email to the inbox."""
    mail_settings = settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": inbox.port, "smtp_tls": "none",
        "smtp_sender": "Relief 苏州 <relief@mzj.suzhou.example>", "public_url": "https://relief.example.gov.cn",
    })
    worker = Worker(mail_settings, database_url, clock=clock)
    await worker.start()
    yield worker
    await worker.close()


async def ok(response, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


NAMES = ("苏州蓝天救援队", "广州志愿者联合会", "Blue Sky Foundation", "吴中义工队")


async def team(dispatcher: Api, conn, index: int, *, approve: bool = True, **overrides: Any) -> Org:
    body = organization_body(0, credit_code=credit_code(index), name=f"{NAMES[index]}", **overrides)
    made = await ok(await dispatcher.post("/v1/organizations", json=body), 201)
    if approve:
        await ok(await dispatcher.post(f"/v1/organizations/{made['id']}/approve"))
    key = await _key(conn, Role.organization, uuid.UUID(made["id"]))
    return Org(made["id"], Api(dispatcher.client, key, made["id"]), made)


async def world(dispatcher: Api, conn) -> dict[str, Any]:
    """An incident in Suzhou; a volunteer team there (targeted by region), one in Guangzhou (not), and
    a foundation elsewhere reading English with a subscription to alerts (targeted by it)."""
    incident = await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201)
    local = await team(dispatcher, conn, 0, contact={
        "name": "王队长", "phone": "13912345678", "email": "lantian@team.example.cn"})
    far = await team(dispatcher, conn, 1, region="440100", contact={
        "name": "陈队长", "phone": "13922223333", "email": "far@team.example.cn"})
    sub = await team(dispatcher, conn, 2, region="440100", kind="foundation", language="en", contact={
        "name": "Ms Li", "phone": "13933334444", "email": "ops@foundation.example.org"})
    return {"incident": incident, "local": local, "far": far, "sub": sub}


def body_of(message: EmailMessage, subtype: str = "plain") -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()


async def test_an_alert_reaches_the_targeted_inboxes_once(dispatcher, conn, mailer, inbox, receiver, clock):
    w = await world(dispatcher, conn)
    await subscribe(w["sub"].api, receiver.url("/alerts"), event_types=["alert.*"])
    alert = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)

    await mailer.tick()
    await mailer.tick()  # nothing more: each message once
    assert sorted(m["X-Envelope-To"] for m in inbox.messages) == ["lantian@team.example.cn",
                                                                  "ops@foundation.example.org"]
    zh, en = inbox.to("lantian@team.example.cn")[0], inbox.to("ops@foundation.example.org")[0]
    assert zh["Subject"].startswith("【预警】台风杜苏芮") and en["Subject"].startswith("[Alert] ")
    assert zh["From"] == "Relief 苏州 <relief@mzj.suzhou.example>"
    assert zh["Message-ID"].endswith("@mzj.suzhou.example>")
    text, html = body_of(zh), body_of(zh, "html")
    assert "太湖水位持续上涨" in text and f"https://relief.example.gov.cn/v1/alerts/{alert['id']}/acks" in text
    # The instruction's "&" and "<必须>" are text in the HTML part, not markup.
    assert "& 听从现场指挥 <必须>" in text and "&amp; 听从现场指挥 &lt;必须&gt;" in html
    assert f'href="https://relief.example.gov.cn/#/incidents/{w["incident"]["id"]}/alerts"' in html
    assert "What to do:" in body_of(en)
    for message in inbox.messages:  # no one's phone travels by email
        assert "1391234" not in message.as_string() and "1393333" not in message.as_string()

    log = await ok(await dispatcher.get("/v1/notifications"))
    assert {(n["rule"], n["recipient"], n["status"], n["attempts"]) for n in log["items"]} == {
        ("alert.broadcast", "lantian@team.example.cn", "delivered", 1),
        ("alert.broadcast", "ops@foundation.example.org", "delivered", 1),
    }
    own = await ok(await w["local"].api.get("/v1/notifications"))
    assert [n["recipient"] for n in own["items"]] == ["lantian@team.example.cn"]
    assert (await w["far"].api.get(f"/v1/notifications/{log['items'][0]['id']}")).status == 404
    detail = await ok(await dispatcher.get(f"/v1/notifications/{own['items'][0]['id']}"))
    assert detail["attempt_log"][0]["smtp_code"] == 250 and "太湖水位" in detail["body_text"]

    targets = await ok(await dispatcher.get(f"/v1/alerts/{alert['id']}/targets"))
    reach = {t["organization"]["id"]: (t["webhook"], t["email"], t["ack_status"]) for t in targets["items"]}
    assert reach == {w["local"].id: ("none", "delivered", None), w["sub"].id: ("delivered", "delivered", None)}
    acks = await ok(await dispatcher.get(f"/v1/alerts/{alert['id']}/acks"))
    assert {o["id"] for o in acks["not_acknowledged"]} == {w["local"].id, w["sub"].id}
    assert (await w["local"].api.get(f"/v1/alerts/{alert['id']}/targets")).status == 403


async def test_a_team_that_does_not_acknowledge_is_escalated_once(dispatcher, conn, mailer, inbox, clock):
    w = await world(dispatcher, conn)
    await subscribe(w["sub"].api, "http://127.0.0.1:9/never", event_types=["alert.broadcast"])
    alert = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)
    await ok(await w["local"].api.post(f"/v1/alerts/{alert['id']}/acks", json={"status": "responding"}))
    await mailer.tick()
    sent_at = datetime.fromisoformat(alert["created_at"].replace("Z", "+00:00"))

    assert await escalations.escalate_alerts(conn, delay=900, now=sent_at + timedelta(minutes=14)) == []
    raised = await escalations.escalate_alerts(conn, delay=900, now=sent_at + timedelta(minutes=16))
    assert [str(r["organization_id"]) for r in raised] == [w["sub"].id]  # the team that answered is not
    assert await escalations.escalate_alerts(conn, delay=900, now=sent_at + timedelta(hours=3)) == []

    await mailer.tick()
    again = inbox.to("ops@foundation.example.org")
    assert len(again) == 2 and again[1]["Subject"].startswith("[Reminder: not acknowledged]")
    assert len(inbox.to("lantian@team.example.cn")) == 1
    targets = {t["organization"]["id"]: t for t in
               (await ok(await dispatcher.get(f"/v1/alerts/{alert['id']}/targets")))["items"]}
    assert targets[w["sub"].id]["escalated_at"] and targets[w["sub"].id]["escalation_email"] == "delivered"
    assert targets[w["local"].id]["escalated_at"] is None and targets[w["local"].id]["ack_status"] == "responding"
    events = await conn.fetch("select organization_id from events where type = 'alert.escalated'")
    assert [str(e["organization_id"]) for e in events] == [w["sub"].id]


async def test_an_alert_updated_or_cancelled_meanwhile_is_not_escalated(dispatcher, conn):
    w = await world(dispatcher, conn)
    incident_id = w["incident"]["id"]
    first = await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body()), 201)
    update = await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body(
        msg_type="Update", references=first["id"], headline="更新：转移范围扩大")), 201)
    other = await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body(
        headline="另一条")), 201)
    await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=alert_body(
        msg_type="Cancel", references=other["id"])), 201)
    later = datetime.now(UTC) + timedelta(hours=1)
    raised = await escalations.escalate_alerts(conn, delay=900, now=later)
    assert {str(r["alert_id"]) for r in raised} == {update["id"]}


async def test_mail_waits_out_an_smtp_outage_and_arrives_once(dispatcher, conn, mailer, inbox, clock):
    w = await world(dispatcher, conn)
    inbox.stop()
    await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    await mailer.tick()
    pending = await conn.fetch("select status, attempts, last_error from notifications")
    assert [(r["status"], r["attempts"]) for r in pending] == [("pending", 1)]
    assert "onnect" in pending[0]["last_error"]
    clock.advance(seconds=10)
    await mailer.tick()  # still down: the schedule's next wait is 5 minutes
    assert [r["attempts"] for r in await conn.fetch("select attempts from notifications")] == [2]

    inbox.start()
    await mailer.tick()
    assert inbox.messages == []  # not due yet: the schedule holds, as for webhooks
    clock.advance(minutes=6)
    await mailer.tick()
    clock.advance(hours=2)
    await mailer.tick()
    assert [m["X-Envelope-To"] for m in inbox.messages] == ["lantian@team.example.cn"]
    attempts = await conn.fetch("select number, smtp_code, error from notification_attempts order by number")
    assert [(a["number"], a["smtp_code"]) for a in attempts] == [(1, None), (2, None), (3, 250)]


async def test_a_late_pledge_reminds_its_organization_then_tells_the_bureau(dispatcher, admin, conn, mailer, inbox):
    w = await world(dispatcher, conn)
    duty = await ok(await admin.post("/v1/keys", json={"name": "值班室", "role": "viewer",
                                                        "notify_email": "duty@mzj.suzhou.example"}), 201)
    assert duty["notify_email"] == "duty@mzj.suzhou.example"
    deadline = datetime.now(UTC) + timedelta(hours=2)
    call = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/calls", json={
        "kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500",
        "status": "open", "deadline": deadline.isoformat()}), 201)
    made = await ok(await w["local"].api.post(f"/v1/calls/{call['id']}/pledges", json={"quantity": "100"},
                                              headers={"Idempotency-Key": "late-1"}), 201)
    await ok(await dispatcher.post(f"/v1/pledges/{made['id']}/accept"))

    assert await escalations.remind_pledges(conn, now=deadline - timedelta(minutes=1)) == []
    assert len(await escalations.remind_pledges(conn, now=deadline + timedelta(seconds=1))) == 1
    assert await escalations.remind_pledges(conn, now=deadline + timedelta(hours=1)) == []
    reminded = deadline + timedelta(seconds=1)
    assert await escalations.escalate_pledges(conn, notice=3600, now=reminded + timedelta(minutes=30)) == []
    assert len(await escalations.escalate_pledges(conn, notice=3600, now=reminded + timedelta(minutes=61))) == 1
    assert await escalations.escalate_pledges(conn, notice=3600, now=reminded + timedelta(hours=5)) == []

    await mailer.tick()
    reminder, = inbox.to("lantian@team.example.cn")
    assert reminder["Subject"].startswith("【发运提醒】“救生衣”已过截止时间")
    assert f"/v1/pledges/{made['id']}/dispatch" in body_of(reminder)
    notice, = inbox.to("duty@mzj.suzhou.example")
    assert "认捐逾期未发运" in notice["Subject"] and w["local"].body["name"] in notice["Subject"]
    types = [r["type"] for r in await conn.fetch(
        "select type from events where type like 'pledge.%' and entity_id = $1 order by id", made["id"])]
    assert types[-2:] == ["pledge.reminded", "pledge.escalated"]


async def test_a_dispatched_pledge_is_not_reminded(dispatcher, conn):
    w = await world(dispatcher, conn)
    deadline = datetime.now(UTC) + timedelta(hours=2)
    call = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/calls", json={
        "kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500",
        "status": "open", "deadline": deadline.isoformat()}), 201)
    made = await ok(await w["local"].api.post(f"/v1/calls/{call['id']}/pledges", json={"quantity": "100"},
                                              headers={"Idempotency-Key": "late-2"}), 201)
    await ok(await dispatcher.post(f"/v1/pledges/{made['id']}/accept"))
    await ok(await w["local"].api.post(f"/v1/pledges/{made['id']}/dispatch", json={}))
    assert await escalations.remind_pledges(conn, now=deadline + timedelta(hours=1)) == []


async def test_the_rules_say_what_is_sent_and_whether_it_is_on(dispatcher, viewer):
    rules = await ok(await dispatcher.get("/v1/notification-rules"))
    assert rules["email"] is False  # the suite's app has no SMTP server: nothing is on
    assert [r["name"] for r in rules["items"]] == [
        "alert.broadcast", "alert.escalated", "task.assigned", "pledge.reminded", "pledge.escalated",
        "webhook.failing", "webhook.disabled", "deployment.overdue", "stock.low"]
    assert {r["enabled"] for r in rules["items"]} == {False}
    assert rules["items"][-1]["setting"] == "RELIEF_NOTIFY_STOCK_LOW"
    assert (await viewer.get("/v1/notification-rules")).status == 403


@pytest.mark.parametrize("settings", [{"smtp_host": "127.0.0.1", "notify_stock_low": False}], indirect=True)
async def test_a_rule_switched_off_by_its_setting(dispatcher):
    rules = {r["name"]: r["enabled"] for r in (await ok(await dispatcher.get("/v1/notification-rules")))["items"]}
    assert rules["stock.low"] is False and rules["alert.broadcast"] is True


async def test_a_volunteer_team_outside_the_incident_is_not_targeted(dispatcher, conn):
    w = await world(dispatcher, conn)
    pending = await team(dispatcher, conn, 3, approve=False)  # in Suzhou, but not approved
    alert = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)
    targeted = {t["organization"]["id"] for t in
                (await ok(await dispatcher.get(f"/v1/alerts/{alert['id']}/targets")))["items"]}
    assert targeted == {w["local"].id}
    assert pending.id not in targeted and pending.body["region"] == "320500"


async def test_a_subscription_failing_for_an_hour_tells_its_owner_once(dispatcher, conn, mailer, inbox, clock,
                                                                        receiver):
    w = await world(dispatcher, conn)
    hook = await subscribe(w["local"].api, receiver.url("/down"), event_types=["incident.updated"])
    receiver.answers["/down"] = [500] * 20
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    await ok(await dispatcher.patch(f"/v1/incidents/{w['incident']['id']}", json={"severity": "I"},
                                    headers={"If-Match": '"1"'}))
    await mailer.tick()
    for minutes in (1, 6, 31, 121, 300):  # the retry schedule: 5 s, 5 min, 30 min, 2 h…
        clock.now = clock.now + timedelta(minutes=minutes)
        await mailer.tick()
    await mailer.tick()  # the notice raised by the last failure is fanned out, and its email sent
    told = await conn.fetch("select type from events where type = 'webhook.failing' and entity_id = $1",
                            uuid.UUID(hook["id"]))
    assert len(told) == 1
    message, = inbox.to("lantian@team.example.cn")
    assert message["Subject"].startswith("【订阅投递失败】")
    assert f"/v1/webhooks/{hook['id']}/recover" in body_of(message)


async def test_the_deadline_loop_escalates_on_time(dispatcher, conn, database_url):
    """The overdue watch every replica runs raises the escalation, within its sleep of the deadline."""
    w = await world(dispatcher, conn)
    alert = await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)
    pool = await db.create_pool(database_url, min_size=0, max_size=2, timeout=5)
    watch = overdue.OverdueWatch(pool, database_url, grace=0, poll_seconds=30,
                                 delays=escalations.Delays(alert_seconds=1.5, pledge_notice_seconds=60))
    task = asyncio.create_task(watch.run())
    try:
        for _ in range(100):  # it sleeps until the earliest deadline (1.5 s after the broadcast), not its 30 s
            await asyncio.sleep(0.1)
            if await conn.fetchval("select count(*) from events where type = 'alert.escalated'"):
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    escalated = await conn.fetch("select alert_id, escalated_at from alert_targets where escalated_at is not null")
    assert [str(r["alert_id"]) for r in escalated] == [alert["id"]]
    waited = (escalated[0]["escalated_at"] - datetime.fromisoformat(alert["created_at"])).total_seconds()
    assert 1.5 <= waited < 5


async def test_a_task_reaches_the_team_lead_and_an_overdue_member_the_bureau_naming_no_one(
    dispatcher, admin, conn, mailer, inbox
):
    await ok(await admin.post("/v1/keys", json={"name": "值班室", "role": "dispatcher",
                                                "notify_email": "duty@mzj.suzhou.example"}), 201)
    incident = await open_incident(dispatcher)
    call = (await ok(await dispatcher.post(f"/v1/incidents/{incident}/calls", json=personnel_call()), 201))["id"]
    roster_led = await team(dispatcher, conn, 0)
    pledge_led = await team(dispatcher, conn, 1)
    teams = []
    for org, lead_email, roster_email in ((roster_led, None, "lead@lantian.example.cn"),
                                          (pledge_led, "li@gz.example.cn", None)):
        lead = {"name": "李队长", "phone": "13900001111", **({"email": lead_email} if lead_email else {})}
        made = await ok(await org.api.post(f"/v1/calls/{call}/pledges", json=personnel_pledge(headcount=2, lead=lead),
                                           headers={"Idempotency-Key": str(uuid.uuid4())}), 201)
        await ok(await dispatcher.post(f"/v1/pledges/{made['id']}/accept"))
        people = [{"name": "张伟", "phone": "13700001001", "role": "lead",
                   **({"email": roster_email} if roster_email else {})},
                  {"name": "刘洋", "phone": "13700001002"}]
        if org is pledge_led:
            people = [{"name": "陈杰", "phone": "13700002001"}, {"name": "赵敏", "phone": "13700002002"}]
        roster = await ok(await org.api.put(f"/v1/pledges/{made['id']}/roster", headers={"If-Match": '"0"'},
                                            json={"members": people}))
        teams.append((org, made["id"], [m["id"] for m in roster["members"]]))
    task = (await ok(await dispatcher.post(f"/v1/incidents/{incident}/tasks", json={
        "title": "东山镇沿湖村庄搜救", "skill": "boat_rescue", "headcount": 4,
        "area": {"description": "吴中区东山镇", "point": "31.07,120.36", "region": "320506"}}), 201))["id"]
    for org, pledge_id, _ in teams:
        assignment = await ok(await dispatcher.post(f"/v1/tasks/{task}/assignments", json={"pledge_id": pledge_id}),
                              201)
        await ok(await org.api.post(f"/v1/assignments/{assignment['id']}/accept"))
    org, _, members = teams[0]
    back = datetime.now(UTC) + timedelta(minutes=30)
    await ok(await org.api.post(f"/v1/tasks/{task}/checkins", json={"members": members[:1],
                                                                      "expected_back_at": back.isoformat()}), 201)
    raised = await overdue.raise_due(conn, grace=0, now=back + timedelta(minutes=1))
    assert len(raised) == 1

    await mailer.tick()
    assigned, = inbox.to("lead@lantian.example.cn")
    assert assigned["Subject"].startswith("【任务指派】东山镇沿湖村庄搜救")
    assert inbox.to("li@gz.example.cn")[0]["Subject"].startswith("【任务指派】")
    alarm, = inbox.to("duty@mzj.suzhou.example")
    assert alarm["Subject"].startswith("【人员逾期未归】") and "东山镇沿湖村庄搜救" in alarm["Subject"]
    for message in inbox.messages:  # a member is never named, nor their phone sent
        text = message.as_string() + body_of(message) + body_of(message, "html")
        for private in ("张伟", "刘洋", "陈杰", "赵敏", "137000", "13900001111"):
            assert private not in text


async def test_an_address_the_server_refuses_is_failed_not_retried(dispatcher, conn, mailer, inbox, clock):
    w = await world(dispatcher, conn)
    inbox.refused.add("lantian@team.example.cn")
    await ok(await dispatcher.post(f"/v1/incidents/{w['incident']['id']}/alerts", json=alert_body()), 201)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    await mailer.tick()
    clock.advance(hours=1)
    await mailer.tick()
    rows = await conn.fetch("select status, attempts, last_error from notifications order by recipient")
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1)]
    assert rows[0]["last_error"].startswith("refused: 550")
    assert inbox.messages == []
