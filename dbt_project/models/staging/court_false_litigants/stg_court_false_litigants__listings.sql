-- Accepted 虚假诉讼失信人 rows only (false-litigation dishonest persons [004 (十五), (八)]): the batch
-- passed the gate and the row has no critical issue. Renames to English, casts dates, and keeps
-- natural persons' citizen IDs out of the view exactly as stg_court_debtors__listings does: a
-- person appears with the keyed hash of the ID (subject_hash(), the person's subject_id in every
-- feed and mart) and a masked form; the clear ID stays in raw only [rules §9; 001 2017 §5.1].
-- Organisations keep their USCC, which is public.
with

{{ accepted_rows('court_false_litigants', 'listings') }},

typed as (
    select
        accepted.*,
        credit.clean_text(subject_kind) = '自然人' as is_natural_person,
        credit.normalize_code(id_number) as normalized_id
    from accepted
),

final as (
    select
        {{ landed_row() }},
        credit.clean_text(case_number) as case_number,
        credit.clean_text(subject_name) as subject_name,
        case when is_natural_person then 'natural_person' else 'organisation' end as subject_type,
        case when not is_natural_person then normalized_id end as uscc,
        case when is_natural_person then {{ subject_hash('normalized_id') }} end as subject_id_hash,
        case
            when is_natural_person
                then left(normalized_id, 6) || '********' || right(normalized_id, 4)
        end as citizen_id_masked,
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(court_name) as court_name,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.clean_text(false_conduct) as false_conduct,
        credit.clean_text(sanction) as sanction,
        credit.try_date(decided_on) as decided_on,
        credit.try_date(published_on) as published_on,
        credit.try_date(removed_on) as removed_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from typed
)

select * from final
