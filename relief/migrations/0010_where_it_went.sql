-- Where it went: sites that hold goods, stock movements and levels, money disbursed from funds, and
-- the hash chain over every ledger entry (issue 11).

-- ── Sites ────────────────────────────────────────────────────────────────────────────────────────
-- Where goods are held. A shelter holds stock too; a location is a site or a shelter, never both.
create table sites (
    id             uuid primary key default gen_random_uuid(),
    incident_id    uuid not null references incidents (id),
    kind           text not null check (kind in ('warehouse', 'collection_point', 'distribution_point')),
    name           text not null check (length(name) between 1 and 200),
    address        text not null default '' check (length(address) <= 500),
    lat            double precision check (lat between -90 and 90),
    lon            double precision check (lon between -180 and 180),
    manager_name   text,
    manager_phone  text,
    -- The incident's intake site: where goods received without a named location land (one per
    -- incident, created on first use, so clients that name no location keep working).
    intake         boolean not null default false,
    version        integer not null default 1,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    check ((lat is null) = (lon is null)),
    unique (incident_id, name)
);
create unique index sites_intake on sites (incident_id) where intake;
create index sites_incident on sites (incident_id, created_at desc, id desc);

-- ── Goods and money into the ledger gain where they landed and what they are for ────────────────
alter table donations
    add column site_id          uuid references sites (id),
    add column shelter_id       uuid references shelters (id),
    -- 定向捐赠: the donor's designated use; a disbursement may draw on it only for that purpose, within
    -- that region (a code prefix). Null purpose: unearmarked.
    add column earmark_purpose  text check (earmark_purpose in ('emergency_living_aid', 'shelter_operation',
                                                                 'rescue_operation', 'medical', 'reconstruction',
                                                                 'other')),
    add column earmark_region   text check (earmark_region ~ '^[0-9]{2,6}$'),
    add constraint donations_one_location check (site_id is null or shelter_id is null),
    add constraint donations_earmark_money check (earmark_purpose is null or kind = 'money'),
    add constraint donations_earmark_region check (earmark_region is null or earmark_purpose is not null);

-- ── Stock ───────────────────────────────────────────────────────────────────────────────────────
-- Every movement of goods after they were received. Append-only like the donation ledger: a mistake
-- is corrected by a reversal that names the movement, and a transfer's arrival is its own entry.
create table stock_movements (
    id                 uuid primary key default gen_random_uuid(),
    incident_id        uuid not null references incidents (id),
    kind               text not null check (kind in ('transfer', 'arrival', 'distribution', 'write_off',
                                                     'reversal')),
    item               text not null,
    unit               text not null,
    -- Positive, except an arrival of nothing (the whole transfer lost: all of it is `lost`).
    quantity           numeric not null check (quantity > 0 or (kind = 'arrival' and quantity = 0 and lost > 0)),
    from_site_id       uuid references sites (id),
    from_shelter_id    uuid references shelters (id),
    to_site_id         uuid references sites (id),
    to_shelter_id      uuid references shelters (id),
    -- arrival: the transfer it completes, and what did not arrive (a loss, with a reason).
    transfer_id        uuid unique references stock_movements (id),
    lost               numeric not null default 0 check (lost >= 0),
    -- distribution: to whom — a shelter's residents, a household, one resident, or a group.
    recipient_kind     text check (recipient_kind in ('shelter_residents', 'household', 'resident', 'group')),
    recipient_shelter_id uuid references shelters (id),
    household_id       text,
    resident_id        uuid references residents (id),
    people_reached     integer check (people_reached >= 0),
    region             text check (region ~ '^[0-9]{6}$'),
    -- write_off: damaged | expired | lost; reversal and arrival losses: free text.
    reason             text,
    reverses           uuid unique references stock_movements (id),
    note               text not null default '',
    recorded_by        uuid,
    created_at         timestamptz not null default now(),
    check (from_site_id is null or from_shelter_id is null),
    check (to_site_id is null or to_shelter_id is null),
    check ((kind = 'arrival') = (transfer_id is not null)),
    check ((kind = 'reversal') = (reverses is not null)),
    check ((kind = 'distribution') = (recipient_kind is not null)),
    check (kind not in ('write_off', 'reversal') or reason is not null),
    check (lost = 0 or (kind = 'arrival' and reason is not null))
);
create index stock_movements_incident on stock_movements (incident_id, created_at desc, id desc);

