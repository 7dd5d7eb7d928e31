-- One row per administrative penalty decision (决定书文号 + subject) and where it stands in its
-- life as of a date (the night built, macro as_of_on, else the run date); docs/record_lifecycle.md.
-- Publicity: public from the decision date until latest_end_on (the period of the rule in force on
-- the decision date: NDRC Order 36 by severity class from 2026-04-01, Order 58 before; a minor
-- record its department did not choose to publish is not_published); an accepted repair (信用修复,
-- 修复成功) ends publicity early but never before earliest_end_on [000 §2.12; 001 2017 §5.4]; after
-- latest_end_on the record is kept as an archive, never public (超期公示 is a valid objection
-- [000 §2.13]). An objection never takes a record off publicity ("严禁违规撤下公示期限未满或未经修复
-- 的行政处罚信息" [000 §2.12]): while the provider verifies it the record stays public, marked as
-- under objection (national status 2 异议), and only its punishment is suspended
-- (信息核实期间暂不执行联合惩戒措施 [001 2017 §5.3; 001 2018 plan §4.9]). An objection closed with
-- 撤销 or 更正 found the record wrong: it leaves publicity that night (national status 1 撤销) and
-- its punishment ends; a corrected record is public again once the department re-delivers it
-- after the correction. One closed with 维持 (or refused) leaves the record as it was.
-- A repair or withdrawal result of the national platform (push-down) applies from the night it came
-- down: repaired nationally, publicity ends on the national repair date (not held to the minimum:
-- the national result is authoritative); withdrawn nationally, the record is revoked ("实现与国家修复
-- 结果及时更新" [000 §2.12]).
-- Decisions dated after the as-of date are left out (they did not exist yet); applications count
-- in the state the feed had delivered by the as-of date.
with

windows as (
    select * from {{ ref('int_penalties_publicity_windowed') }}
),

{{ applications_as_of() }},

-- An application is about a decision when it names the decision's document number and, where the
-- decision has one, the same USCC.
applications_by_penalty as (
    select
        windows.penalty_id,
        current_applications.application_id,
        current_applications.application_type,
        current_applications.status,
        current_applications.outcome,
        current_applications.closed_on,
        current_applications.batch_logical_date,
        current_applications.source_updated_at
    from windows
    inner join current_applications
        on current_applications.record_id = windows.decision_document_number
        and current_applications.record_category = '行政处罚'
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

objections as (
    {{ objection_states('applications_by_penalty', 'penalty_id') }}
),

national_known as (
    select
        windows.*,
        case when windows.national_repair_pushed_on <= as_of.as_of_on then windows.national_repaired_on end
            as national_repaired_on_known,
        case when windows.national_withdrawal_pushed_on <= as_of.as_of_on then windows.national_withdrawn_on end
            as national_withdrawn_on_known
    from windows
    cross join as_of
),

lifecycle as (
    select
        windows.*,
        as_of.as_of_on,
        coalesce(
            least(repairs.repaired_on, windows.national_repaired_on_known), repairs.repaired_on,
            windows.national_repaired_on_known
        ) as repaired_on,
        repairs.repair_application_id,
        case
            when windows.national_repaired_on_known is not null
                and (repairs.repaired_on is null or windows.national_repaired_on_known <= repairs.repaired_on)
                then 'national'
            when repairs.repaired_on is not null then 'province'
        end as repair_source,
        -- A provincial repair never ends publicity before the minimum period; a national repair
        -- result ends it on its date; neither extends it past the maximum.
        least(
            case
                when repairs.repaired_on is not null
                    then least(greatest(repairs.repaired_on, windows.earliest_end_on), windows.latest_end_on)
                else windows.latest_end_on
            end,
            coalesce(windows.national_repaired_on_known, windows.latest_end_on)
        ) as publicity_ends_on,
        coalesce(objections.open_objection_count, 0)::integer as open_objection_count,
        objections.objection_opened_at,
        objections.last_rejected_at,
        -- Verification found the record wrong, unless the department has re-delivered the decision
        -- since (a corrected record is published again as corrected).
        case
            when objections.verified_wrong_outcome = '撤销'
                or windows.last_reported_on <= objections.verified_wrong_on
                then objections.verified_wrong_on
        end as verified_wrong_on,
        case
            when objections.verified_wrong_outcome = '撤销'
                or windows.last_reported_on <= objections.verified_wrong_on
                then objections.verified_wrong_outcome
        end as verified_wrong_outcome,
        objections.verified_wrong_at
    from national_known as windows
    cross join as_of
    left join repairs
        on repairs.penalty_id = windows.penalty_id
    left join objections
        on objections.penalty_id = windows.penalty_id
    where windows.publicity_start_on <= as_of.as_of_on
),

states as (
    select
        lifecycle.*,
        case
            when verified_wrong_outcome = '撤销' or national_withdrawn_on_known is not null then 'revoked'
            when verified_wrong_outcome = '更正' then 'corrected'
            -- A minor record (NDRC Order 36) its department did not choose to publish.
            when not is_published then 'not_published'
            when as_of_on >= latest_end_on then 'expired_archived'
            when repaired_on is not null and as_of_on >= publicity_ends_on then 'repaired'
            when open_objection_count > 0 then 'public_under_objection'
            else 'public'
        end as publicity_status
    from lifecycle
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
        severity_class,
        severity_rule_ids,
        publicity_start_on,
        min_publicity_months,
        max_publicity_months,
        applied_rule_ids,
        earliest_end_on,
        -- Repair may be applied for once the minimum period has passed (Order 36; for a minor
        -- record, once the legal duty is fulfilled: from the decision date).
        earliest_end_on as repair_eligible_on,
        latest_end_on,
        repaired_on,
        repair_application_id,
        repair_source,
        publicity_ends_on,
        open_objection_count,
        verified_wrong_on,
        publicity_status,
        publicity_status in ('public', 'public_under_objection') as is_public,
        -- National status (national layouts): 0 正常, 1 撤销, 2 异议; a repaired or archived record
        -- is still a valid record (0), it is only no longer published.
        case
            when publicity_status in ('revoked', 'corrected') then '1'
            when publicity_status = 'public_under_objection' then '2'
            else '0'
        end as national_status_code,
        case
            when publicity_status in ('revoked', 'corrected')
                then coalesce(verified_wrong_at, national_withdrawn_on_known::timestamp at time zone 'Asia/Shanghai')
            when publicity_status = 'public_under_objection' then objection_opened_at
            else greatest(last_rejected_at, last_reported_on::timestamp at time zone 'Asia/Shanghai')
        end as national_status_updated_at,
        -- Punishment (联合惩戒) follows the record: suspended while an objection is verified, ended
        -- by revocation / correction, repair [001 2017 §5.4] or the end of the period.
        case
            when publicity_status in ('revoked', 'corrected') then 'ended_by_revocation'
            when publicity_status in ('expired_archived', 'not_published') then 'ended_by_period'
            when publicity_status = 'repaired' then 'ended_by_repair'
            when publicity_status = 'public_under_objection' then 'suspended_by_objection'
            else 'in_force'
        end as punishment_state,
        as_of_on,
        first_reported_on,
        last_reported_on,
        delivery_count,
        last_batch_id
    from states
)

select * from final
