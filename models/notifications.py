"""Notifications: what Relief emails, to whom (the rules), and the log of every message and attempt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from models.common import ListQuery, Output, Timestamp


@dataclass(frozen=True)
class RuleSpec:
    event_type: str  # the rule's name: the event it answers
    recipients: str
    description: str
    setting: str  # the Settings field that switches it (RELIEF_ + upper case)
    bureau: bool  # sent to the bureau's notification addresses (keys' notify_email)


# Every rule, in the order GET /v1/notification-rules lists them. No rule's message carries a
# resident's or a member's personal data: names of organizations and tasks, counts, links.
RULES: tuple[RuleSpec, ...] = (
    RuleSpec("alert.broadcast", "the contacts of the organizations the alert targets: those a matching subscription "
             "reaches and the approved volunteer teams whose region lies within the incident's",
             "an alert, its update or its cancel", "notify_alert_broadcast", False),
    RuleSpec("alert.escalated", "the contact of the team that did not acknowledge",
             "the alert again, once, to a targeted team that has not acknowledged it in time "
             "(RELIEF_ALERT_ESCALATE_MINUTES) while it is neither updated nor cancelled",
             "notify_alert_escalated", False),
    RuleSpec("task.assigned", "the team's lead: the roster's lead, else the pledge's lead",
             "a task given to a team", "notify_task_assigned", False),
    RuleSpec("pledge.reminded", "the pledging organization's contact",
             "an accepted pledge not dispatched by its call's deadline", "notify_pledge_reminded", False),
    RuleSpec("pledge.escalated", "the bureau's notification addresses",
             "a reminded pledge still not dispatched RELIEF_PLEDGE_NOTICE_MINUTES later",
             "notify_pledge_escalated", True),
    RuleSpec("webhook.failing", "the subscription's owner: the organization's contact, or the bureau's "
             "notification addresses for its own", "deliveries failing for RELIEF_WEBHOOK_FAILING_NOTICE_HOURS",
             "notify_webhook_failing", False),
    RuleSpec("webhook.disabled", "the subscription's owner, as for webhook.failing",
             "a subscription disabled (410 Gone, or failing for RELIEF_WEBHOOK_DISABLE_AFTER_HOURS)",
             "notify_webhook_disabled", False),
    RuleSpec("deployment.overdue", "the bureau's notification addresses",
             "a member still on site past the expected return plus the grace", "notify_deployment_overdue", True),
    RuleSpec("stock.low", "the bureau's notification addresses",
             "a location's stock of an item fell below its minimum", "notify_stock_low", True),
)
RULE_NAMES = tuple(rule.event_type for rule in RULES)


class Channel(StrEnum):
    email = "email"


class NotificationRule(Output):
    name: str = Field(description="The event type the rule answers", examples=["alert.broadcast"])
    channel: Channel = Channel.email
    recipients: str = Field(description="Who receives it")
    description: str
    enabled: bool = Field(description="False when its setting switched it off, or when no SMTP server is set")
    setting: str = Field(description="The environment setting that switches it", examples=["RELIEF_NOTIFY_STOCK_LOW"])


class NotificationRules(Output):
    email: bool = Field(description="An SMTP server is set (RELIEF_SMTP_HOST): email is sent at all")
    items: list[NotificationRule]


class NotificationStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Notification(Output):
    id: UUID = Field(description="Also the message's Message-ID: a retried message keeps it")
    rule: str = Field(description="The rule that sent it (GET /v1/notification-rules)")
    channel: Channel
    event_id: int = Field(description="The event it answers")
    incident_id: UUID | None
    organization_id: UUID | None = Field(description="The organization addressed; null for the bureau's own")
    recipient: str = Field(description="The address (whole for dispatchers and for the organization addressed)")
    language: str
    subject: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: Timestamp | None = Field(description="When a pending message is tried next")
    last_error: str | None
    delivered_at: Timestamp | None
    created_at: Timestamp


class NotificationAttempt(Output):
    number: int
    attempted_at: Timestamp
    smtp_code: int | None = Field(description="The SMTP server's reply code; null when it was not reached")
    error: str | None
    latency_ms: int | None


class NotificationDetail(Notification):
    body_text: str = Field(description="The plain-text part as sent (the HTML part says the same)")
    attempt_log: list[NotificationAttempt]


class NotificationQuery(ListQuery):
    status: NotificationStatus | None = None
    rule: str | None = Field(default=None, max_length=100, description="Only this rule's messages")
    incident_id: UUID | None = None
    organization_id: UUID | None = Field(default=None, description="Only messages to this organization (the bureau)")
    event_id: int | None = Field(default=None, ge=1, description="Only messages answering this event")
