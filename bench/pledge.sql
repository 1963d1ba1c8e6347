-- pgbench script: the SQL one pledge costs, statement for statement as relief/auth.py,
-- relief/idempotency.py and relief/pledges.py issue it. Values come in as -D variables (pgbench
-- substitutes :names even inside quotes, so none appear as literals); a call's JSON stands in for the
-- pledge JSON the service stores in the event and the idempotency record.
select k.id, k.role, k.organization_id, k.name, o.status as organization_status,
       (k.last_used_at is null or k.last_used_at < now() - make_interval(secs => 60)) as stale
  from api_keys k left join organizations o on o.id = k.organization_id
 where k.hash = decode(:hash, 'hex') and k.revoked_at is null;
begin;
insert into idempotency_keys (scope, key, fingerprint)
values ('org-pgbench', gen_random_uuid()::text, sha256('x'))
on conflict (scope, key) do nothing
returning key as idem \gset
select kind, currency, unit, status, incident_id, now() as now,
       (select name from organizations where id = :org) as organization_name
  from calls where id = :call;
update idempotency_keys
   set status = 201, body = convert_to(:payload, 'UTF8'), location = '/v1/pledges/00000000-0000-0000-0000-000000000000'
 where scope = 'org-pgbench' and key = :idem;
with counted as (
    update calls set committed = committed + 1, committed_value = committed_value + 30.00, updated_at = now()
     where id = :call and status = 'open' and (allow_overpledge or committed + 1 <= requested)
    returning id
), joined as (
    insert into incident_participants (incident_id, organization_id)
    select :incident, :org from counted
    on conflict do nothing
    returning incident_id
), participants as (
    insert into incident_counters (incident_id, name, key, value)
    select incident_id, 'participants', '', 1 from joined
    on conflict (incident_id, name, key) do update set value = incident_counters.value + 1
), pledged as (
    insert into pledges (id, call_id, incident_id, organization_id, kind, quantity, currency, unit,
                         estimated_value, available_from, available_until, lead, note)
    select gen_random_uuid(), id, :incident, :org, 'goods', 1, null, 'piece', 30.00, null, null, null, ''
      from counted
    returning id
), logged as (
    insert into events (type, entity_type, entity_id, incident_id, organization_id,
                        actor_key_id, actor_role, actor_organization_id, before, after)
    select 'pledge.created', 'pledge', id, :incident, :org, :keyid, 'organization', :org, null, :payload::jsonb
      from pledged
    returning id
)
select count(*) from logged;
commit;
