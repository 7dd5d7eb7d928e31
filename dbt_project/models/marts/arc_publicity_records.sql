-- Publicity records kept as archive (转为档案保存) [000 §2.12; 001 2018 plan §2.6]: every
-- administrative penalty no longer published because its maximum period passed (expired_archived)
-- or because an accepted repair ended it (repaired [001 2017 §5.4]), as of the night built (macro as_of_on), else
-- the run date. Off the website, still part of the subject's credit file: the
-- credit office and the subject may read it, the public may not.
-- Both states are final as the as-of date moves forward (a later night never brings a record
-- back to publicity), so the table only grows night by night.
-- Grain: one row per penalty decision (决定书文号 + subject) off publicity on the as-of date.
with

penalties as (
    select * from {{ ref('fct_admin_penalty') }}
),

penalty_subjects as (
    select * from {{ ref('int_penalties_subjects_keyed') }}
),

final as (
    select
        penalties.penalty_id as archive_record_id,
        penalties.penalty_id,
        penalty_subjects.subject_id,
        penalties.subject_type,
        penalties.uscc,
        -- A natural person's name stays out of marts [rules §9].
        case when penalties.subject_type <> 'natural_person' then penalties.subject_name end as subject_name,
        penalties.decision_document_number,
        penalties.penalty_category,
        penalties.violation_type,
        penalties.authority_name,
        penalties.publicity_start_on,
        penalties.earliest_end_on,
        penalties.latest_end_on,
        penalties.repaired_on,
        penalties.repair_application_id,
        -- Why it left publicity, which stays true as the as-of date moves on (a repaired record
        -- reports expired_archived in fct_admin_penalty once its maximum period passes too).
        case
            when penalties.publicity_ends_on < penalties.latest_end_on then 'repaired'
            else 'expired_archived'
        end as archive_reason,
        penalties.publicity_status,
        -- The first day the record was off the website.
        penalties.publicity_ends_on as archived_on,
        penalties.as_of_on,
        penalties.first_reported_on,
        penalties.last_reported_on
    from penalties
    left join penalty_subjects
        on penalty_subjects.penalty_id = penalties.penalty_id
    where penalties.publicity_status in ('expired_archived', 'repaired')
)

select * from final
