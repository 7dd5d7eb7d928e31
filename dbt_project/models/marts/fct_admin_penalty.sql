-- One row per administrative penalty decision (决定书文号 + subject) and where it stands in its
-- publicity lifecycle as of a date: the night built, macro as_of_on, else the run date. Public from the
-- decision date until latest_end_on; an accepted repair (信用修复, 修复成功) ends publicity early but
-- never before earliest_end_on [000 §2.12; 001 2017 §5.4]; after latest_end_on the record is kept
-- as an archive, never public (超期公示 is a valid objection [000 §2.13]); while an objection about
-- it is accepted or under verification, publicity is suspended [001 2018 plan §4.9].
-- Decisions dated after the as-of date are left out (they did not exist yet); applications count
-- in the state the feed had delivered by the as-of date.
with

windows as (
    select * from {{ ref('int_penalties_publicity_windowed') }}
),

applications as (
    select * from {{ ref('stg_objections__applications') }}
),

as_of as (
    select
        {{ as_of_on() }} as as_of_on
),

known_applications as (
    select applications.*
    from applications
    cross join as_of
    where applications.batch_logical_date <= as_of.as_of_on
        and applications.applied_on <= as_of.as_of_on
        and applications.application_type is not null
        and applications.record_category = '行政处罚'
),

application_states as (
    select
        known_applications.*,
        row_number() over (
            partition by application_id
            order by batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc
        ) as recency
    from known_applications
),

current_applications as (
    select * from application_states where recency = 1
),

-- An application is about a decision when it names the decision's document number and, where the
-- decision has one, the same USCC.
applications_by_penalty as (
    select
        windows.penalty_id,
        current_applications.application_id,
        current_applications.application_type,
        current_applications.status,
        current_applications.outcome,
        current_applications.closed_on
    from windows
    inner join current_applications
        on current_applications.record_id = windows.decision_document_number
        and (windows.uscc is null or current_applications.uscc = windows.uscc)
),

repairs as (
    select
        penalty_id,
        min(closed_on) as repaired_on,
        min(application_id) as repair_application_id
    from applications_by_penalty
    where application_type = 'repair'
        and status = 'closed'
        and outcome = '修复成功'
        and closed_on is not null
    group by penalty_id
),

open_objections as (
    select
        penalty_id,
        count(*) as open_objection_count
    from applications_by_penalty
    where application_type = 'objection'
        and status in ('accepted', 'verifying')
    group by penalty_id
),

lifecycle as (
    select
        windows.*,
        as_of.as_of_on,
        repairs.repaired_on,
        repairs.repair_application_id,
        -- Repair never ends publicity before the minimum period, nor extends it past the maximum.
        case
            when repairs.repaired_on is not null
                then least(greatest(repairs.repaired_on, windows.earliest_end_on), windows.latest_end_on)
            else windows.latest_end_on
        end as publicity_ends_on,
        coalesce(open_objections.open_objection_count, 0)::integer as open_objection_count
    from windows
    cross join as_of
    left join repairs
        on repairs.penalty_id = windows.penalty_id
    left join open_objections
        on open_objections.penalty_id = windows.penalty_id
    where windows.publicity_start_on <= as_of.as_of_on
),

final as (
    select
        penalty_id,
        decision_document_number,
        subject_id,
        {{ masked_person_name('subject_name', 'subject_type') }} as subject_name,
        subject_type,
        uscc,
        penalty_category,
        violation_type,
        penalty_basis,
        authority_name,
        publicity_start_on,
        min_publicity_months,
        max_publicity_months,
        applied_rule_ids,
        earliest_end_on,
        latest_end_on,
        repaired_on,
        repair_application_id,
        publicity_ends_on,
        open_objection_count,
        case
            when as_of_on >= latest_end_on then 'expired_archived'
            when repaired_on is not null and as_of_on >= publicity_ends_on then 'repaired'
            when open_objection_count > 0 then 'suspended_by_objection'
            else 'public'
        end as publicity_status,
        (
            as_of_on < publicity_ends_on
            and as_of_on < latest_end_on
            and open_objection_count = 0
        ) as is_public,
        as_of_on,
        first_reported_on,
        last_reported_on,
        delivery_count,
        last_batch_id
    from lifecycle
)

select * from final
