-- Accepted social-insurance rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises the employer's code and casts text to types. The gate has already
-- proved the amounts and the month well-formed for accepted rows; headcount and base are not
-- gated, so their casts are guarded.
with

{{ accepted_rows('social_insurance', 'contributions') }},

final as (
    select
        {{ landed_row() }},
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(employer_number) as employer_number,
        credit.clean_text(division_code) as insured_division_code,
        credit.clean_text(insurance_type) as insurance_type,
        case credit.clean_text(insurance_type)
            when '企业职工基本养老保险' then 'pension'
            when '失业保险' then 'unemployment'
            when '工伤保险' then 'work_injury'
        end as insurance_category,
        credit.try_date(
            left(credit.clean_text(contribution_month), 4) || '-'
            || substr(credit.clean_text(contribution_month), 5, 2) || '-01'
        ) as contribution_month,
        {{ integer_or_null('insured_headcount', max_digits=none) }} as insured_headcount,
        {{ decimal_or_null('contribution_base', type='numeric(14, 2)') }} as contribution_base,
        credit.clean_text(amount_due)::numeric(14, 2) as amount_due,
        credit.clean_text(amount_paid)::numeric(14, 2) as amount_paid,
        credit.clean_text(arrears_amount)::numeric(14, 2) as arrears_amount,
        credit.clean_text(arrears_amount)::numeric(14, 2) > 0 as has_arrears,
        credit.clean_text(payment_status) as payment_status,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
