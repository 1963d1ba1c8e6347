-- Foundation: organizations, API keys, incidents and the event log.

create table organizations (
    id            uuid primary key default gen_random_uuid(),
    name          text not null check (length(name) between 1 and 200),
    credit_code   text not null unique check (credit_code ~ '^[0-9A-HJ-NP-RTUWXY]{18}$'),
    kind          text not null check (kind in ('foundation', 'charity', 'social_service_agency',
                                                 'association', 'volunteer_team', 'enterprise', 'other')),
    region        text not null check (region ~ '^[0-9]{6}$'),
    contact       jsonb not null default '{}',
    capabilities  jsonb not null default '{"skills": [], "goods": []}',
    status        text not null default 'pending' check (status in ('pending', 'approved', 'suspended')),
    version       integer not null default 1,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create index organizations_created on organizations (created_at desc, id desc);

create table api_keys (
    id               uuid primary key default gen_random_uuid(),
    name             text not null check (length(name) between 1 and 200),
    role             text not null check (role in ('admin', 'dispatcher', 'viewer', 'organization')),
    organization_id  uuid references organizations (id),
    -- SHA-256 of the whole key: keys are 256 random bits, so a fast hash is as strong as a slow one.
    hash             bytea not null unique,
    -- The first characters, so people can tell their keys apart without the secret.
    prefix           text not null,
    created_at       timestamptz not null default now(),
    last_used_at     timestamptz,
    revoked_at       timestamptz,
    check ((role = 'organization') = (organization_id is not null))
);
create index api_keys_organization on api_keys (organization_id) where organization_id is not null;

create table incidents (
    id           uuid primary key default gen_random_uuid(),
    code         text not null unique check (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    title        text not null check (length(title) between 1 and 300),
    type         text not null check (type in ('typhoon', 'flood', 'earthquake', 'fire', 'epidemic', 'other')),
    severity     text not null check (severity in ('I', 'II', 'III', 'IV')),
    regions      text[] not null check (cardinality(regions) >= 1),
    started_at   timestamptz not null,
    description  text not null default '',
    status       text not null default 'open' check (status in ('open', 'closed')),
    closed_at    timestamptz,
    version      integer not null default 1,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
create index incidents_created on incidents (created_at desc, id desc);
create index incidents_regions on incidents using gin (regions);

-- The event log: one row per state change, written in the same transaction as the change. It is the
-- audit trail and, later, the source of webhooks and live streams.
--
-- `id` comes from a sequence, and sequence values commit out of order: a reader resuming from "the
-- highest id I saw" could skip a row whose transaction committed late. `txid` (the writing
-- transaction's id) fixes that: a reader only takes rows with txid < pg_snapshot_xmin(pg_current_snapshot()),
-- i.e. from transactions that are certainly finished, in (txid, id) order. That position only grows
-- in commit-visibility order, so streams can resume from it without a gap.
create table events (
    id                     bigint generated always as identity primary key,
    txid                   xid8 not null default pg_current_xact_id(),
    type                   text not null,
    entity_type            text not null,
    entity_id              uuid not null,
    incident_id            uuid,
    -- The organization the event concerns (a pledge's, a key's), for "only what its owner may read".
    organization_id        uuid,
    actor_key_id           uuid,
    actor_role             text not null,
    actor_organization_id  uuid,
    before                 jsonb,
    after                  jsonb,
    created_at             timestamptz not null default now()
);
create index events_txid on events (txid, id);
create index events_incident on events (incident_id, id) where incident_id is not null;
create index events_entity on events (entity_type, entity_id, id);
create index events_type on events (type, id);
create index events_organization on events (organization_id, id) where organization_id is not null;

-- The log is append-only: an audit trail that can be edited is not one.
create function events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the event log is append-only (% refused)', tg_op using errcode = 'P0001';
end $$;
create trigger events_no_update before update or delete on events
    for each statement execute function events_append_only();
