-- Alerts a dispatcher broadcasts (CAP 1.2 fields), and the teams' acknowledgements.

-- An alert is never edited: an update or a cancel is a new alert that references the earlier one, as in
-- CAP, so every row is exactly what was sent.
create table alerts (
    id                uuid primary key,
    incident_id       uuid not null references incidents (id),
    -- CAP identifier; derived from the id so that it is unique and never changes.
    identifier        text generated always as ('urn:uuid:' || id::text) stored,
    -- The CAP sender when it was broadcast: later alerts quote it in their references, so a change
    -- of RELIEF_CAP_SENDER must not rewrite what was sent.
    sender            text not null check (sender ~ '^[^\s,<&]+$'),
    -- CAP's sent has no fractions of a second; stored as rendered, so JSON and CAP agree.
    sent_at           timestamptz not null check (sent_at = date_trunc('second', sent_at)),
    status            text not null check (status in ('Actual', 'Exercise', 'Test')),
    msg_type          text not null check (msg_type in ('Alert', 'Update', 'Cancel')),
    references_id     uuid references alerts (id),
    -- The first alert of the chain of updates this one belongs to (its own id for an Alert): one row to
    -- lock so that an update and a cancel of the same chain do not cross, and one index to ask
    -- "was this chain cancelled?".
    thread_id         uuid not null references alerts (id),
    language          text not null default 'zh-CN',
    headline          text not null check (length(headline) between 1 and 160),
    description       text not null default '' check (length(description) <= 5000),
    instruction       text not null default '' check (length(instruction) <= 5000),
    event             text not null check (length(event) between 1 and 200),
    category          text not null,
    urgency           text not null,
    severity          text not null,
    certainty         text not null,
    response_type     text,
    area_description  text not null check (length(area_description) between 1 and 500),
    polygon           text,
    circle            text,
    geocodes          jsonb not null default '[]' check (jsonb_typeof(geocodes) = 'array'),
    -- The id of its alert.broadcast event: the webhook deliveries of that event are "who it was sent
    -- to". Null only between the insert and the emit, inside the transaction that creates the alert.
    event_id          bigint references events (id),
    created_by        uuid,
    version           integer not null default 1,
    created_at        timestamptz not null default now(),
    check ((msg_type = 'Alert') = (references_id is null)),
    check ((msg_type = 'Alert') = (thread_id = id)),
    check (polygon is not null or circle is not null or jsonb_array_length(geocodes) > 0)
);
create index alerts_incident on alerts (incident_id, created_at desc, id desc);
create index alerts_thread on alerts (thread_id) where msg_type = 'Cancel';

-- One acknowledgement per organization per alert: a team that changes its answer (received, then
-- responding) updates its row, so the dispatcher sees the latest answer and no double count.
create table alert_acks (
    id               uuid primary key default gen_random_uuid(),
    alert_id         uuid not null references alerts (id),
    organization_id  uuid not null references organizations (id),
    status           text not null check (status in ('received', 'responding', 'unable')),
    note             text not null default '' check (length(note) <= 2000),
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (alert_id, organization_id)
);
create index alert_acks_alert on alert_acks (alert_id, created_at desc, id desc);
