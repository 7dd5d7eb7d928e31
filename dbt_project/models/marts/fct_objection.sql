-- One row per objection (异议) application, in the state the feed had delivered by the as-of date
-- (the night built, macro as_of_on, else the run date), with its verification deadline: the information
-- provider verifies within 15 working days for market subjects [001 2018 plan §4.9] and 20 for
-- natural persons [001 2017 §5.3], counted on the official calendar from the day the provider
-- received the verification notice ("在收到核查通知之日起" [001 2018 plan §4.9]): notified_on. An
-- objection without a notice date is counted from the application instead and flagged
-- (deadline_counted_from 'application', is_notice_date_missing), never silently. The provider
-- answers by replied_on (else, for a closed objection, its 办结日期).
-- credit.add_working_days raises past the calendar's coverage, so it is only called when the
-- start + 40 days (more than 20 working days even across the Spring Festival) is covered;
-- otherwise the deadline is null and is_deadline_beyond_calendar says why.
with

applications as (
    select * from {{ ref('stg_objections__applications') }}
),

{{ as_of_cte() }},

-- The calendar the working-day functions are compiled from (credit.working_day_index, rebuilt by
-- credit.refresh_working_calendar()).
calendar_coverage as (
    select
        min(calendar_date) as covered_from,
        max(calendar_date) as covered_to
    from {{ ref('stg_credit__working_days') }}
),

known_objections as (
    select applications.*
    from applications
    cross join as_of
    where applications.application_type = 'objection'
        and applications.batch_logical_date <= as_of.as_of_on
        and applications.applied_on <= as_of.as_of_on
),

states as (
    select
        known_objections.*,
        row_number() over (
            partition by application_id
            order by batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc
        ) as recency,
        min(batch_logical_date) over (partition by application_id) as first_received_on
    from known_objections
),

current_state as (
    select
        states.*,
        -- The feed carries a USCC for market subjects (organisations and 个体工商户 alike, all
        -- 15 working days); an application without one is a natural person's.
        case when states.uscc is null then 'natural_person' else 'organisation' end as subject_type
    from states
    where recency = 1
),

deadlines as (
    select
        current_state.*,
        as_of.as_of_on,
        case current_state.subject_type when 'natural_person' then 20 else 15 end as verification_working_days,
        coalesce(current_state.notified_on, current_state.applied_on) as deadline_start_on,
        not coalesce(
            coalesce(current_state.notified_on, current_state.applied_on) >= calendar_coverage.covered_from
            and coalesce(current_state.notified_on, current_state.applied_on) + 40 <= calendar_coverage.covered_to,
            false
        ) as is_deadline_beyond_calendar
    from current_state
    cross join as_of
    cross join calendar_coverage
),

with_due as (
    select
        deadlines.*,
        case
            when not deadlines.is_deadline_beyond_calendar
                then credit.add_working_days(deadlines.deadline_start_on, deadlines.verification_working_days)
        end as verification_due_on,
        case when deadlines.status in ('closed', 'refused') then deadlines.closed_on end as closed_on_effective,
        -- The provider's answer: its reply date, else the closing date of a closed objection.
        coalesce(
            deadlines.replied_on,
            case when deadlines.status = 'closed' then deadlines.closed_on end
        ) as answered_on,
        calendar_coverage.covered_from,
        calendar_coverage.covered_to
    from deadlines
    cross join calendar_coverage
),

final as (
    select
        application_id as objection_id,
        uscc,
        {{ masked_person_name('subject_name', 'subject_type') }} as subject_name,
        subject_type,
        record_category,
        record_id,
        objection_kind,
        handled_by,
        applied_on,
        notified_on,
        replied_on,
        case when notified_on is not null then 'notice' else 'application' end as deadline_counted_from,
        (notified_on is null and status in ('accepted', 'verifying', 'closed')) as is_notice_date_missing,
        verification_working_days::integer as verification_working_days,
        -- Handling times in working days [000 §2.13]: application → notice (acceptance),
        -- notice → answer (verification); null when a date is missing or outside the calendar.
        case
            when notified_on between covered_from and covered_to and applied_on between covered_from and covered_to
                then credit.working_days_between(applied_on, notified_on)
        end as acceptance_working_days,
        case
            when notified_on between covered_from and covered_to and answered_on between covered_from and covered_to
                then credit.working_days_between(notified_on, answered_on)
        end as verification_working_days_taken,
        answered_on,
        division_code as jurisdiction_code,
        verification_due_on,
        is_deadline_beyond_calendar,
        status,
        closed_on_effective as closed_on,
        -- Late when answered after the deadline, or still unanswered when the as-of date is past it
        -- (a refused objection was never sent for verification: late only if refused after it).
        case
            when verification_due_on is null then null
            when answered_on is not null then answered_on > verification_due_on
            when closed_on_effective is not null then closed_on_effective > verification_due_on
            else as_of_on > verification_due_on
        end as is_overdue,
        case
            when status = 'refused' then 'refused'
            when status <> 'closed' then null
            when outcome = '更正' then 'corrected'
            when outcome = '撤销' then 'revoked'
            when outcome = '维持' then 'upheld'
            else 'unknown'
        end as outcome,
        outcome as outcome_text,
        as_of_on,
        first_received_on,
        batch_logical_date as last_received_on,
        batch_id as last_batch_id
    from with_due
)

select * from final
