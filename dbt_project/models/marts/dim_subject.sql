-- One row per credit subject known to the registry, keyed by its USCC: the latest accepted
-- registration record, with the jurisdiction it reports under [domain §3].
with

registrations as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

ranked as (
    select
        registrations.*,
        row_number() over (
            partition by uscc
            order by source_updated_at desc, batch_logical_date desc, source_row_number desc
        ) as recency,
        min(batch_logical_date) over (partition by uscc) as first_seen_on
    from registrations
),

final as (
    select
        ranked.uscc as subject_id,
        ranked.uscc,
        ranked.subject_name,
        ranked.subject_type,
        ranked.legal_representative,
        ranked.registration_division_code,
        divisions.division_name as registration_division_name,
        divisions.reporting_unit_code as jurisdiction_code,
        ranked.registered_on,
        ranked.registration_status,
        ranked.registration_status in ('存续', '在业') as is_active,
        ranked.source_updated_at,
        ranked.first_seen_on,
        ranked.batch_logical_date as last_changed_on,
        ranked.batch_id as last_batch_id
    from ranked
    left join divisions
        on divisions.division_code = ranked.registration_division_code
    where ranked.recency = 1
)

select * from final
