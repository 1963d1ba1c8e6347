"""The delivery worker's two statements on webhook_deliveries: claiming due deliveries, and recording
what their attempts got. Kept together because each relies on how the other treats `claimed_by`."""

from relief.deliveries import SENDABLE

# Claim due deliveries: at most `per destination` for each host:port (so one slow team cannot fill
# the worker), skipping destinations already at their limit here, and only deliveries nobody holds;
# of a paced subscription, only as many as the slots this transaction took for it ($9, $10), none
# without. (The slots are not re-checked in `locked`: the webhooks rows stay locked by the
# transaction that took them until this claim commits.)
# The sendable deliveries of unpaced subscriptions and the first `slots` of each paced one are found
# apart: ranking every due delivery within its subscription, as one query did, was most of the claim's
# time with 10,000 due (an incremental sort over all of them) though only paced ones need it.
# The conditions are repeated in the locking query: a row claimed and committed by another worker
# between the two is re-checked there (READ COMMITTED re-evaluates a changed row) and skipped.
CLAIM = f"""
with live as (
    select objid::bigint as worker from pg_locks
     where locktype = 'advisory' and classid = $1 and objsubid = 2 and granted
       and database = (select oid from pg_database where datname = current_database())
), slots as (
    select * from unnest($9::uuid[], $10::int[]) as s(webhook_id, slots)
), sendable as (
    select d.id, d.next_attempt_at, w.destination
      from webhook_deliveries d join webhooks w on w.id = d.webhook_id
      left join webhook_destinations b on b.destination = w.destination
     where d.status = 'pending'
       and (d.next_attempt_at <= $2 or w.destination = any($8::text[]))
       and {SENDABLE}
       and w.destination <> all($5::text[])
       -- a destination held (its breaker open, or a Retry-After) gets nothing but the probe it was given
       and (w.destination = any($8::text[])
            or (b.opened_at is null and (b.held_until is null or b.held_until <= $2)))
       and (d.claimed_by is null or d.claimed_until < $2 or d.claimed_by not in (select worker from live))
       and w.rate_limit is null
    union all
    -- a paced subscription sends only in a turn this worker took (notifications/pacing.py), and its
    -- deliveries past its slots take no other subscription's place when the destinations are ranked
    select p.id, p.next_attempt_at, w.destination
      from slots s join webhooks w on w.id = s.webhook_id
      left join webhook_destinations b on b.destination = w.destination
     cross join lateral (
        select d.id, d.next_attempt_at from webhook_deliveries d
         where d.webhook_id = w.id and d.status = 'pending'
           and (d.next_attempt_at <= $2 or w.destination = any($8::text[]))
           and {SENDABLE}
           and (d.claimed_by is null or d.claimed_until < $2 or d.claimed_by not in (select worker from live))
         order by d.next_attempt_at, d.event_id, d.id  -- a backlog goes out in the order of its events
         limit s.slots
     ) p
     where w.rate_limit is not null
       and w.destination <> all($5::text[])
       and (w.destination = any($8::text[])
            or (b.opened_at is null and (b.held_until is null or b.held_until <= $2)))
), candidates as (
    select id, rank, next_attempt_at, probe from (
        select id, next_attempt_at, destination = any($8::text[]) as probe,
               row_number() over (partition by destination order by next_attempt_at, id) as rank
          from sendable
    ) ranked
     where rank <= case when probe then 1 else $6 end
     order by rank, next_attempt_at  -- breadth first: every team's first delivery before anyone's second,
     limit $4                        -- which is fairer and reuses each kept-alive connection
), locked as (
    select d.id, c.probe from webhook_deliveries d join candidates c on c.id = d.id
     where d.status = 'pending' and (d.next_attempt_at <= $2 or c.probe)
       and (d.claimed_by is null or d.claimed_until < $2 or d.claimed_by not in (select worker from live))
       for update of d skip locked
)
update webhook_deliveries d
   set claimed_by = $3, claimed_until = $2 + $7::interval
  from locked, webhooks w
 where d.id = locked.id and w.id = d.webhook_id
returning d.id, d.webhook_id, d.event_id, d.attempts, w.url, w.destination, w.organization_id,
          w.secret, w.previous_secret, w.previous_secret_expires_at, w.format, locked.probe
"""

# One statement records a batch of attempts and moves their deliveries on; a claim lost to another
# worker (our lease ran out) keeps the other worker's state, and its attempt number is not reused.
RECORD = """
with r as (
    select * from unnest($2::uuid[], $3::int[], $4::timestamptz[], $5::int[], $6::int[], $7::text[],
                         $8::text[], $9::text[], $10::timestamptz[])
             as r(id, number, attempted_at, status_code, latency_ms, error, response_body, outcome, next_at)
), logged as (
    -- A subscription deleted while its delivery was in flight took the delivery with it: nothing is
    -- left to log against. (Deleted between this statement's snapshot and its insert, the foreign key
    -- refuses the batch, and flush() writes its results one by one.)
    insert into webhook_attempts (delivery_id, number, attempted_at, worker, status_code, latency_ms, error,
                                  response_body)
    select id, number, attempted_at, $1, status_code, latency_ms, error, response_body
      from r where exists (select 1 from webhook_deliveries d where d.id = r.id)
    on conflict do nothing
)
update webhook_deliveries d
   set attempts = r.number, status = r.outcome, next_attempt_at = r.next_at,
       delivered_at = case when r.outcome = 'delivered' then r.attempted_at end,
       last_status_code = r.status_code, last_error = r.error,
       claimed_by = null, claimed_until = null, updated_at = now()
  from r
 where d.id = r.id and d.claimed_by = any($11::bigint[])
"""
