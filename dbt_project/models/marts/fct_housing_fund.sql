{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='housing_fund_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['housing_fund_id'], 'unique': true},
            {'columns': ['subject_id']},
            {'columns': ['validated_at']},
        ],
    )
}}
-- Employers' housing provident fund contributions (住房公积金单位缴存) per month [rules §4: 公积金].
-- Grain: one row per subject (the employer's USCC) and contribution month. The fund centres post
-- one record per employer and month and may post it again when it changes (a deferral 缓缴, an
-- arrears 欠缴 later paid): the latest posting wins (department update time, then the night, then
-- the row). Organisations only: no employee's data comes in [rules §9].
--
-- Incremental: a night reads only the staging rows of batches not merged yet (batches_to_merge)
-- and the table's rows of the months they touch; a late posting for an earlier month lands in its
-- (subject, month) row if it is newer than what the table holds. Rerunning a night changes
-- nothing but validated_at.
{%- set merge_batches = batches_to_merge(['housing_fund']) %}
with

-- With the gate's acceptance time of each row's batch (validated_at): the watermark.
contributions as (
    {{ rows_to_merge('stg_housing_fund__contributions', merge_batches) }}
),

reported as (
    select
        md5(contributions.uscc || '|' || to_char(contributions.contribution_month, 'YYYY-MM'))
            as housing_fund_id,
        contributions.uscc as subject_id,
        case when contributions.uscc like '92%' then 'individual_business' else 'organisation' end
            as subject_type,
        contributions.uscc,
        contributions.subject_name,
        contributions.contribution_month,
        contributions.fund_account,
        contributions.fund_centre,
        contributions.contributor_count,
        contributions.monthly_amount::numeric(18, 2) as monthly_amount,
        contributions.employer_rate::numeric(6, 4) as employer_rate,
        contributions.employee_rate::numeric(6, 4) as employee_rate,
        contributions.contribution_status,
        coalesce(contributions.months_in_arrears, 0) as months_in_arrears,
        (contributions.contribution_status = 'in_arrears' or coalesce(contributions.months_in_arrears, 0) > 0)
            as is_in_arrears,
        contributions.posted_on,
        contributions.source_updated_at,
        contributions.batch_logical_date as first_reported_on,
        contributions.batch_logical_date as last_reported_on,
        contributions.batch_id as last_batch_id,
        contributions.validated_at,
        contributions.source_row_number,
        true as is_reported
    from contributions
    where contributions.uscc is not null
        and contributions.contribution_month is not null
),

candidates as (
    select * from reported
    {%- if is_incremental() %}
    union all
    select
        housing_fund_id, subject_id, subject_type, uscc, subject_name, contribution_month, fund_account,
        fund_centre, contributor_count, monthly_amount, employer_rate, employee_rate, contribution_status,
        months_in_arrears, is_in_arrears, posted_on, source_updated_at, first_reported_on, last_reported_on,
        last_batch_id, validated_at,
        0::bigint as source_row_number,
        false as is_reported
    from {{ this }} as existing
    where existing.housing_fund_id in (select reported.housing_fund_id from reported)
    {%- endif %}
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by housing_fund_id
            order by source_updated_at desc nulls last, last_reported_on desc, is_reported desc,
                source_row_number desc
        ) as recency,
        min(first_reported_on) over (partition by housing_fund_id) as month_first_reported_on,
        max(last_reported_on) over (partition by housing_fund_id) as month_last_reported_on,
        max(validated_at) over (partition by housing_fund_id) as month_validated_at
    from candidates
),

final as (
    select
        housing_fund_id,
        subject_id,
        subject_type,
        uscc,
        subject_name,
        contribution_month,
        fund_account,
        fund_centre,
        contributor_count,
        monthly_amount,
        employer_rate,
        employee_rate,
        contribution_status,
        months_in_arrears,
        is_in_arrears,
        posted_on,
        source_updated_at,
        month_first_reported_on as first_reported_on,
        month_last_reported_on as last_reported_on,
        last_batch_id,
        month_validated_at as validated_at
    from ranked
    where recency = 1
)

select * from final
