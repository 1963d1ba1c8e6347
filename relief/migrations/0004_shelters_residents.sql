-- Shelters, residents evacuated one by one, and aggregate evacuations (head counts).

create table shelters (
    id           uuid primary key default gen_random_uuid(),
    incident_id  uuid not null references incidents (id),
    name         text not null check (length(name) between 1 and 200),
    address      text not null check (length(address) between 1 and 500),
    lat          double precision check (lat between -90 and 90),
    lon          double precision check (lon between -180 and 180),
    capacity     integer not null check (capacity > 0),
    -- People in the shelter now: residents checked in + centralized aggregate evacuations into it,
    -- moved in the same transaction as those rows by a guarded update.
    occupancy    integer not null default 0 check (occupancy >= 0),
    status       text not null default 'open' check (status in ('open', 'full', 'closed')),
    closed_at    timestamptz,
    version      integer not null default 1,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    -- The last line of defence: whatever the code does, the row refuses more people than places.
    constraint shelters_within_capacity check (occupancy <= capacity),
    -- Status follows occupancy, and a closed shelter holds no one.
    constraint shelters_status_follows_occupancy check (
        case status when 'closed' then occupancy = 0
                    when 'full' then occupancy >= capacity
                    else occupancy < capacity end
    ),
    check ((lat is null) = (lon is null))
);
create index shelters_incident on shelters (incident_id, created_at desc, id desc);

create table residents (
    id               uuid primary key default gen_random_uuid(),
    incident_id      uuid not null references incidents (id),
    name             text not null check (length(name) between 1 and 200),
    id_type          text not null check (id_type in ('resident_id', 'passport', 'other')),
    -- The ID number is never stored: only an HMAC-SHA256 under the service's secret key (to find the
    -- same person registered twice) and its last 4 characters (to tell people apart when searching).
    id_hash          bytea not null check (length(id_hash) = 32),
    id_last4         text not null check (length(id_last4) between 1 and 4),
    phone            text,
    household_id     text,
    household_size   integer not null default 1 check (household_size >= 1),
    origin_region    text not null check (origin_region ~ '^[0-9]{6}$'),
    origin_address   text not null default '',
    vulnerabilities  text[] not null default '{}',
    assisted_by      uuid references organizations (id),
    status           text not null default 'registered' check (status in ('registered', 'sheltered', 'returned')),
    shelter_id       uuid references shelters (id),
    -- First check-in: placement "centralized" counts each resident once, on it.
    sheltered_at     timestamptz,
    returned_at      timestamptz,
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (incident_id, id_hash),
    check ((status = 'sheltered') = (shelter_id is not null)),
    check (status = 'registered' or status = 'returned' or sheltered_at is not null)
);
create index residents_incident on residents (incident_id, created_at desc, id desc);
create index residents_shelter on residents (shelter_id) where shelter_id is not null;
create index residents_last4 on residents (incident_id, id_last4);

create table evacuations (
    id            uuid primary key default gen_random_uuid(),
    incident_id   uuid not null references incidents (id),
    count         integer not null check (count > 0),
    from_region   text not null check (from_region ~ '^[0-9]{6}$'),
    placement     text not null check (placement in ('centralized', 'dispersed')),
    shelter_id    uuid references shelters (id),
    assisted_by   uuid references organizations (id),
    occurred_at   timestamptz not null default now(),
    note          text not null default '',
    recorded_by   uuid,
    version       integer not null default 1,
    created_at    timestamptz not null default now(),
    check ((placement = 'centralized') = (shelter_id is not null))
);
create index evacuations_incident on evacuations (incident_id, created_at desc, id desc);
create index evacuations_shelter on evacuations (shelter_id) where shelter_id is not null;