create function stock_movements_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'stock movements are append-only (% refused); record a reversal instead', tg_op
        using errcode = 'P0001';
end $$;
create trigger stock_movements_no_update before update or delete on stock_movements
    for each statement execute function stock_movements_append_only();
create trigger stock_movements_no_truncate before truncate on stock_movements
    for each statement execute function stock_movements_append_only();

-- What each location holds of each item, moved in the movements' transactions by guarded updates.
-- The check is the last line of defence: whatever the code does, on hand never goes below zero.
create table stock_levels (
    incident_id     uuid not null references incidents (id),
    site_id         uuid references sites (id),
    shelter_id      uuid references shelters (id),
    location_id     uuid generated always as (coalesce(site_id, shelter_id)) stored,
    item            text not null,
    unit            text not null,
    received        numeric not null default 0,  -- donations in (net of reversals) + transfers arrived
    on_hand         numeric not null default 0 check (on_hand >= 0),
    in_transit_out  numeric not null default 0 check (in_transit_out >= 0),
    -- What left by transfers and arrived (the part lost on the way is in written_off), so that
    -- on_hand = received - transferred_out - in_transit_out - distributed - written_off, always.
    transferred_out numeric not null default 0,
    distributed     numeric not null default 0,
    written_off     numeric not null default 0,  -- write-offs and losses in transit
    people_reached  numeric not null default 0,  -- person-times (人次)
    -- A minimum (set by a dispatcher) and whether the level is below it now: stock.low is emitted when
    -- it crosses from not-low to low, once per crossing.
    minimum         numeric check (minimum >= 0),
    low             boolean not null default false,
    primary key (location_id, item, unit),
    check ((site_id is null) <> (shelter_id is null))
);
create index stock_levels_incident on stock_levels (incident_id, item, unit);

-- ── Money disbursed ─────────────────────────────────────────────────────────────────────────────
-- A fund is the money of one currency with one earmark (purpose and region prefix), or none ('', '').
-- Received moves with money donations; paid with approved disbursements, by guarded updates.
create table funds (
    incident_id  uuid not null references incidents (id),
    currency     text not null check (currency ~ '^[A-Z]{3}$'),
    purpose      text not null default '',
    region       text not null default '',
    received     numeric not null default 0,
    paid         numeric not null default 0,
    primary key (incident_id, currency, purpose, region),
    -- The last line of defence: whatever the code does, nothing is paid beyond what came in.
    constraint funds_not_overdrawn check (paid <= received),
    constraint funds_paid_not_negative check (paid >= 0),
    check (purpose <> '' or region = '')
);

create table disbursements (
    id                         uuid primary key default gen_random_uuid(),
    incident_id                uuid not null references incidents (id),
    amount                     numeric not null check (amount <> 0),  -- negative on reversals
    currency                   text not null check (currency ~ '^[A-Z]{3}$'),
    purpose                    text not null check (purpose in ('emergency_living_aid', 'shelter_operation',
                                                                'rescue_operation', 'medical', 'reconstruction',
                                                                'other')),
    -- The fund drawn on: '' and '' for unearmarked money.
    fund_purpose               text not null default '',
    fund_region                text not null default '',
    recipient_organization_id  uuid references organizations (id),
    recipient_shelter_id       uuid references shelters (id),
    recipient_resident_id      uuid references residents (id),
    recipient_households       integer check (recipient_households > 0),
    region                     text check (region ~ '^[0-9]{6}$'),
    voucher_no                 text not null,
    status                     text not null default 'proposed'
                                   check (status in ('proposed', 'approved', 'rejected')),
    proposed_by                uuid not null,
    decided_by                 uuid,
    decided_at                 timestamptz,
    reason                     text,
    reverses                   uuid unique references disbursements (id),
    note                       text not null default '',
    version                    integer not null default 1,
    created_at                 timestamptz not null default now(),
    updated_at                 timestamptz not null default now(),
    -- Four eyes: whoever decides is not whoever proposed. A reversal only returns money to its fund,
    -- so the dispatcher who records it is both, and it is approved as it is written (its event names them).
    check (decided_by is null or decided_by <> proposed_by or reverses is not null),
    check ((status = 'proposed') = (decided_by is null)),
    check ((decided_by is null) = (decided_at is null)),
    check ((reverses is null) = (amount > 0)),
    check (reverses is null or (reason is not null and status = 'approved')),
    check (status <> 'rejected' or reason is not null),
    check (num_nonnulls(recipient_organization_id, recipient_shelter_id, recipient_resident_id,
                        recipient_households) = 1),
    -- An earmark is drawn only for its purpose, within its region (a code prefix of where the money goes).
    check (fund_purpose in ('', purpose)),
    check (fund_region = '' or (fund_purpose <> '' and region is not null and starts_with(region, fund_region)))
);
-- A voucher pays once; a rejected proposal's voucher may be proposed again (a reversal repeats its payment's).
create unique index disbursements_voucher on disbursements (incident_id, voucher_no)
    where reverses is null and status <> 'rejected';
