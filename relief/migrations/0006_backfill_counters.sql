-- Fill the counters 0003 and 0005 introduced from rows that existed before them, so that a database
-- upgraded from an earlier release reconciles cleanly. (On a fresh database every statement is a no-op.)

update calls c
   set committed_value = coalesce((
       select sum(p.estimated_value) from pledges p
        where p.call_id = c.id and p.status not in ('rejected', 'withdrawn')), 0);

insert into incident_participants (incident_id, organization_id)
select incident_id, organization_id from pledges
union select incident_id, organization_id from offers
union select incident_id, donor_organization_id from donations where donor_organization_id is not null
on conflict do nothing;

insert into incident_counters (incident_id, name, key, value)
select incident_id, 'participants', '', count(*) from incident_participants group by incident_id
on conflict (incident_id, name, key) do update set value = excluded.value;
