-- Issue 16: when a donation was received (the domain time), beside created_at (when it was recorded).
-- created_at is in the ledger's hash chain and stays the recording time; received_at is not hashed
-- (relief/chain.py KINDS), so adding it leaves every chain verifying as before.
alter table donations add column received_at timestamptz;

-- Entries recorded before this release were received when they were recorded, as far as anyone said.
alter table donations disable trigger donations_no_update;
update donations set received_at = created_at;
alter table donations enable trigger donations_no_update;

alter table donations alter column received_at set not null;
alter table donations alter column received_at set default now();
