-- One row per objection (异议) application, in the state the feed had delivered by the as-of date
-- (the night built, macro as_of_on, else the run date), with its verification deadline: the information
-- provider verifies within 15 working days for market subjects [001 2018 plan §4.9] and 20 for
-- natural persons [001 2017 §5.3], counted from the application date on the official calendar.
-- credit.add_working_days raises past the calendar's coverage, so it is only called when
-- applied_on + 40 days (more than 20 working days even across the Spring Festival) is covered;
-- otherwise the deadline is null and is_deadline_beyond_calendar says why.
with

applications as (
    select * from {{ ref('stg_objections__applications') }}
),

as_of as (
    select
        {{ as_of_on() }} as as_of_on
),

-- The calendar the working-day functions are compiled from (credit.refresh_working_calendar).
calendar_coverage as (
    select
        min(calendar_date) as covered_from,
        max(calendar_date) as covered_to
    from credit.working_day_index
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
        not coalesce(
            current_state.applied_on >= calendar_coverage.covered_from
            and current_state.applied_on + 40 <= calendar_coverage.covered_to,
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
                then credit.add_working_days(deadlines.applied_on, deadlines.verification_working_days)
        end as verification_due_on,
        case when deadlines.status in ('closed', 'refused') then deadlines.closed_on end as closed_on_effective
    from deadlines
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
        verification_working_days::integer as verification_working_days,
        verification_due_on,
        is_deadline_beyond_calendar,
        status,
        closed_on_effective as closed_on,
        -- Late when closed after the deadline, or still open when the as-of date is past it.
        case
            when verification_due_on is null then null
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
