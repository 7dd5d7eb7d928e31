-- The reconciliation that proves the audit's counts [rules §8; docs/audit.md]: per ledger batch of
-- the dual-publicity channels and Shijiazhuang's other administrative acts (admin_act) delivered by
-- the as-of date (the night built, macro as_of_on),
--   rows_received = rows_accepted + rows_quarantined + rows_refused   (meta.load_batches: a
--   quarantined row failed a critical check; a refused row passed its checks but its batch was
--   rejected by the gate, so none of it is used)
-- and where the accepted rows went: rows_accepted = rows_staged (+ rows_unstaged, expected 0), and
--   rows_staged = rows_counted + the differences per counting rule (int_audit_record_deliveries):
--   duplicate in the batch, re-delivery of a counted record, correction (补报), national push-down
--   of a record already delivered, and rows without a business key.
-- Grain: one row per batch.
with

batches as (
    select * from {{ ref('stg_meta__load_batches') }}
),

deliveries as (
    select * from {{ ref('int_audit_record_deliveries') }}
),

{{ as_of_cte() }},

by_batch as (
    select
        batch_id,
        count(*) as rows_staged,
        count(*) filter (where audit_rule = 'counted') as rows_counted,
        count(*) filter (where audit_rule = 'duplicate_in_batch') as rows_duplicate_in_batch,
        count(*) filter (where audit_rule = 'redelivery') as rows_redelivered,
        count(*) filter (where audit_rule = 'correction') as rows_corrected,
        count(*) filter (where audit_rule = 'pushdown_already_reported') as rows_pushdown_already_reported,
        count(*) filter (where audit_rule = 'not_countable') as rows_not_countable
    from deliveries
    group by batch_id
),

ledger as (
    select
        batches.batch_id,
        batches.source_id,
        batches.logical_date,
        batches.status,
        coalesce(batches.rows_received, 0) as rows_received,
        case when batches.status = 'accepted' then coalesce(batches.rows_accepted, 0) else 0 end
            as rows_accepted,
        coalesce(batches.rows_quarantined, 0) as rows_quarantined,
        case when batches.status = 'rejected' then coalesce(batches.rows_accepted, 0) else 0 end
            as rows_refused
    from batches
    cross join as_of
    where batches.source_id in ('admin_licence', 'admin_penalty', 'admin_act', 'dept_ledgers', 'national_pushdown')
        and batches.status in ('accepted', 'rejected')
        and batches.logical_date <= as_of.as_of_on
),

final as (
    select
        ledger.batch_id,
        ledger.source_id,
        ledger.logical_date,
        ledger.status,
        ledger.rows_received::bigint as rows_received,
        ledger.rows_accepted::bigint as rows_accepted,
        ledger.rows_quarantined::bigint as rows_quarantined,
        ledger.rows_refused::bigint as rows_refused,
        ledger.rows_received = ledger.rows_accepted + ledger.rows_quarantined + ledger.rows_refused
            as is_received_balanced,
        coalesce(by_batch.rows_staged, 0)::bigint as rows_staged,
        (ledger.rows_accepted - coalesce(by_batch.rows_staged, 0))::bigint as rows_unstaged,
        coalesce(by_batch.rows_counted, 0)::bigint as rows_counted,
        coalesce(by_batch.rows_duplicate_in_batch, 0)::bigint as rows_duplicate_in_batch,
        coalesce(by_batch.rows_redelivered, 0)::bigint as rows_redelivered,
        coalesce(by_batch.rows_corrected, 0)::bigint as rows_corrected,
        coalesce(by_batch.rows_pushdown_already_reported, 0)::bigint as rows_pushdown_already_reported,
        coalesce(by_batch.rows_not_countable, 0)::bigint as rows_not_countable,
        ledger.rows_accepted = coalesce(by_batch.rows_counted, 0)
            + coalesce(by_batch.rows_duplicate_in_batch, 0)
            + coalesce(by_batch.rows_redelivered, 0)
            + coalesce(by_batch.rows_corrected, 0)
            + coalesce(by_batch.rows_pushdown_already_reported, 0)
            + coalesce(by_batch.rows_not_countable, 0)
            as is_accepted_explained,
        as_of.as_of_on
    from ledger
    cross join as_of
    left join by_batch
        on by_batch.batch_id = ledger.batch_id
)

select * from final
