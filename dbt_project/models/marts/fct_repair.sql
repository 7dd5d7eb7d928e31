-- Credit repair applications (信用修复) [000 §2.12; 004 §13; 001 2017 §5.4]: one row per repair
-- application (申请编号), in its latest state delivered by the as-of date (the night built, macro as_of_on,
-- tests; else the run date), linked to the penalty it repairs: for a 行政处罚 record, the
-- fct_admin_penalty decision whose document number is the application's 涉及信息编号 and whose
-- USCC is the applicant's (the link fct_admin_penalty itself uses to end publicity early).
-- Objections (异议) are in fct_objection.
with

applications as (
    select * from {{ ref('stg_objections__applications') }}
),

penalties as (
    select * from {{ ref('fct_admin_penalty') }}
),

{{ as_of_cte() }},

known as (
    select applications.*
    from applications
    cross join as_of
    where applications.batch_logical_date <= as_of.as_of_on
        and applications.applied_on <= as_of.as_of_on
        and applications.application_type = 'repair'
        and applications.application_id is not null
        and credit.is_valid_uscc(applications.uscc)
),

ranked as (
    {{ rank_deliveries(
        'known',
        ['application_id'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
),

repairs as (
    select * from ranked where recency = 1
),

linked_penalties as (
    select
        repairs.application_id,
        min(penalties.penalty_id) as penalty_id
    from repairs
    inner join penalties
        on penalties.decision_document_number = repairs.record_id
        and (penalties.uscc is null or penalties.uscc = repairs.uscc)
    where repairs.record_category = '行政处罚'
    group by repairs.application_id
),

final as (
    select
        repairs.application_id as repair_id,
        repairs.uscc as subject_id,
        case when repairs.uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        repairs.uscc,
        repairs.subject_name,
        repairs.record_category,
        repairs.record_id,
        linked_penalties.penalty_id,
        repairs.repair_path,
        repairs.handled_by,
        md5(repairs.handled_by) as handled_by_department_id,
        repairs.applied_on,
        repairs.status,
        case when repairs.status in ('closed', 'refused') then repairs.closed_on end as closed_on,
        case
            when repairs.status = 'refused' then 'refused'
            when repairs.status = 'closed' and repairs.outcome = '修复成功' then 'repaired'
            when repairs.status = 'closed' and repairs.outcome = '修复不通过' then 'rejected'
            when repairs.status = 'closed' then 'unknown'
        end as outcome,
        repairs.outcome as outcome_text,
        coalesce(repairs.status = 'closed' and repairs.outcome = '修复成功', false) as is_repaired,
        as_of.as_of_on,
        repairs.first_reported_on as first_received_on,
        repairs.last_reported_on as last_received_on,
        repairs.batch_id as last_batch_id
    from repairs
    cross join as_of
    left join linked_penalties
        on linked_penalties.application_id = repairs.application_id
)

select * from final
