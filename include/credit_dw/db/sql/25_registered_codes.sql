-- Codes the market registry has registered: what the dual-publicity gates' "USCC known to the
-- registry" warning [issue 4; 000 §2.4] looks codes up in. One row per code and accepted registry
-- batch that carried it (accepted rows only, normalised); the gate refreshes a batch's rows each
-- time it validates it (`db.registered_codes.register_codes`, called by the gate), so a rerun leaves the same rows.
-- A table of its own rather than a lookup in raw.market_registry__subjects: the raw table holds
-- quarantined rows too, may not exist yet when another feed's gate runs, and would need an
-- expression index on credit.normalize_code(uscc) to be looked up per row.
create table if not exists meta.registered_codes (
    uscc        text not null,
    batch_id    text not null references meta.load_batches (batch_id) on delete cascade,
    source_id   text not null,
    primary key (batch_id, uscc)
);
create index if not exists registered_codes_uscc on meta.registered_codes (uscc);
comment on table meta.registered_codes is
    'USCCs of accepted rows of the registering feeds (catalog key registers_codes), per batch: the dual-publicity gates warn on organisation codes of market-regulation form (9…) not found here.';

-- Warehouses whose registry batches were validated before this table existed get their accepted
-- codes once, by the gate's own insert: `db.registered_codes.backfill_registered_codes`, called by bootstrap.

-- The lookup the suites call (an index probe per row; usable as `not credit.is_registered_code(…)`
-- inside a suite's query, whose {batch} relation cannot be aliased from the suite).
create or replace function credit.is_registered_code(code text) returns boolean
language sql stable parallel safe as $$
    select exists (select 1 from meta.registered_codes where uscc = code)
$$;
comment on function credit.is_registered_code(text) is
    'True when a normalised USCC is in an accepted batch of a registering feed (meta.registered_codes).';
