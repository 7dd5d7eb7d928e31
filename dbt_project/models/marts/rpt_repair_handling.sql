-- How credit repair applications (信用修复) are handled, the figures the office is measured on
-- ("提高信用修复成功率，严禁超期" [000 §2.12]): per handling department and city, applications,
-- decisions, the success rate (repaired ÷ decided: closed or refused) and the overdue ones - decided
-- after, or still open past, the office's handling deadline (seed handling_deadlines, working days
-- from the application on the official calendar). Grain: one row per handling department (受理部门)
-- and city of the applicant (digits 3-6 of its USCC + 00), as of the night built.
with

repairs as (
    select * from {{ ref('fct_repair') }}
),

deadlines as (
    select * from {{ ref('handling_deadlines') }}
),

calendar_coverage as (
    select
        min(calendar_date) as covered_from,
        max(calendar_date) as covered_to
    from {{ ref('stg_credit__working_days') }}
),

with_due as (
    select
        repairs.*,
        -- The office that accepted the application (受理部门) is the one that handles it and is
        -- measured on it ("提高信用修复成功率，严禁超期" [000 §2.12]): the success rate and the
        -- handling deadline are the handler's, not the record provider's, so unlike
        -- rpt_objection_handling (valid objections are the provider's errors [000 §2.13]) the
        -- repair figures stay with handled_by.
        coalesce(repairs.handled_by, '(unknown)') as handling_department,
        coalesce(substr(repairs.uscc, 3, 4) || '00', '(unknown)') as city_code,
        case
            when repairs.applied_on >= calendar_coverage.covered_from
                and repairs.applied_on + (deadlines.working_days * 2 + 30) <= calendar_coverage.covered_to
                then credit.add_working_days(repairs.applied_on, deadlines.working_days)
        end as due_on
    from repairs
    cross join calendar_coverage
    left join deadlines
        on deadlines.handling_kind = 'repair'
),

flagged as (
    select
        with_due.*,
        coalesce(closed_on, as_of_on) > due_on as is_overdue
    from with_due
),

final as (
    select
        md5(handling_department || '|' || city_code) as repair_handling_id,
        handling_department,
        city_code,
        count(*)::integer as application_count,
        (count(*) filter (where status in ('closed', 'refused')))::integer as decided_count,
        (count(*) filter (where outcome = 'repaired'))::integer as repaired_count,
        (count(*) filter (where outcome = 'rejected'))::integer as rejected_count,
        (count(*) filter (where outcome = 'refused'))::integer as refused_count,
        round(
            (count(*) filter (where outcome = 'repaired'))::numeric
            / nullif(count(*) filter (where status in ('closed', 'refused')), 0),
            4
        ) as success_rate,
        (count(*) filter (where is_overdue))::integer as overdue_count,
        (count(*) filter (where is_overdue and status not in ('closed', 'refused')))::integer as open_overdue_count,
        (count(*) filter (where due_on is null))::integer as deadline_unknown_count,
        max(as_of_on) as as_of_on
    from flagged
    group by handling_department, city_code
)

select * from final
