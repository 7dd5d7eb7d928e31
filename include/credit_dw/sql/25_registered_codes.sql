-- Codes the market registry has registered: what the dual-publicity gates' "USCC known to the
-- registry" warning [issue 4; 000 §2.4] looks codes up in. One row per code and accepted registry
-- batch that carried it (accepted rows only, normalised); the gate refreshes a batch's rows each
-- time it validates it (`gate._register_codes`), so a rerun leaves the same rows.
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

-- Warehouses whose registry batches were validated before this table existed: take their accepted
-- rows once; bootstrap runs every night, so only while the table is still empty.
do $$
begin
    if to_regclass('raw.market_registry__subjects') is not null
       and not exists (select 1 from meta.registered_codes) then
        insert into meta.registered_codes (uscc, batch_id, source_id)
        select distinct credit.normalize_code(r.uscc), r._batch_id, 'market_registry'
        from raw.market_registry__subjects as r
        join meta.load_batches as b on b.batch_id = r._batch_id and b.status = 'accepted'
        where credit.is_valid_uscc(credit.normalize_code(r.uscc))
          and not exists (select 1 from meta.row_issues as i
                          where i.batch_id = r._batch_id and i.row_number = r._row_number
                            and i.severity = 'critical')
        on conflict do nothing;
    end if;
end
$$;

-- The lookup the suites call (an index probe per row; usable as `not credit.is_registered_code(…)`
-- inside a suite's query, whose {batch} relation cannot be aliased from the suite).
create or replace function credit.is_registered_code(code text) returns boolean
language sql stable parallel safe as $$
    select exists (select 1 from meta.registered_codes where uscc = code)
$$;
comment on function credit.is_registered_code(text) is
    'True when a normalised USCC is in an accepted batch of a registering feed (meta.registered_codes).';
