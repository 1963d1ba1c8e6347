-- Bulk imports (issue 14): a spreadsheet of residents, evacuations, donations or impact figures,
-- stored in the database as it arrives (any replica or worker can take the import up), validated row
-- by row by the API's own models, written in batches, and deleted when the import ends: the file's
-- full ID numbers exist nowhere else.
create table imports (
    id                uuid primary key default gen_random_uuid(),
    incident_id       uuid not null references incidents (id),
    kind              text not null check (kind in ('residents', 'evacuations', 'donations', 'impacts')),
    dry_run           boolean not null,
    format            text not null check (format in ('csv', 'xlsx')),
    charset           text check (charset in ('utf-8', 'gb18030')),
    language          text not null default 'zh' check (language in ('zh', 'en')),
    -- receiving (the body is arriving) → queued → running → done | failed
    state             text not null default 'receiving'
                          check (state in ('receiving', 'queued', 'running', 'done', 'failed')),
    bytes             bigint not null default 0,
    rows_total        integer,
    -- Data rows handled by committed batches: a run taken over after a crash starts after them.
    rows_read         integer not null default 0,
    rows_written      integer not null default 0,
    rows_present      integer not null default 0,  -- already in Relief: the same person, receipt or row key
    rows_duplicate    integer not null default 0,  -- the same as an earlier row of this file
    rows_refused      integer not null default 0,
    attempts          integer not null default 0,
    resumed           boolean not null default false,  -- a run was taken over from one that stopped
    claimed_until     timestamptz,
    failure           text,
    idempotency_scope text not null,
    idempotency_key   text not null,
    created_by        uuid,
    created_at        timestamptz not null default now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    unique (idempotency_scope, idempotency_key)
);
create index imports_incident on imports (incident_id, created_at desc, id desc);
create index imports_waiting on imports (created_at) where state in ('queued', 'running');

create table import_chunks (
    import_id  uuid not null references imports (id) on delete cascade,
    seq        integer not null check (seq >= 0),
    data       bytea not null,
    primary key (import_id, seq)
);

-- The refused rows, with the row's cells as the errors file shows them (ID numbers and phones
-- masked by the one rule before they are stored).
create table import_errors (
    import_id    uuid not null references imports (id) on delete cascade,
    row_no       integer not null,
    column_name  text not null,
    reason       text not null,
    cells        jsonb not null,
    primary key (import_id, row_no, column_name)
);

-- Evacuations, impacts and donations without a receipt number are known again by a row key (the
-- key column, or a hash of the row's normalized values): a file sent twice adds nothing.
create table import_row_keys (
    incident_id  uuid not null references incidents (id),
    kind         text not null,
    row_key      text not null,
    import_id    uuid not null references imports (id),
    primary key (incident_id, kind, row_key)
);

-- Events written by an import are marked with it (a transaction-local setting the import's batches
-- set, so every use case marks its events without knowing it runs in an import). The fan-out and
-- the streams skip marked events; the import's one import.completed is not marked.
alter table events add column import_id uuid;
alter table events alter column import_id set default nullif(current_setting('relief.import_id', true), '')::uuid;

drop trigger events_enqueue_webhooks on events;
create trigger events_enqueue_webhooks after insert on events
    for each row when (new.import_id is null) execute function webhook_outbox_enqueue();
