-- Webhook subscriptions, the fan-out queue and the delivery log.

create table webhooks (
    id                          uuid primary key default gen_random_uuid(),
    -- The owner: an organization, or null for the bureau's own systems (created by a dispatcher).
    -- A subscription receives only what its owner may read through the API.
    organization_id             uuid references organizations (id),
    url                         text not null check (length(url) between 1 and 2000),
    -- host:port of the URL: deliveries are limited per destination, so one slow team stalls no other.
    destination                 text not null,
    description                 text not null default '' check (length(description) <= 500),
    event_types                 text[] not null check (cardinality(event_types) between 1 and 50),
    incidents                   uuid[] not null default '{}',
    regions                     text[] not null default '{}',
    skills                      text[] not null default '{}',
    status                      text not null default 'active' check (status in ('active', 'paused', 'disabled')),
    disabled_reason             text,
    -- whsec_ secrets, sealed with AES-GCM under a key derived from RELIEF_SECRET_KEY; after a rotation
    -- the previous one also signs until previous_secret_expires_at.
    secret                      bytea not null,
    previous_secret             bytea,
    previous_secret_expires_at  timestamptz,
    -- Set by the first failed attempt after a success; a subscription failing for long is disabled.
    failing_since               timestamptz,
    created_by_key_id           uuid,
    version                     integer not null default 1,
    created_at                  timestamptz not null default now(),
    updated_at                  timestamptz not null default now(),
    check ((status = 'disabled') = (disabled_reason is not null)),
    check ((previous_secret is null) = (previous_secret_expires_at is null))
);
create index webhooks_organization on webhooks (organization_id, created_at desc, id desc);

-- Events not yet fanned out. A trigger queues every event in the transaction that writes it, so a
-- committed event is always either here or already turned into deliveries; workers claim rows with
-- FOR UPDATE SKIP LOCKED and delete them in the transaction that inserts the deliveries.
create table webhook_outbox (
    event_id  bigint primary key
);

create function webhook_outbox_enqueue() returns trigger language plpgsql as $$
begin
    insert into webhook_outbox (event_id) values (new.id);
    -- A wake-up for LISTENing workers and live streams (delivered at commit; both also poll, so one lost
    -- notification only delays). The incident lets a stream wake only for its own incident.
    perform pg_notify('relief_events', coalesce(new.incident_id::text, ''));
    return null;
end $$;

create trigger events_enqueue_webhooks after insert on events
    for each row execute function webhook_outbox_enqueue();

-- One row per (subscription, event): the unique pair makes fan-out idempotent, and its id is the
-- webhook-id header, the same on every attempt, so receivers deduplicate.
create table webhook_deliveries (
    id               uuid primary key default gen_random_uuid(),
    webhook_id       uuid not null references webhooks (id) on delete cascade,
    event_id         bigint not null references events (id),
    event_type       text not null,
    status           text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts         integer not null default 0 check (attempts >= 0),
    next_attempt_at  timestamptz,
    -- A claim: the worker (its advisory-lock number) sending it now, until when. A claim whose worker
    -- is gone (its lock released with its connection) or whose lease ran out is taken over.
    claimed_by       bigint,
    claimed_until    timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (webhook_id, event_id),
    check ((status = 'pending') = (next_attempt_at is not null)),
    check ((status = 'delivered') = (delivered_at is not null))
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_webhook on webhook_deliveries (webhook_id, created_at desc, id desc);
create index webhook_deliveries_event on webhook_deliveries (event_id);

create table webhook_attempts (
    delivery_id    uuid not null references webhook_deliveries (id) on delete cascade,
    number         integer not null check (number >= 1),
    attempted_at   timestamptz not null,
    worker         bigint not null,
    status_code    integer,
    latency_ms     integer not null check (latency_ms >= 0),
    error          text,
    -- The first 4 KB of what the receiver answered, to debug a failing endpoint.
    response_body  text,
    primary key (delivery_id, number)
);
