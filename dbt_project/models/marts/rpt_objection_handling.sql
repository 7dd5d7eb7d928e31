-- How the providing departments handle objections (异议), the figures the office is measured on
-- [000 §2.13]: how long objections wait to be accepted and sent for verification (application →
-- notice), how long verification takes (notice → answer) against the 15 / 20 working days
-- [001 2018 plan §4.9; 001 2017 §5.3], overdue ones, and the valid objections (found right:
-- corrected or revoked) by kind - 错误、遗漏、重复公示、不应公示、超期公示 - to drive down.
-- Grain: one row per providing department (受理部门) and city of the application, as of the
-- night built (fct_objection's as-of date).
with

objections as (
    select * from {{ ref('fct_objection') }}
),

keyed as (
    select
        objections.*,
        coalesce(objections.handled_by, '(unknown)') as providing_department,
        coalesce(left(objections.jurisdiction_code, 4) || '00', '(unknown)') as city_code,
        objections.outcome in ('corrected', 'revoked') as is_valid
    from objections
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
        avg(acceptance_working_days)::numeric(9, 2) as avg_acceptance_working_days,
        avg(verification_working_days_taken)::numeric(9, 2) as avg_verification_working_days,
        max(as_of_on) as as_of_on
    from keyed
    group by providing_department, city_code
)

select * from final
