-- Relief calls, pledges against them, offers of capacity, and idempotency keys.

create table calls (
    id                uuid primary key default gen_random_uuid(),
    incident_id       uuid not null references incidents (id),
    kind              text not null check (kind in ('money', 'goods', 'personnel')),
    title             text not null check (length(title) between 1 and 300),
    description       text not null default '',
    -- What is asked for, in one unit: the amount (money), the quantity (goods) or the headcount.
    requested         numeric not null check (requested > 0),
    currency          text check (currency ~ '^[A-Z]{3}$'),
    item              text,
    unit              text,
    skill             text,
    needed_from       timestamptz,
    needed_until      timestamptz,
    priority          text not null default 'medium' check (priority in ('critical', 'high', 'medium', 'low')),
    deadline          timestamptz,
    deliver_to        jsonb,
    allow_overpledge  boolean not null default false,
    status            text not null default 'draft'
                      check (status in ('draft', 'open', 'fulfilled', 'closed', 'cancelled')),
    -- The three counters, moved in the same transaction as the pledge rows they count.
    committed         numeric not null default 0 check (committed >= 0),
    in_transit        numeric not null default 0 check (in_transit >= 0),
    delivered         numeric not null default 0 check (delivered >= 0),
    published_at      timestamptz,
    closed_at         timestamptz,
    version           integer not null default 1,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    -- The last line of defence against over-commitment: whatever the code does, the row refuses it.
    constraint calls_not_overcommitted check (allow_overpledge or committed <= requested),
    check ((kind = 'money') = (currency is not null)),
    check ((kind = 'goods') = (item is not null and unit is not null)),
    check ((kind = 'personnel') = (skill is not null))
);
create index calls_incident on calls (incident_id, created_at desc, id desc);
create index calls_open on calls (status) where status = 'open';

create table pledges (
    id                 uuid primary key default gen_random_uuid(),
    call_id            uuid not null references calls (id),
    incident_id        uuid not null references incidents (id),
    organization_id    uuid not null references organizations (id),
    kind               text not null check (kind in ('money', 'goods', 'personnel')),
    -- In the call's unit: amount (money), quantity (goods) or headcount (personnel).
    quantity           numeric not null check (quantity > 0),
    currency           text,
    unit               text,
    estimated_value    numeric check (estimated_value >= 0),
    available_from     timestamptz,
    available_until    timestamptz,
    lead               jsonb,
    note               text not null default '',
    status             text not null default 'pledged'
                       check (status in ('pledged', 'accepted', 'rejected', 'withdrawn', 'dispatched', 'delivered')),
    delivered_quantity numeric check (delivered_quantity >= 0 and delivered_quantity <= quantity),
    reason             text,
    version            integer not null default 1,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);
create index pledges_call on pledges (call_id, created_at desc, id desc);
create index pledges_organization on pledges (organization_id, created_at desc, id desc);
create index pledges_incident on pledges (incident_id, created_at desc, id desc);
create index pledges_created on pledges (created_at desc, id desc);

create table offers (
    id               uuid primary key default gen_random_uuid(),
    incident_id      uuid not null references incidents (id),
    organization_id  uuid not null references organizations (id),
    kind             text not null check (kind in ('money', 'goods', 'personnel')),
    item             text,
    skill            text,
    unit             text,
    currency         text,
    quantity         numeric not null check (quantity > 0),
    region           text not null check (region ~ '^[0-9]{6}$'),
    available_from   timestamptz,
    available_until  timestamptz,
    note             text not null default '',
    status           text not null default 'open' check (status in ('open', 'withdrawn')),
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index offers_incident on offers (incident_id, created_at desc, id desc);

-- Idempotency keys: a create's key and response, committed in the create's own transaction, so a
-- retry either finds the response or finds nothing and runs again; a concurrent duplicate waits on
-- the first one's uncommitted row.
create table idempotency_keys (
    scope        text not null,
    key          text not null,
    fingerprint  bytea not null,
    status       integer,
    body         bytea,
    location     text,
    created_at   timestamptz not null default now(),
    primary key (scope, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);
