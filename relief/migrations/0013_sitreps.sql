-- Situation reports (issue 13): numbered 1, 2, 3… per incident, frozen at issue. `document` is the
-- report's JSON exactly as it was served when issued; every rendering is made from it alone, so the
-- row never changes: no UPDATE, DELETE or TRUNCATE gets past the triggers below.
create table sitreps (
    id               uuid primary key default gen_random_uuid(),
    incident_id      uuid not null references incidents (id),
    number           integer not null check (number > 0),
    kind             text not null check (kind in ('initial', 'update', 'verified')),
    issued_by        uuid,
    issued_by_name   text not null,
    issued_at        timestamptz not null,
    position         text not null check (position ~ '^[0-9]+-[0-9]+$'),
    document         text not null check (length(document) > 0),
    unique (incident_id, number),
    -- 初报 is the first report and only the first.
    check ((kind = 'initial') = (number = 1))
);

-- Numbers have no gaps: a report is the next after the last one committed. Two concurrent issues
-- computing the same number meet at the unique index; one computing a number past a report not yet
-- committed is refused here (it does not see that report), so a gap cannot appear either way.
create function sitreps_next_number() returns trigger language plpgsql as $$
declare
    expected integer;
begin
    select coalesce(max(number), 0) + 1 into expected from sitreps where incident_id = new.incident_id;
    if new.number <> expected then
        raise exception 'situation report % of incident % is not the next one (%)', new.number, new.incident_id,
            expected using errcode = '23505';
    end if;
    return new;
end $$;
create trigger sitreps_numbered before insert on sitreps
    for each row execute function sitreps_next_number();

create function sitreps_frozen() returns trigger language plpgsql as $$
begin
    raise exception 'an issued situation report never changes (% refused); issue a new report instead', tg_op
        using errcode = 'P0001';
end $$;
create trigger sitreps_no_update before update or delete on sitreps
    for each statement execute function sitreps_frozen();
create trigger sitreps_no_truncate before truncate on sitreps
    for each statement execute function sitreps_frozen();

-- sitrep.issued reaches organizations too (their webhooks and streams carry the report's public
-- version: relief/masking.py). The rest is 0011's definition, unchanged: a later migration that
-- redefines it must keep every line.
create or replace function event_visible_to(e events, owner uuid) returns boolean
language sql immutable as $$
    select owner is null
        or e.type like 'incident.%'
        or e.type = 'alert.broadcast'
        or e.type = 'sitrep.issued'
        or (e.entity_type = 'call' and coalesce(e.after, e.before) ->> 'status' <> 'draft')
        or (e.organization_id = owner
            and split_part(e.type, '.', 1) in ('pledge', 'offer', 'donation', 'organization', 'key', 'webhook',
                                               'alert', 'task', 'roster', 'deployment'))
$$;
