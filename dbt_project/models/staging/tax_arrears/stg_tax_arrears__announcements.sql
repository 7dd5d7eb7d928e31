-- Accepted tax arrears announcement rows only: the batch passed the gate and the row has no
-- critical issue. Renames the tax bureau's keys to English and casts amounts (yuan) and dates.
with

{{ accepted_rows('tax_arrears', 'announcements') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(business_address) as business_address,
        credit.clean_text(tax_type) as tax_type,
        {{ decimal_or_null('arrears_amount') }} as arrears_amount,
        {{ decimal_or_null('new_arrears_amount') }} as new_arrears_amount,
        credit.clean_text(announcement_issue) as announcement_issue,
        credit.clean_text(tax_authority_name) as tax_authority_name,
        credit.clean_text(division_code) as division_code,
        credit.try_date(announced_on) as announced_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
