-- Accepted A-level taxpayer list rows only: the batch passed the gate and the row has no critical
-- issue. Renames the tax bureau's keys to English and casts; the count and share of A-level
-- taxpayers is an assessed target [000 §2.7].
with

{{ accepted_rows('tax_a_level', 'taxpayers') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        {{ integer_or_null('evaluation_year') }} as evaluation_year,
        upper(credit.clean_text(credit_grade)) as credit_grade,
        credit.clean_text(tax_authority_code) as tax_authority_code,
        credit.clean_text(tax_authority_name) as tax_authority_name,
        credit.clean_text(division_code) as division_code,
        credit.try_date(published_on) as published_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
