-- The batch ledger as the marts read it: one row per feed and logical date. The incremental facts
-- join it for the gate's acceptance time (validated_at), the watermark macro batches_to_merge
-- reads back. A plain projection of meta.load_batches (a view: the ledger's indexes still serve).
with

source as (
    select * from {{ source('meta', 'load_batches') }}
),

final as (
    select
        batch_id,
        source_id,
        logical_date,
        status,
        rows_received,
        rows_accepted,
        rows_quarantined,
        rows_warned,
        failure_share,
        reject_threshold,
        attempts,
        started_at,
        extracted_at,
        landed_at,
        validated_at
    from source
)

select * from final
