-- Accepted 虚假诉讼失信人 rows only (false-litigation dishonest persons [004 (十五), (八)]): the batch
-- passed the gate and the row has no critical issue. Renames to English, casts dates, and keeps
-- natural persons' citizen IDs out of the view exactly as stg_court_debtors__listings does: a
-- person appears with the keyed hash of the ID (subject_hash(), the person's subject_id in every
-- feed and mart) and a masked form; the clear ID stays in raw only [rules §9; 001 2017 §5.1].
-- Organisations keep their USCC, which is public.
with

{{ accepted_rows('court_false_litigants', 'listings') }},

{{ court_listing_typed_cte() }},

final as (
    select
        {{ landed_row() }},
        {{ court_listed_subject() }},
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
