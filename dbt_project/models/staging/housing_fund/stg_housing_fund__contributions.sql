-- Accepted housing provident fund contribution rows only: the batch passed the gate and the row
-- has no critical issue. Renames the fund centres' keys to English, turns the YYYY-MM month into
-- its first day, casts amounts and rates, and names the contribution status.
with

{{ accepted_rows('housing_fund', 'contributions') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.clean_text(fund_account) as fund_account,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        {{ month_or_null('contribution_month') }} as contribution_month,
        {{ integer_or_null('contributor_count') }} as contributor_count,
        {{ decimal_or_null('monthly_amount') }} as monthly_amount,
        {{ decimal_or_null('employer_rate') }} as employer_rate,
        {{ decimal_or_null('employee_rate') }} as employee_rate,
        credit.clean_text(contribution_status) as contribution_status_code,
        case credit.clean_text(contribution_status)
            when '01' then 'paying'
            when '02' then 'deferred'
            when '03' then 'in_arrears'
            when '04' then 'suspended'
        end as contribution_status,
        {{ integer_or_null('months_in_arrears') }} as months_in_arrears,
        credit.clean_text(fund_centre) as fund_centre,
        credit.clean_text(division_code) as division_code,
        credit.try_date(posted_on) as posted_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
