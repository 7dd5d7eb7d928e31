-- One row per credit subject any feed reports [001 2018 plan §2.1]: every subject of
-- int_subjects_resolved (organisations and individual businesses by USCC, natural persons by the
-- keyed hash of their resident ID), plus the legal representatives / operators the registry names
-- (int_legal_representatives) that no other feed reported yet, since an enterprise's serious
-- dishonesty is also recorded against them [001 2017 §4.1; 004 §11].
-- A registered subject carries its latest accepted registration record, with the jurisdiction it
-- reports under [rules §3] (the registering authority's division, or failing that the division in
-- the code's characters 3-8); an unregistered one what int_subjects_resolved could tell (type and
-- division from the code, or from the ID for persons), with is_registered false.
-- Natural persons appear only as the hash and the masked ID: no name, no clear ID [rules §9].
-- A subject other feeds report under another name, or whose name comes with another code (重错码
-- [000 §2.4]), keeps its registry record here and is flagged has_code_conflict; the conflict is
-- listed in rpt_code_conflicts for the registering department, never merged silently.
-- last_changed_on / last_batch_id stay the registry's (the national export sends the subjects
-- whose registration changed that night): empty for unregistered subjects.
with

resolved as (
    select * from {{ ref('int_subjects_resolved') }}
),

registrations as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

representatives as (
    select * from {{ ref('int_legal_representatives') }}
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

registry_current as (
    select * from ranked where recency = 1
),

-- Representatives no feed reported as a subject yet: subjects of their own, known from the registry.
representatives_only as (
    select
        representatives.person_subject_id as subject_id,
        min(representatives.person_citizen_id_masked) as citizen_id_masked,
        min(representatives.valid_from_on) as first_seen_on,
        max(representatives.last_reported_on) as last_seen_on
    from representatives
    left join resolved
        on resolved.subject_id = representatives.person_subject_id
    where resolved.subject_id is null
    group by representatives.person_subject_id
),

subjects as (
    select
        subject_id,
        subject_type,
        subject_category,
        uscc,
        subject_name,
        citizen_id_masked,
        division_code,
        division_source,
        jurisdiction_code,
        is_registered,
        has_code_conflict,
        array_to_string(source_ids, ',') as source_ids,
        first_seen_on,
        last_seen_on
    from resolved
    union all
    select
        representatives_only.subject_id,
        'natural_person' as subject_type,
        '自然人' as subject_category,
        null as uscc,
        null as subject_name,
        representatives_only.citizen_id_masked,
        left(representatives_only.citizen_id_masked, 6) as division_code,
        'citizen_id' as division_source,
        divisions.reporting_unit_code as jurisdiction_code,
        false as is_registered,
        false as has_code_conflict,
        'market_registry' as source_ids,
        representatives_only.first_seen_on,
        representatives_only.last_seen_on
    from representatives_only
    left join divisions
        on divisions.division_code = left(representatives_only.citizen_id_masked, 6)
),

final as (
    select
        subjects.subject_id,
        subjects.uscc,
        -- A natural person's name is personal information and stays out of marts [rules §9].
        case when subjects.subject_type <> 'natural_person' then subjects.subject_name end as subject_name,
        subjects.subject_type,
        subjects.subject_category,
        subjects.citizen_id_masked,
        registry.legal_representative,
        registry.legal_representative_id_hash as legal_representative_subject_id,
        registry.legal_representative_id_masked,
        registry.registration_division_code,
        registration_divisions.division_name as registration_division_name,
        subjects.division_code,
        subjects.division_source,
        coalesce(
            registration_divisions.reporting_unit_code,
            subjects.jurisdiction_code,
            code_divisions.reporting_unit_code
        ) as jurisdiction_code,
        registry.registered_on,
        registry.registration_status,
        case when registry.uscc is not null then registry.registration_status in ('存续', '在业') end
            as is_active,
        registry.uscc is not null as is_registered,
        registry.source_updated_at,
        coalesce(registry.first_seen_on, subjects.first_seen_on) as first_seen_on,
        subjects.last_seen_on,
        registry.batch_logical_date as last_changed_on,
        registry.batch_id as last_batch_id,
        subjects.has_code_conflict,
        subjects.source_ids
    from subjects
    left join registry_current as registry
        on registry.uscc = subjects.uscc
    left join divisions as registration_divisions
        on registration_divisions.division_code = registry.registration_division_code
    left join divisions as code_divisions
        on code_divisions.division_code = substr(subjects.uscc, 3, 6)
)

select * from final
