{{ config(schema='intermediate', materialized='view') }}
-- The subject of each administrative penalty decision, keyed like int_subjects_resolved: the USCC
-- of an organisation or individual business, the keyed hash of a natural person's resident ID
-- (never the ID itself [domain §9]). fct_admin_penalty carries the USCC only, and
-- int_penalties_publicity_windowed the person's clear ID, so the profile joins through this.
-- A person without a valid ID has no subject (null subject_id), as in int_subjects_resolved.
-- Grain: one row per penalty decision (penalty_id).
with

windows as (
    select * from {{ ref('int_penalties_publicity_windowed') }}
),

final as (
    select
        penalty_id,
        case
            when subject_type <> 'natural_person' then uscc
            when credit.is_valid_citizen_id(credit.normalize_code(subject_key))
                then {{ subject_hash('subject_key') }}
        end as subject_id,
        subject_type
    from windows
)

select * from final
