-- Impact figures (issue 13 item 1): observations of people affected, dead, houses collapsed… per region,
-- each with its source and the time it holds for. Append-only: a new count is a new row; the current
-- value per (region, figure, source, organization) is the latest by as_of.
create table impacts (
    id               uuid primary key default gen_random_uuid(),
    incident_id      uuid not null references incidents (id),
    region           text not null check (region ~ '^[0-9]{6}$'),
    figure           text not null check (figure in (
                         'affected', 'dead', 'missing', 'injured', 'emergency_relocated', 'needs_living_aid',
                         'houses_collapsed', 'houses_severely_damaged', 'houses_damaged', 'crops_affected_ha',
                         'direct_loss')),
    value            numeric not null check (value >= 0),
    unit             text not null,
    source           text not null check (source in ('government', 'organization', 'media', 'other')),
    organization_id  uuid references organizations (id),
    as_of            timestamptz not null,
    note             text not null default '',
    recorded_by      uuid,
    created_at       timestamptz not null default now(),
    -- Each figure fixes its unit.
    check (unit = case
        when figure in ('houses_collapsed', 'houses_severely_damaged', 'houses_damaged') then 'houses'
        when figure = 'crops_affected_ha' then 'ha'
        when figure = 'direct_loss' then 'CNY'
        else 'people' end),
    -- Whole people and houses; hectares and yuan to the cent.
    check (case when unit in ('people', 'houses') then value = trunc(value) else value = round(value, 2) end),
    check ((source = 'organization') = (organization_id is not null))
);
create index impacts_incident on impacts (incident_id, created_at desc, id desc);
-- The latest per (region, figure, source, organization) by as_of: `distinct on` walks this index.
create index impacts_latest on impacts
    (incident_id, region, figure, source, organization_id, as_of desc, created_at desc, id desc);

create function impacts_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'impact figures are append-only (% refused); record a new observation instead', tg_op
        using errcode = 'P0001';
end $$;
create trigger impacts_no_update before update or delete on impacts
    for each statement execute function impacts_append_only();
create trigger impacts_no_truncate before truncate on impacts
    for each statement execute function impacts_append_only();
