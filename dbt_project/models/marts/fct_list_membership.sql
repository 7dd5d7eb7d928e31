-- Red (守信红名单), black (失信黑名单 / 严重失信主体名单) and key-attention (重点关注名单) list
-- memberships [001; 004 §8; domain §7]. Grain: one row per list entry (list type + 认定文书号 +
-- subject + entry date), in the latest state the lists had delivered by the as-of date
-- (the night built, macro as_of_on; else the run date). An exit (移出) comes as the entry again with its
-- exit date; an entry without an exit also ends when its validity (有效期至) is over.
with

entries as (
    select * from {{ ref('stg_credit_lists__entries') }}
),

as_of as (
    select
        {{ as_of_on() }} as as_of_on
),

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

final as (
    select
        md5(ranked.list_kind || '|' || ranked.document_key || '|' || ranked.uscc || '|' || ranked.listed_on::text)
            as list_membership_id,
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
        ) as is_current,
        as_of.as_of_on,
        ranked.first_reported_on,
        ranked.last_reported_on,
        ranked.delivery_count::integer as delivery_count,
        ranked.batch_id as last_batch_id
    from ranked
    cross join as_of
    where ranked.recency = 1
)

select * from final
