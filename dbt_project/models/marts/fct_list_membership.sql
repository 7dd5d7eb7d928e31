-- Red (守信红名单), black (失信黑名单 / 严重失信主体名单) and key-attention (重点关注名单) list
-- memberships [001; 004 §8; rules §7]. Grain: one row per list entry (list type + 认定文书号 +
-- subject + entry date), in the latest state the lists had delivered by the as-of date
-- (the night built, macro as_of_on; else the run date). An exit (移出) comes as the entry again with its
-- exit date; an entry without an exit also ends when its validity (有效期至) is over.
-- Punishment state of a black or key-attention listing (docs/record_lifecycle.md): suspended while
-- an objection against it is verified (信息核实期间暂不执行联合惩戒措施 [001 2017 §5.3; 001 2018 plan
-- §4.9]); ended by revocation when verification found it wrong (撤销 / 更正: the listing is no
-- longer current), by exit (移出) or by the end of its validity. Objections name a listing by its
-- 认定文书号 (涉及信息编号) and the subject's USCC, with a 涉及信息类别 that is a list (…名单).
with

entries as (
    select * from {{ ref('stg_credit_lists__entries') }}
),

{{ applications_as_of() }},

known as (
    select
        entries.*,
        coalesce(entries.listing_document_number, '') as document_key
    from entries
    cross join as_of
    where entries.received_on <= as_of.as_of_on
        and entries.list_kind is not null
        and entries.listed_on is not null
        and credit.is_valid_uscc(entries.uscc)
),

ranked as (
    {{ rank_deliveries(
        'known',
        ['list_kind', 'document_key', 'uscc', 'listed_on'],
        'received_on desc, (removed_on is not null) desc, batch_id desc, source_row_number desc',
        reported_on='received_on'
    ) }}
),

memberships as (
    select
        md5(ranked.list_kind || '|' || ranked.document_key || '|' || ranked.uscc || '|' || ranked.listed_on::text)
            as list_membership_id,
        ranked.*
    from ranked
    where ranked.recency = 1
),

applications_by_listing as (
    select
        memberships.list_membership_id,
        current_applications.*
    from memberships
    inner join current_applications
        on current_applications.record_id = memberships.listing_document_number
        and current_applications.uscc = memberships.uscc
        and current_applications.record_category like '%名单%'
),

objections as (
    {{ objection_states('applications_by_listing', 'list_membership_id') }}
),

final as (
    select
        ranked.list_membership_id,
        ranked.uscc as subject_id,
        case when ranked.uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        ranked.uscc,
        ranked.subject_name,
        ranked.list_kind as list_type,
        ranked.list_type as list_type_name,
        ranked.list_name,
        ranked.listing_reason,
        ranked.listing_basis,
        ranked.listing_document_number,
        ranked.deciding_department,
        md5(ranked.deciding_department) as deciding_department_id,
        ranked.listed_on as entered_on,
        ranked.valid_until,
        -- An exit dated after the as-of date has not happened yet.
        case when ranked.removed_on <= as_of.as_of_on then ranked.removed_on end as exited_on,
        case when ranked.removed_on <= as_of.as_of_on then ranked.removal_reason end as exit_reason,
        (
            ranked.listed_on <= as_of.as_of_on
            and (ranked.removed_on is null or ranked.removed_on > as_of.as_of_on)
            and (ranked.valid_until is null or ranked.valid_until >= as_of.as_of_on)
            and objections.verified_wrong_on is null
        ) as is_current,
        coalesce(objections.open_objection_count, 0) as open_objection_count,
        objections.verified_wrong_on,
        -- Red list entries are rewards, not punishment: no punishment state.
        case
            when ranked.list_kind = 'red' then null
            when ranked.listed_on > as_of.as_of_on then 'not_yet_in_force'
            when objections.verified_wrong_on is not null then 'ended_by_revocation'
            when ranked.removed_on <= as_of.as_of_on then 'ended_by_exit'
            when ranked.valid_until < as_of.as_of_on then 'ended_by_period'
            when objections.open_objection_count > 0 then 'suspended_by_objection'
            else 'in_force'
        end as punishment_state,
        as_of.as_of_on,
        ranked.first_reported_on,
        ranked.last_reported_on,
        ranked.delivery_count::integer as delivery_count,
        ranked.batch_id as last_batch_id
    from memberships as ranked
    cross join as_of
    left join objections
        on objections.list_membership_id = ranked.list_membership_id
)

select * from final
