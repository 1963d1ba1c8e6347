-- Issue 15: a circuit breaker per destination (host:port), shared by every worker.
-- A row exists once a destination has failed; success brings it back to zero failures and closed.
create table webhook_destinations (
    destination text primary key,
    failures    integer not null default 0 check (failures >= 0),  -- counted failures in a row
    opened_at   timestamptz,      -- the breaker opened (null: closed, attempts go out as scheduled)
    held_until  timestamptz,      -- no attempt before this: an open breaker's next probe, or a Retry-After
    updated_at  timestamptz not null default now()
);

comment on table webhook_destinations is
    'Per host:port delivery health: after N failures in a row the breaker opens and one probe is sent per interval';

-- A subscription may take alerts as CAP 1.2 documents (application/cap+xml) instead of the JSON envelope.
alter table webhooks add column format text not null default 'json' check (format in ('json', 'cap'));

-- A subscription's recovery reads the events of a time range (POST /v1/webhooks/{id}/recover); events
-- are appended in time order, so a BRIN index finds a range for almost nothing on each insert.
create index events_created_brin on events using brin (created_at);
