-- Console sessions, and who may see which event (shared by webhook fan-out and live streams).

-- A console sign-in: the browser holds a random token in an HttpOnly cookie; only its SHA-256 is here.
-- It acts as the API key it was made from, so revoking the key ends its sessions too.
create table console_sessions (
    token_hash  bytea primary key check (length(token_hash) = 32),
    key_id      uuid not null references api_keys (id) on delete cascade,
    -- Sent back by the console in X-CSRF-Token on every change: a cross-site page cannot read it.
    csrf_token  text not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null
);
create index console_sessions_expiry on console_sessions (expires_at);

-- May the holder of an API key of organization `owner` (null: the bureau's staff) read event `e`
-- through the API? Invariant 7, in one place: the bureau sees everything (residents' details are
-- stripped from what leaves, by the envelope); an organization sees incidents, published calls and
-- alerts, and its own pledges, offers, donations, keys, webhooks and acknowledgements; never a
-- resident, a shelter or another organization's business. A plain SQL function, so the planner
-- inlines it into the fan-out's join over thousands of subscriptions.
create function event_visible_to(e events, owner uuid) returns boolean
language sql immutable as $$
    select owner is null
        or e.type like 'incident.%'
        or e.type = 'alert.broadcast'
        or (e.entity_type = 'call' and coalesce(e.after, e.before) ->> 'status' <> 'draft')
        or (e.organization_id = owner
            and split_part(e.type, '.', 1) in ('pledge', 'offer', 'donation', 'organization', 'key', 'webhook',
                                               'alert'))
$$;

-- Live streams read one incident's events in commit-visibility order, (txid, id).
create index events_incident_txid on events (incident_id, txid, id) where incident_id is not null;
