-- Accepted housing provident fund contribution rows only: the batch passed the gate and the row
-- has no critical issue. Renames the fund centres' keys to English, turns the YYYY-MM month into
-- its first day, casts amounts and rates, and names the contribution status.
with

source as (
    select * from {{ source('raw_housing_fund', 'housing_fund__contributions') }}
),

batches as (
    select * from {{ source('meta_housing_fund', 'load_batches') }}
),

row_issues as (
    select * from {{ source('meta_housing_fund', 'row_issues') }}
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
        _source_file as source_request,
        _source_row as source_record_position,
        credit.clean_text(fund_account) as fund_account,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        case when credit.clean_text(contribution_month) ~ '^[0-9][0-9][0-9][0-9]-(0[1-9]|1[0-2])$'
            then to_date(credit.clean_text(contribution_month) || '-01', 'YYYY-MM-DD') end as contribution_month,
        case when credit.clean_text(contributor_count) ~ '^[0-9]+$'
            and length(credit.clean_text(contributor_count)) <= 9
            then credit.clean_text(contributor_count)::integer end as contributor_count,
        case when credit.clean_text(monthly_amount) ~ '^[0-9]+([.][0-9]+)?$'
            then credit.clean_text(monthly_amount)::numeric end as monthly_amount,
        case when credit.clean_text(employer_rate) ~ '^[0-9]+([.][0-9]+)?$'
            then credit.clean_text(employer_rate)::numeric end as employer_rate,
        case when credit.clean_text(employee_rate) ~ '^[0-9]+([.][0-9]+)?$'
            then credit.clean_text(employee_rate)::numeric end as employee_rate,
        credit.clean_text(contribution_status) as contribution_status_code,
        case credit.clean_text(contribution_status)
            when '01' then 'paying'
            when '02' then 'deferred'
            when '03' then 'in_arrears'
            when '04' then 'suspended'
        end as contribution_status,
        case when credit.clean_text(months_in_arrears) ~ '^[0-9]+$'
            and length(credit.clean_text(months_in_arrears)) <= 9
            then credit.clean_text(months_in_arrears)::integer end as months_in_arrears,
        credit.clean_text(fund_centre) as fund_centre,
        credit.clean_text(division_code) as division_code,
        credit.try_date(posted_on) as posted_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
