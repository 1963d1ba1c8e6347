-- Per-incident counters, and the donation ledger.

-- Counters the summary is served from, moved in the same transaction as the rows they count. One row
-- per (incident, counter, key): key is a currency, an item and unit, a placement… or '' for a plain
-- total. `relief reconcile` recomputes every one of them from the rows.
create table incident_counters (
    incident_id  uuid not null references incidents (id),
    name         text not null,
    key          text not null default '',
    value        numeric not null default 0,
    primary key (incident_id, name, key)
);

-- Organizations that took part in an incident (pledged, donated, offered, helped evacuate): kept so
-- that the participants counter moves once per organization.
create table incident_participants (
    incident_id      uuid not null references incidents (id),
    organization_id  uuid not null references organizations (id),
    primary key (incident_id, organization_id)
);

-- The ledger of what was received. Append-only: a mistake is corrected by a reversal row that names
-- the original, with the amounts negated, never by changing or deleting a row.
create table donations (
    id                     uuid primary key default gen_random_uuid(),
    incident_id            uuid not null references incidents (id),
    kind                   text not null check (kind in ('money', 'goods')),
    -- money: the amount in `currency`; goods: the quantity of `item` in `unit`. Negative on reversals.
    quantity               numeric not null check (quantity <> 0),
    currency               text check (currency ~ '^[A-Z]{3}$'),
    item                   text,
    unit                   text,
    estimated_value        numeric,
    value_currency         text,
    channel                text check (channel in ('bank_transfer', 'online_platform', 'cash', 'in_kind', 'other')),
    receipt_no             text,
    donor_organization_id  uuid references organizations (id),
    donor_name             text,
    anonymous              boolean not null default false,
    pledge_id              uuid references pledges (id),
    call_id                uuid references calls (id),
    reverses               uuid unique references donations (id),
    reason                 text,
    note                   text not null default '',
    recorded_by            uuid,
    created_at             timestamptz not null default now(),
    check ((kind = 'money') = (currency is not null)),
    check ((kind = 'goods') = (item is not null and unit is not null)),
    check ((reverses is null) = (quantity > 0)),
    check (reverses is null or reason is not null)
);
create unique index donations_receipt on donations (incident_id, receipt_no) where receipt_no is not null;
create index donations_incident on donations (incident_id, created_at desc, id desc);
create index donations_pledge on donations (pledge_id) where pledge_id is not null;

create function donations_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the donation ledger is append-only (% refused); record a reversal instead', tg_op
        using errcode = 'P0001';
end $$;
create trigger donations_no_update before update or delete on donations
    for each statement execute function donations_append_only();
create trigger donations_no_truncate before truncate on donations
    for each statement execute function donations_append_only();
