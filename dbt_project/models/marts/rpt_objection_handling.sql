-- How the providing departments handle objections (异议), the figures the office is measured on
-- [000 §2.13]: how long objections wait to be accepted and sent for verification (application →
-- notice), how long verification takes (notice → answer) against the 15 / 20 working days
-- [001 2018 plan §4.9; 001 2017 §5.3], overdue ones, and the valid objections (found right:
-- corrected or revoked) by kind - 错误、遗漏、重复公示、不应公示、超期公示 - to drive down.
-- The providing department (信息提供单位) is the one that provided the contested record, the one
-- the office holds to account for a valid objection: the record's own department in the fact it
-- comes from, matched as that fact matches its objections (涉及信息类别 + 涉及信息编号 + USCC):
--   行政处罚 → fct_admin_penalty.authority_name (决定机关), by decision number;
--   行政许可 → fct_admin_licence.authority_name (许可机关), by decision number;
--   …名单 (red, black, key-attention lists) → fct_list_membership.deciding_department, by 认定文书号;
--   失信被执行人 → fct_court_debtor.court_name, by 案号.
-- An objection whose record is not found there (another category such as 经营异常名录, a record
-- not delivered to the warehouse, or one without a department name) counts under the department
-- that received it (受理部门, handled_by) and in record_not_found_count, never silently.
-- Grain: one row per providing department and city of the application, as of the night built
-- (fct_objection's as-of date).
with

objections as (
    select * from {{ ref('fct_objection') }}
),

penalties as (
    select * from {{ ref('fct_admin_penalty') }}
),

licences as (
    select * from {{ ref('fct_admin_licence') }}
),

list_memberships as (
    select * from {{ ref('fct_list_membership') }}
),

court_debtors as (
    select * from {{ ref('fct_court_debtor') }}
),

record_departments as (
    select
        objections.objection_id,
        penalties.authority_name as record_department
    from objections
    inner join penalties
        on objections.record_category = '行政处罚'
        and penalties.decision_document_number = objections.record_id
        and (penalties.uscc is null or penalties.uscc = objections.uscc)
    union all
    select
        objections.objection_id,
        licences.authority_name as record_department
    from objections
    inner join licences
        on objections.record_category = '行政许可'
        and licences.decision_document_number = objections.record_id
        and (licences.uscc is null or licences.uscc = objections.uscc)
    union all
    select
        objections.objection_id,
        list_memberships.deciding_department as record_department
    from objections
    inner join list_memberships
        on objections.record_category like '%名单%'
        and list_memberships.listing_document_number = objections.record_id
        and list_memberships.uscc = objections.uscc
    union all
    select
        objections.objection_id,
        court_debtors.court_name as record_department
    from objections
    inner join court_debtors
        on objections.record_category = '失信被执行人'
        and court_debtors.case_number = objections.record_id
        and court_debtors.uscc = objections.uscc
),

-- One department per objection: a number matched by more than one record (a listing entered
-- twice under one 认定文书号) takes the first name in sort order, so the grain holds and reruns
-- agree.
record_department_by_objection as (
    select
        objection_id,
        min(record_department) as record_department
    from record_departments
    where record_department is not null
    group by objection_id
),

keyed as (
    select
        objections.*,
        coalesce(found.record_department, objections.handled_by, '(unknown)') as providing_department,
        found.record_department is null as is_record_not_found,
        coalesce(left(objections.jurisdiction_code, 4) || '00', '(unknown)') as city_code,
        objections.outcome in ('corrected', 'revoked') as is_valid
    from objections
    left join record_department_by_objection as found
        on found.objection_id = objections.objection_id
),

final as (
    select
        md5(providing_department || '|' || city_code) as objection_handling_id,
        providing_department,
        city_code,
        count(*)::integer as objection_count,
        (count(*) filter (where status in ('submitted', 'accepted', 'verifying')))::integer as open_count,
        (count(*) filter (where is_valid))::integer as valid_objection_count,
        (count(*) filter (where is_valid and objection_kind = 'error'))::integer as valid_error_count,
        (count(*) filter (where is_valid and objection_kind = 'omission'))::integer as valid_omission_count,
        (count(*) filter (where is_valid and objection_kind = 'duplicate_publicity'))::integer
            as valid_duplicate_publicity_count,
        (count(*) filter (where is_valid and objection_kind = 'should_not_be_public'))::integer
            as valid_should_not_be_public_count,
        (count(*) filter (where is_valid and objection_kind = 'over_period_publicity'))::integer
            as valid_over_period_publicity_count,
        (count(*) filter (where is_overdue))::integer as overdue_count,
        (count(*) filter (where is_notice_date_missing))::integer as notice_date_missing_count,
        (count(*) filter (where is_record_not_found))::integer as record_not_found_count,
        avg(acceptance_working_days)::numeric(9, 2) as avg_acceptance_working_days,
        avg(verification_working_days_taken)::numeric(9, 2) as avg_verification_working_days,
        max(as_of_on) as as_of_on
    from keyed
    group by providing_department, city_code
)

select * from final
