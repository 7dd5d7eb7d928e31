-- Accepted registry rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises codes (full-width, spaces, case) and casts text to types.
-- The legal representative's ID is hashed / masked here, as the court-debtor feed does.
with

source as (
    select * from {{ source('raw', 'market_registry__subjects') }}
),

batches as (
    select * from {{ source('meta', 'load_batches') }}
),

row_issues as (
    select * from {{ source('meta', 'row_issues') }}
),

accepted as (
    select
        source.*,
        batches.logical_date as batch_logical_date
    from source
    inner join batches
        on batches.batch_id = source._batch_id
        and batches.status = 'accepted'
    where not exists (
        select 1
        from row_issues
        where row_issues.batch_id = source._batch_id
            and row_issues.row_number = source._row_number
            and row_issues.severity = 'critical'
    )
),

final as (
    select
        _batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        case
            when credit.clean_text(subject_kind) = '个体工商户' or credit.normalize_code(uscc) like '92%'
                then 'individual_business'
            else 'organisation'
        end as subject_type,
        credit.clean_text(legal_representative) as legal_representative,
        -- The representative's resident ID never leaves raw in clear [domain §9]: the keyed hash
        -- links the person across feeds, the masked form is for people reading a record. An ID
        -- failing GB 11643 (or a foreign document) gives neither.
        case
            when credit.is_valid_citizen_id(credit.normalize_code(legal_representative_id))
                then {{ subject_hash('legal_representative_id') }}
        end as legal_representative_id_hash,
        case
            when credit.is_valid_citizen_id(credit.normalize_code(legal_representative_id))
                then left(credit.normalize_code(legal_representative_id), 6) || '********'
                    || right(credit.normalize_code(legal_representative_id), 4)
        end as legal_representative_id_masked,
        credit.clean_text(division_code) as registration_division_code,
        credit.try_date(registered_on) as registered_on,
        credit.clean_text(status) as registration_status,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
