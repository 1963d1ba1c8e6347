-- Rescuers in the field: named rosters on personnel pledges, tasks and the teams assigned to them,
-- check-ins and check-outs on site, and the overdue alarm (issue 12).

-- ── Rosters ─────────────────────────────────────────────────────────────────────────────────────
-- Who exactly a personnel pledge sends. Members keep a stable id; one removed from the roster keeps its
-- row (removed_at) so that the hours it worked stay readable.
alter table pledges add column roster_version integer not null default 0;  -- the roster's ETag

create table roster_members (
    id                 uuid primary key default gen_random_uuid(),
    pledge_id          uuid not null references pledges (id),
    incident_id        uuid not null references incidents (id),
    organization_id    uuid not null references organizations (id),
    name               text not null check (length(name) between 1 and 200),
    phone              text not null check (length(phone) between 5 and 30),
    skills             text[] not null default '{}',
    certificates       jsonb not null default '[]',  -- [{"type": …, "number": …}]
    role               text not null default 'member' check (role in ('lead', 'member')),
    emergency_name     text,
    emergency_phone    text,
    position           integer not null default 0,  -- where the organization listed it: GET returns what PUT sent
    -- standby → on_site → back (→ on_site again for a next task); moved with the deployments' rows.
    state              text not null default 'standby' check (state in ('standby', 'on_site', 'back')),
    removed_at         timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    check (removed_at is null or state <> 'on_site'),
    check ((emergency_name is null) = (emergency_phone is null))
);
-- A phone is one person in an incident: the same phone on a second roster is a 409.
create unique index roster_members_phone on roster_members (incident_id, phone) where removed_at is null;
create index roster_members_pledge on roster_members (pledge_id) where removed_at is null;

-- roster.updated is the organization's own (its pledge's) event: event_visible_to, redefined below for
-- tasks, lists the 'roster' family too, so its webhooks and stream get it.

-- ── Tasks ───────────────────────────────────────────────────────────────────────────────────────
create table tasks (
    id                  uuid primary key default gen_random_uuid(),
    incident_id         uuid not null references incidents (id),
    title               text not null check (length(title) between 1 and 300),
    skill               text,
    -- The area as alerts give it (CAP notation): a description, and a point, circle or polygon.
    area_description    text not null default '',
    area_point          text,
    area_circle         text,
    area_polygon        text,
    region              text check (region ~ '^[0-9]{6}$'),
    headcount           integer not null check (headcount > 0),
    priority            text not null default 'normal' check (priority in ('low', 'normal', 'high', 'critical')),
    expected_minutes    integer check (expected_minutes > 0),
    status              text not null default 'open'
                            check (status in ('open', 'assigned', 'in_progress', 'done', 'cancelled')),
    people_rescued      integer check (people_rescued >= 0),
    people_transferred  integer check (people_transferred >= 0),
    outcome_note        text,
    cancel_reason       text,
    version             integer not null default 1,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    started_at          timestamptz,  -- the first check-in (assigned → in_progress)
    ended_at            timestamptz,
    check ((status in ('done', 'cancelled')) = (ended_at is not null)),
    -- Outcome figures belong to a task that was done, and only to it (the summary counts them).
    check ((status = 'done') = (people_rescued is not null and people_transferred is not null))
);
create index tasks_incident on tasks (incident_id, created_at desc, id desc);

-- A team (a personnel pledge) asked to do a task; the organization accepts or declines.
create table task_assignments (
    id               uuid primary key default gen_random_uuid(),
    task_id          uuid not null references tasks (id),
    pledge_id        uuid not null references pledges (id),
    organization_id  uuid not null references organizations (id),
    incident_id      uuid not null references incidents (id),
    status           text not null default 'pending' check (status in ('pending', 'accepted', 'declined')),
    assigned_by      uuid,
    decided_by       uuid,
    decided_at       timestamptz,
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    unique (task_id, pledge_id),
    check ((status = 'pending') = (decided_at is null))
);
create index task_assignments_pledge on task_assignments (pledge_id);
-- An organization's key lists only the tasks its teams are assigned to.
create index task_assignments_organization on task_assignments (organization_id, task_id);

-- (An organization's own task events reach it: event_visible_to, at the end of the Deployments section.)

-- ── Deployments ─────────────────────────────────────────────────────────────────────────────────
-- One row per stint on site: a member checked in to a task, and (later) checked out. Hours are exact
-- from these rows. expected_back_at moves with extensions; overdue_raised_at marks that the alarm for
-- the current deadline was raised (cleared by an extension), so it is raised once per crossing.
create table deployments (
    id                 uuid primary key default gen_random_uuid(),
    incident_id        uuid not null references incidents (id),
    task_id            uuid not null references tasks (id),
    assignment_id      uuid not null references task_assignments (id),
    member_id          uuid not null references roster_members (id),
    pledge_id          uuid not null references pledges (id),
    organization_id    uuid not null references organizations (id),
    checked_in_at      timestamptz not null,
    expected_back_at   timestamptz not null,
    lat                double precision check (lat between -90 and 90),
    lon                double precision check (lon between -180 and 180),
    checked_out_at     timestamptz,
    checked_in_by      uuid,
    checked_out_by     uuid,
    overdue_raised_at  timestamptz,
    extended_by        uuid,
    version            integer not null default 1,
    check (checked_out_at is null or checked_out_at >= checked_in_at),
    check (expected_back_at > checked_in_at),
    check ((lat is null) = (lon is null))
);
-- One member is on one task at a time: a second open stint is a 409, decided by this index.
create unique index deployments_one_open on deployments (member_id) where checked_out_at is null;
create index deployments_task on deployments (task_id) where checked_out_at is null;
create index deployments_incident on deployments (incident_id, checked_in_at);
-- The overdue loop's question ("which open stints are past their deadline and not yet alarmed?").
create index deployments_due on deployments (expected_back_at) where checked_out_at is null and overdue_raised_at is null;
-- The muster's question ("who of this incident is on site now?"), at the Zhuozhou scale of thousands.
create index deployments_on_site on deployments (incident_id) where checked_out_at is null;

-- An organization's subscriptions and streams get the task, roster and deployment events that name it
-- (its assignments and the start its check-in made, its rosters' counts, its members' check-ins,
-- check-outs, extensions and overdue alarms); the rest of the function is 0009's, unchanged. One
-- definition for all three sections: a later migration that redefines it must keep them.
create or replace function event_visible_to(e events, owner uuid) returns boolean
language sql immutable as $$
    select owner is null
        or e.type like 'incident.%'
        or e.type = 'alert.broadcast'
        or (e.entity_type = 'call' and coalesce(e.after, e.before) ->> 'status' <> 'draft')
        or (e.organization_id = owner
            and split_part(e.type, '.', 1) in ('pledge', 'offer', 'donation', 'organization', 'key', 'webhook',
                                               'alert', 'task', 'roster', 'deployment'))
$$;
