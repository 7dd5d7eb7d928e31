-- Accepted credit-list rows only: the batch passed the gate and the row has no critical issue.
-- One row per list event [001; 004 §8]: an entry (列入), or the same entry again with its exit
-- date (移出). Renames to English, names the list kind (red 守信红名单, black 失信黑名单 /
-- 严重失信主体名单, key_attention 重点关注名单) and the event, normalises codes, casts dates.
with

{{ accepted_rows('credit_lists', 'entries') }},

final as (
    select
        {{ landed_row('received_on', origin='file', sender_code='delivering_department_code') }},
        case credit.clean_text(list_type)
            when '红名单' then '守信红名单'
            when '黑名单' then '失信黑名单'
            else credit.clean_text(list_type)
        end as list_type,
        case
            when credit.clean_text(list_type) in ('守信红名单', '红名单') then 'red'
            when credit.clean_text(list_type) in ('失信黑名单', '黑名单', '严重失信主体名单') then 'black'
            when credit.clean_text(list_type) = '重点关注名单' then 'key_attention'
        end as list_kind,
        credit.clean_text(list_name) as list_name,
        credit.clean_text(subject_name) as subject_name,
        credit.normalize_code(credit.clean_text(uscc)) as uscc,
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(listing_reason) as listing_reason,
        credit.clean_text(listing_basis) as listing_basis,
        credit.clean_text(listing_document_number) as listing_document_number,
        credit.try_date(listed_on) as listed_on,
        credit.try_date(valid_until) as valid_until,
        credit.try_date(removed_on) as removed_on,
        credit.clean_text(removal_reason) as removal_reason,
        case when credit.try_date(removed_on) is null then 'entry' else 'exit' end as list_event,
        credit.clean_text(deciding_department) as deciding_department,
        credit.normalize_code(credit.clean_text(deciding_department_uscc)) as deciding_department_uscc,
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
