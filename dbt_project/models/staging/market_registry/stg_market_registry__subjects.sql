-- Accepted registry rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises codes (full-width, spaces, case) and casts text to types.
-- The legal representative's ID is hashed / masked here, as the court-debtor feed does.
with

{{ accepted_rows('market_registry', 'subjects') }},

final as (
    select
        {{ landed_row() }},
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        case
            when credit.clean_text(subject_kind) = '个体工商户' or credit.normalize_code(uscc) like '92%'
                then 'individual_business'
            else 'organisation'
        end as subject_type,
        credit.clean_text(legal_representative) as legal_representative,
        -- The representative's resident ID never leaves raw in clear [rules §9]: the keyed hash
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
