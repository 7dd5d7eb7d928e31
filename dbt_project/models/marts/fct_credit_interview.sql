-- One row per credit interview (提示约谈 / 警示约谈, with its rectification deadline 限期整改) or
-- credit-repair training attendance (信用修复培训) a department held with a subject [004 (十二);
-- 002 #15], keyed by the reporting unit and its record number (记录编号), in the latest delivery by
-- the as-of date (the night built, macro as_of_on, else the run date): a record is re-sent when its
-- outcome changes (整改中 → 已整改 / 逾期未整改) and counts once. The interview record is part of
-- the subject's credit record ("约谈记录记入失信市场主体信用记录" [004 (十二)]): it reaches the profile
-- (prf_subject_credit_profile) and, through it, the archive (credit_archive).
-- Records held or first delivered after the as-of date are left out (they did not exist yet), and
-- so are records whose subject has no key (a person without a valid resident ID).
-- Rectification is overdue when the department reports 逾期未整改, or when it still reports 整改中
-- after the deadline has passed on the as-of date (the platform sees the lateness before the
-- department re-sends the record).
-- The jurisdiction is the subject's (dim_subject: registration division, else the code's division),
-- as for the audit counts. A natural person appears as the keyed hash and the masked ID only, never
-- the ID or a name (interview records are not published) [rules §9].
with

records as (
    select * from {{ ref('stg_credit_interviews__records') }}
),

subjects as (
    select * from {{ ref('dim_subject') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

{{ as_of_cte() }},

keyed as (
    select
        records.*,
        coalesce(records.source_department, records.authority_name) as reporting_unit,
        credit.normalize_code(records.record_number) as record_key
    from records
    cross join as_of
    where records.reported_on <= as_of.as_of_on
        and records.held_on <= as_of.as_of_on
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['reporting_unit', 'record_key'],
        'reported_on desc, batch_id desc, source_row_number desc'
    ) }}
),

latest as (
    select
        ranked.*,
        case
            when ranked.subject_type <> 'natural_person' and credit.is_valid_uscc(ranked.uscc) then ranked.uscc
            when ranked.subject_type = 'natural_person' and credit.is_valid_citizen_id(ranked.id_number)
                then {{ subject_hash('ranked.id_number') }}
        end as subject_id
    from ranked
    where ranked.recency = 1
),

located as (
    select
        latest.*,
        coalesce(subjects.jurisdiction_code, code_divisions.reporting_unit_code) as jurisdiction_code
    from latest
    left join subjects
        on subjects.subject_id = latest.subject_id
    left join divisions as code_divisions
        on code_divisions.division_code = case
            when latest.subject_type = 'natural_person' then left(latest.id_number, 6)
            else substr(latest.uscc, 3, 6)
        end
    where latest.subject_id is not null
),

final as (
    select
        md5(located.reporting_unit || '|' || located.record_key) as interview_id,
        located.record_number,
        located.record_kind,
        located.record_kind_name,
        located.record_kind in ('reminder_interview', 'warning_interview') as is_interview,
        located.subject_id,
        located.subject_type,
        case located.subject_type
            when 'natural_person' then '自然人'
            when 'individual_business' then '个体工商户'
            else '法人及非法人组织'
        end as subject_category,
        case when located.subject_type <> 'natural_person' then located.uscc end as uscc,
        -- Interview records are not published: a natural person's name stays out (docs/privacy.md).
        case when located.subject_type <> 'natural_person' then located.subject_name end as subject_name,
        case
            when located.subject_type = 'natural_person'
                then left(located.id_number, 6) || '********' || right(located.id_number, 4)
        end as citizen_id_masked,
        located.jurisdiction_code,
        jurisdictions.division_name as jurisdiction_name,
        located.held_on,
        located.matter,
        located.rectification_due_on,
        case located.outcome_name
            when '已整改' then 'rectified'
            when '整改中' then 'rectifying'
            when '逾期未整改' then 'overdue'
            when '合格' then 'passed'
            when '不合格' then 'failed'
        end as outcome,
        located.outcome_name,
        coalesce(
            located.outcome_name = '逾期未整改'
            or (located.outcome_name = '整改中' and located.rectification_due_on < as_of.as_of_on),
            false
        ) as is_rectification_overdue,
        located.authority_name,
        md5(located.authority_name) as authority_department_id,
        located.source_department,
        as_of.as_of_on,
        located.first_reported_on,
        located.last_reported_on,
        located.delivery_count::integer as delivery_count,
        located.batch_id as last_batch_id
    from located
    cross join as_of
    left join divisions as jurisdictions
        on jurisdictions.division_code = located.jurisdiction_code
)

select * from final
