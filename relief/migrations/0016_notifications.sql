-- Issue 15: reaching people by email, escalation, and a paced subscription.

-- Who reads what language: an organization's messages, a key's (bureau staff) messages.
alter table organizations add column language text not null default 'zh' check (language in ('zh', 'en'));
alter table api_keys add column language text not null default 'zh' check (language in ('zh', 'en'));
-- Bureau staff (keys without an organization) may name an address for the bureau's notices.
alter table api_keys add column notify_email text check (notify_email is null or length(notify_email) <= 254);
alter table api_keys add constraint api_keys_notify_email_staff check (notify_email is null or organization_id is null);

-- A team lead's (a roster member's) email, for the tasks given to the team (a pledge's lead keeps
-- its email in pledges.lead, a jsonb).
alter table roster_members add column email text check (email is null or length(email) <= 254);

-- Who an alert was sent to, fixed in the broadcast's transaction: the organizations a matching
-- subscription reaches and the approved volunteer teams whose region lies within the incident's. The
-- acks' not_acknowledged, the email and the escalation all read this one set.
create table alert_targets (
    alert_id            uuid not null references alerts (id),
    organization_id     uuid not null references organizations (id),
    -- An alert not acknowledged in time is sent again and marked, once (notifications/escalation).
    escalated_at        timestamptz,
    escalation_event_id bigint references events (id),
    primary key (alert_id, organization_id)
);
create index alert_targets_waiting on alert_targets (alert_id) where escalated_at is null;

-- What a broadcast before this migration reached: the owners of its webhook deliveries (the old rule).
insert into alert_targets (alert_id, organization_id)
select distinct a.id, w.organization_id
  from alerts a join webhook_deliveries d on d.event_id = a.event_id join webhooks w on w.id = d.webhook_id
 where w.organization_id is not null
on conflict do nothing;
-- Old alerts are not escalated now, whatever their age.
update alert_targets set escalated_at = now();

-- An accepted pledge not dispatched by its call's deadline: a reminder to its organization, then a
-- notice to the bureau. Each once: the stamp is set in the transaction that writes its event.
alter table pledges add column reminded_at timestamptz, add column bureau_notified_at timestamptz;
create index pledges_awaiting_dispatch on pledges (call_id) where status = 'accepted' and bureau_notified_at is null;

-- An optional pace per subscription (deliveries per second), shared by every worker through
-- rate_next_at: no claim of its deliveries before then.
alter table webhooks add column rate_limit numeric check (rate_limit is null or (rate_limit > 0 and rate_limit <= 1000)),
                     add column rate_next_at timestamptz,
                     -- webhook.failing raised for the current run of failures (cleared by a success)
                     add column failing_noticed_at timestamptz;

-- Email messages: one per (event, rule, recipient), rendered when the event is fanned out, sent by the
-- workers at least once on the webhooks' retry schedule, each attempt logged.
create table notifications (
    id              uuid primary key default gen_random_uuid(),
    event_id        bigint not null references events (id),
    rule            text not null,
    channel         text not null default 'email' check (channel in ('email')),
    incident_id     uuid references incidents (id),
    -- Whose log it is in: the organization addressed, or null for the bureau's own notices.
    organization_id uuid references organizations (id),
    recipient       text not null check (length(recipient) between 3 and 254),
    language        text not null check (language in ('zh', 'en')),
    subject         text not null,
    body_text       text not null,
    body_html       text not null,
    status          text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    claimed_by      bigint,
    claimed_until   timestamptz,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (event_id, rule, recipient)
);
create index notifications_due on notifications (next_attempt_at) where status = 'pending';
create index notifications_created on notifications (created_at desc, id desc);
create index notifications_organization on notifications (organization_id, created_at desc, id desc);

create table notification_attempts (
    notification_id uuid not null references notifications (id) on delete cascade,
    number          integer not null,
    attempted_at    timestamptz not null,
    worker          bigint,
    smtp_code       integer,
    error           text,
    latency_ms      integer,
    primary key (notification_id, number)
);

comment on table notifications is 'Email sent by the notification rules (GET /v1/notification-rules), at least once';
