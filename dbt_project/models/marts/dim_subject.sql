-- One row per credit subject known to the registry, keyed by its USCC: the latest accepted
-- registration record, with the jurisdiction it reports under [domain §3] (the registering
-- authority's division, or failing that the division in the code's characters 3-8).
-- A subject other feeds report under another name, or whose name comes with another code (重错码
-- [000 §2.4]), keeps its registry record here and is flagged has_code_conflict; the conflict is
-- listed in rpt_code_conflicts for the registering department, never merged silently.
with

registrations as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

conflicts as (
    select * from {{ ref('int_code_conflicts') }}
),

conflicted_codes as (
    select distinct uscc from conflicts
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
        coalesce(divisions.reporting_unit_code, code_divisions.reporting_unit_code) as jurisdiction_code,
        ranked.registered_on,
        ranked.registration_status,
        ranked.registration_status in ('存续', '在业') as is_active,
        ranked.source_updated_at,
        ranked.first_seen_on,
        ranked.batch_logical_date as last_changed_on,
        ranked.batch_id as last_batch_id,
        conflicted_codes.uscc is not null as has_code_conflict
    from ranked
    left join divisions
        on divisions.division_code = ranked.registration_division_code
    left join divisions as code_divisions
        on code_divisions.division_code = substr(ranked.uscc, 3, 6)
    left join conflicted_codes
        on conflicted_codes.uscc = ranked.uscc
    where ranked.recency = 1
)

select * from final
