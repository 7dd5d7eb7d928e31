-- Every credit subject any feed reports, resolved to one key [001 2018 plan §2.1; 000 §2.4]:
--   organisations and individual businesses by their USCC;
--   natural persons by the keyed hash of their resident ID (never the ID itself [rules §9]).
-- The registry's latest accepted record is the authority on a registered subject's name, type and
-- division. A subject the registry does not know takes its type from the code (92… = 个体工商户)
-- and its division from the code's characters 3-8; a person's division is the ID's first six.
-- A subject in a 重错码 conflict is flagged has_code_conflict and NOT merged silently: it keeps
-- the registry's name when registered, and no name otherwise (the candidate names are in
-- int_code_conflicts / rpt_code_conflicts, for the registering department to settle).
-- Grain: one row per subject.
with

codes as (
    select * from {{ ref('int_subject_codes_unioned') }}
),

registrations as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

conflicts as (
    select * from {{ ref('int_code_conflicts') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

licences as (
    select * from {{ ref('stg_admin_licence__licences') }}
),

penalties as (
    select * from {{ ref('stg_admin_penalty__penalties') }}
),

admin_acts as (
    select * from {{ ref('stg_admin_act__acts') }}
),

court_debtors as (
    select * from {{ ref('stg_court_debtors__listings') }}
),

credit_interviews as (
    select * from {{ ref('stg_credit_interviews__records') }}
),

false_litigants as (
    select * from {{ ref('stg_court_false_litigants__listings') }}
),

utility_gas as (
    select * from {{ ref('stg_utility_gas__bills') }}
),

utility_power as (
    select * from {{ ref('stg_utility_power__bills') }}
),

utility_water as (
    select * from {{ ref('stg_utility_water__bills') }}
),

registry_current as (
    select
        registrations.*,
        row_number() over (
            partition by uscc
            order by source_updated_at desc, batch_logical_date desc, source_row_number desc
        ) as recency
    from registrations
),

conflicted_codes as (
    select distinct uscc from conflicts
),

-- Organisations and individual businesses ------------------------------------------------------

code_evidence as (
    select
        uscc,
        array_agg(distinct source_id order by source_id) as source_ids,
        min(batch_logical_date) as first_seen_on,
        max(batch_logical_date) as last_seen_on,
        (array_agg(subject_name order by batch_logical_date desc, subject_name asc))[1] as latest_reported_name
    from codes
    group by uscc
),

organisations as (
    select
        code_evidence.uscc as subject_id,
        case
            when registry.uscc is not null then registry.subject_type
            when code_evidence.uscc like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        code_evidence.uscc,
        case
            when registry.uscc is not null then registry.subject_name
            when conflicted_codes.uscc is null then code_evidence.latest_reported_name
        end as subject_name,
        null::text as citizen_id_masked,
        coalesce(registry.registration_division_code, substr(code_evidence.uscc, 3, 6)) as division_code,
        case when registry.registration_division_code is not null then 'registry' else 'uscc' end
            as division_source,
        registry.uscc is not null as is_registered,
        conflicted_codes.uscc is not null as has_code_conflict,
        code_evidence.source_ids,
        code_evidence.first_seen_on,
        code_evidence.last_seen_on
    from code_evidence
    left join registry_current as registry
        on registry.uscc = code_evidence.uscc
        and registry.recency = 1
    left join conflicted_codes
        on conflicted_codes.uscc = code_evidence.uscc
),

-- Natural persons ------------------------------------------------------------------------------
-- The dual-publicity feeds and Shijiazhuang's other acts carry the (validated) ID in staging and
-- are hashed here; the others hash in staging. Only keyed hashes (64 hex characters) are taken:
-- a staging model still on its md5 placeholder (32) would key the same person differently, so it
-- waits until it calls subject_hash() too.

person_rows as (
    select
        {{ subject_hash('id_number') }} as subject_id,
        left(id_number, 6) || '********' || right(id_number, 4) as citizen_id_masked,
        left(id_number, 6) as division_code,
        subject_name,
        'admin_licence'::text as source_id,
        reported_on as batch_logical_date
    from licences
    where subject_type = 'natural_person' and credit.is_valid_citizen_id(id_number)
    union all
    select
        {{ subject_hash('id_number') }} as subject_id,
        left(id_number, 6) || '********' || right(id_number, 4) as citizen_id_masked,
        left(id_number, 6) as division_code,
        subject_name,
        'admin_penalty' as source_id,
        reported_on as batch_logical_date
    from penalties
    where subject_type = 'natural_person' and credit.is_valid_citizen_id(id_number)
    union all
    select
        {{ subject_hash('id_number') }} as subject_id,
        left(id_number, 6) || '********' || right(id_number, 4) as citizen_id_masked,
        left(id_number, 6) as division_code,
        subject_name,
        'admin_act' as source_id,
        reported_on as batch_logical_date
    from admin_acts
    where subject_type = 'natural_person' and credit.is_valid_citizen_id(id_number)
    union all
    select
        {{ subject_hash('id_number') }} as subject_id,
        left(id_number, 6) || '********' || right(id_number, 4) as citizen_id_masked,
        left(id_number, 6) as division_code,
        subject_name,
        'credit_interviews' as source_id,
        reported_on as batch_logical_date
    from credit_interviews
    where subject_type = 'natural_person' and credit.is_valid_citizen_id(id_number)
    union all
    select subject_id_hash, citizen_id_masked, left(citizen_id_masked, 6) as division_code, subject_name,
        'court_debtors' as source_id, batch_logical_date
    from court_debtors
    where subject_type = 'natural_person' and length(subject_id_hash) = 64
    union all
    select subject_id_hash, citizen_id_masked, left(citizen_id_masked, 6) as division_code, subject_name,
        'court_false_litigants' as source_id, batch_logical_date
    from false_litigants
    where subject_type = 'natural_person' and length(subject_id_hash) = 64
    union all
    select subject_id_hash, citizen_id_masked, left(citizen_id_masked, 6) as division_code, customer_name,
        'utility_gas' as source_id, reported_on
    from utility_gas
    where subject_type = 'natural_person' and length(subject_id_hash) = 64
    union all
    select subject_id_hash, citizen_id_masked, left(citizen_id_masked, 6) as division_code, customer_name,
        'utility_power' as source_id, reported_on
    from utility_power
    where subject_type = 'natural_person' and length(subject_id_hash) = 64
    union all
    select subject_id_hash, citizen_id_masked, left(citizen_id_masked, 6) as division_code, customer_name,
        'utility_water' as source_id, reported_on
    from utility_water
    where subject_type = 'natural_person' and length(subject_id_hash) = 64
),

persons as (
    select
        subject_id,
        'natural_person'::text as subject_type,
        null::text as uscc,
        (array_agg(subject_name order by batch_logical_date desc, subject_name asc))[1] as subject_name,
        min(citizen_id_masked) as citizen_id_masked,
        min(division_code) as division_code,
        'citizen_id'::text as division_source,
        false as is_registered,
        false as has_code_conflict,
        array_agg(distinct source_id order by source_id) as source_ids,
        min(batch_logical_date) as first_seen_on,
        max(batch_logical_date) as last_seen_on
    from person_rows
    group by subject_id
),

subjects as (
    select * from organisations
    union all
    select * from persons
),

final as (
    select
        subjects.subject_id,
        subjects.subject_type,
        case subjects.subject_type
            when 'organisation' then '法人及非法人组织'
            when 'individual_business' then '个体工商户'
            when 'natural_person' then '自然人'
        end as subject_category,
        subjects.uscc,
        subjects.subject_name,
        subjects.citizen_id_masked,
        subjects.division_code,
        subjects.division_source,
        divisions.reporting_unit_code as jurisdiction_code,
        subjects.is_registered,
        subjects.has_code_conflict,
        subjects.source_ids,
        subjects.first_seen_on,
        subjects.last_seen_on
    from subjects
    left join divisions
        on divisions.division_code = subjects.division_code
)

select * from final