create index disbursements_incident on disbursements (incident_id, created_at desc, id desc);
-- The funds' pending totals read the proposals still open, which are few.
create index disbursements_pending on disbursements (incident_id) where status = 'proposed';

-- Once decided, a disbursement is a ledger entry: nothing changes it again; a reversal corrects it.
create function disbursements_decided_once() returns trigger language plpgsql as $$
begin
    if tg_op <> 'UPDATE' or old.status <> 'proposed' then
        raise exception 'a decided disbursement is not changed (% refused); record a reversal instead', tg_op
            using errcode = 'P0001';
    end if;
    return new;
end $$;
create trigger disbursements_no_rewrite before update or delete on disbursements
    for each row execute function disbursements_decided_once();
create trigger disbursements_no_truncate before truncate on disbursements
    for each statement execute function stock_movements_append_only();

-- ── The chain ───────────────────────────────────────────────────────────────────────────────────
-- Every ledger entry (donations and their reversals, stock movements, approved disbursements and their
-- reversals) in the order it committed, per incident: its canonical encoding and
-- hash = SHA-256(previous hash || "\n" || encoding). See relief/chain.py for the encoding.
create table ledger_chains (
    incident_id  uuid primary key references incidents (id),
    entries      bigint not null default 0,
    head         text not null default repeat('0', 64),
    updated_at   timestamptz not null default now(),  -- when the last entry was chained: the head's "as of"
    -- Keys the digests that stand for people in the public encodings: without it nobody can test a
    -- guessed name against them. It never leaves the database.
    digest_key   bytea not null check (length(digest_key) = 32)
);

create table ledger_entries (
    incident_id  uuid not null references incidents (id),
    position     bigint not null check (position > 0),
    kind         text not null check (kind in ('donation', 'stock_movement', 'disbursement')),
    entry_id     uuid not null,
    encoding     text not null,
    hash         text not null check (hash ~ '^[0-9a-f]{64}$'),
    primary key (incident_id, position),
    unique (kind, entry_id)
);

create function ledger_entries_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the ledger chain is append-only (% refused)', tg_op using errcode = 'P0001';
end $$;
create trigger ledger_entries_no_update before update or delete on ledger_entries
    for each statement execute function ledger_entries_append_only();
create trigger ledger_entries_no_truncate before truncate on ledger_entries
    for each statement execute function ledger_entries_append_only();

-- ── Existing data ───────────────────────────────────────────────────────────────────────────────
-- Goods received before this release land at their incident's intake site; money is unearmarked.
-- (The chain over existing entries is built by relief/chain.py right after this file, in Python,
-- because its encoding is defined there once.)
insert into sites (incident_id, kind, name, intake)
select distinct incident_id, 'collection_point', '接收点 Intake', true from donations where kind = 'goods';

alter table donations disable trigger donations_no_update;
update donations d set site_id = s.id from sites s where s.incident_id = d.incident_id and s.intake and d.kind = 'goods';
alter table donations enable trigger donations_no_update;
-- Goods are always somewhere (checked once every existing row has its intake site).
alter table donations add constraint donations_goods_located
    check (kind = 'money' or site_id is not null or shelter_id is not null);

insert into stock_levels (incident_id, site_id, item, unit, received, on_hand)
select incident_id, site_id, item, unit, sum(quantity), sum(quantity)
  from donations where kind = 'goods' group by incident_id, site_id, item, unit
having sum(quantity) <> 0;

insert into funds (incident_id, currency, received)
select incident_id, currency, sum(quantity) from donations where kind = 'money' group by incident_id, currency;
