-- Accepted 失信被执行人 rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, casts dates, and keeps natural persons' citizen IDs out of the view: a
-- person appears with the keyed hash of the ID (HMAC-SHA256, subject_hash(): the person's
-- subject_id in every feed and mart) and a masked form (region code and last four characters,
-- for people reading a listing); the clear ID stays in raw only [rules §9; 001 2017 §5.1]. The
-- hash is keyed because an 18-digit ID with a known birth date is easy to brute-force from a
-- plain one. Organisations keep their USCC, which is public.
with

{{ accepted_rows('court_debtors', 'listings') }},

{{ court_listing_typed_cte() }},

final as (
    select
        {{ landed_row() }},
        {{ court_listed_subject() }},
        case when is_natural_person then credit.clean_text(sex) end as sex,
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(court_name) as court_name,
        credit.try_date(filed_on) as filed_on,
        credit.clean_text(basis_document_number) as basis_document_number,
        credit.clean_text(basis_issuer) as basis_issuer,
        credit.clean_text(obligations) as obligations,
        credit.clean_text(performance_status) as performance_status,
        credit.clean_text(dishonest_conduct) as dishonest_conduct,
        credit.try_date(published_on) as published_on,
        credit.try_date(removed_on) as removed_on,
        credit.try_date(removed_on) is not null as is_removed,
        credit.try_timestamptz(updated_at) as source_updated_at
    from typed
)

select * from final
