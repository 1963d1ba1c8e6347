-- The estimated value (CNY) of the goods pledged against a call, beside its quantity counters, for the
-- summary's "goods value pledged": every pledge's estimate, unless it was rejected or withdrawn.
alter table calls add column committed_value numeric not null default 0;
