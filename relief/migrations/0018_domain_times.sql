-- Issue 16: when goods moved and money was paid out (the domain times), beside created_at (when it was
-- recorded). created_at (and a disbursement's decided_at) are in the ledger's hash chain and stay the
-- recording times; moved_at and disbursed_at are not hashed (relief/chain.py KINDS), so adding them leaves
-- every chain verifying as before.
alter table stock_movements add column moved_at timestamptz;
alter table disbursements add column disbursed_at timestamptz;

-- Entries recorded before this release happened when they were recorded, as far as anyone said: a
-- movement when it was recorded, a payment when it was approved (a proposal: when it was proposed).
alter table stock_movements disable trigger stock_movements_no_update;
update stock_movements set moved_at = created_at;
alter table stock_movements enable trigger stock_movements_no_update;

alter table disbursements disable trigger disbursements_no_rewrite;
update disbursements set disbursed_at = case when status = 'approved' then decided_at else created_at end;
alter table disbursements enable trigger disbursements_no_rewrite;

alter table stock_movements alter column moved_at set not null;
alter table stock_movements alter column moved_at set default now();
alter table disbursements alter column disbursed_at set not null;
alter table disbursements alter column disbursed_at set default now();
