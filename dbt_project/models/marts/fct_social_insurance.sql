{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='social_insurance_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['social_insurance_id'], 'unique': true},
            {'columns': ['subject_id']},
            {'columns': ['validated_at']},
        ],
    )
}}
-- Employers' social-insurance contributions (单位参保缴费) per month [rules §4: 人社 参保缴费;
-- 002 #9 credit files in social security]. Grain: one row per subject (the employer's USCC) and
-- contribution month, over the three insurances 人社 collects.
--
-- Each (employer, insurance, month) is one record at the department, changed in place: declared,
-- later perhaps settled (补缴). Its latest state wins (department update time, then the night, then
-- the row); the month's totals add the insurances' latest states.
--
-- Incremental: a night reads only the staging rows of batches not merged yet (batches_to_merge)
-- and the table's own rows of the months those touch, unpivoted back to one row per insurance, so
-- a late record (a settlement of an old month, a back-filled night) lands in its (subject, month)
-- row and is compared with what the table holds, never with history. Rerunning a night changes
-- nothing but validated_at.
{%- set insurances = ['pension', 'unemployment', 'work_injury'] %}
{%- set merge_batches = batches_to_merge(['social_insurance']) %}
with

-- With the gate's acceptance time of each row's batch (validated_at): the watermark.
contributions as (
    {{ rows_to_merge('stg_social_insurance__contributions', merge_batches) }}
),

reported as (
    select
        md5(contributions.uscc || '|' || to_char(contributions.contribution_month, 'YYYY-MM'))
            as social_insurance_id,
        contributions.uscc,
        contributions.contribution_month,
        contributions.insurance_category,
        contributions.subject_name,
        contributions.insured_division_code,
        contributions.insured_headcount,
        contributions.amount_due,
        contributions.amount_paid,
        contributions.arrears_amount,
        contributions.source_updated_at as updated_at,
        contributions.batch_logical_date as reported_on,
        contributions.batch_logical_date as first_reported_on,
        contributions.batch_id,
        contributions.validated_at,
        contributions.source_row_number,
        true as is_reported
    from contributions
    where contributions.uscc is not null
        and contributions.contribution_month is not null
        and contributions.insurance_category is not null
),

{% if is_incremental() %}
-- What the table holds for the months this run touches, one row per insurance it has.
held as (
    {%- for insurance in insurances %}
    select
        existing.social_insurance_id,
        existing.uscc,
        existing.contribution_month,
        '{{ insurance }}'::text as insurance_category,
        existing.subject_name,
        existing.insured_division_code,
        existing.insured_headcount,
        existing.{{ insurance }}_amount_due as amount_due,
        existing.{{ insurance }}_amount_paid as amount_paid,
        existing.{{ insurance }}_arrears_amount as arrears_amount,
        existing.{{ insurance }}_updated_at as updated_at,
        existing.last_reported_on as reported_on,
        existing.first_reported_on,
        existing.last_batch_id as batch_id,
        existing.validated_at,
        0::bigint as source_row_number,
        false as is_reported
    from {{ this }} as existing
    where existing.{{ insurance }}_amount_due is not null
        and existing.social_insurance_id in (select reported.social_insurance_id from reported)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

candidates as (
    select * from reported
    union all
    select * from held
),
{% else %}
candidates as (
    select * from reported
),
{% endif %}

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by social_insurance_id, insurance_category
            order by updated_at desc nulls last, reported_on desc, is_reported desc, source_row_number desc
        ) as recency,
        min(first_reported_on) over (partition by social_insurance_id) as month_first_reported_on,
        max(reported_on) over (partition by social_insurance_id) as month_last_reported_on,
        max(validated_at) over (partition by social_insurance_id) as month_validated_at
    from candidates
),

current_states as (
    select * from ranked where recency = 1
),

months as (
    select
        social_insurance_id,
        uscc,
        contribution_month,
        {%- for insurance in insurances %}
        max(amount_due) filter (where insurance_category = '{{ insurance }}') as {{ insurance }}_amount_due,
        max(amount_paid) filter (where insurance_category = '{{ insurance }}') as {{ insurance }}_amount_paid,
        max(arrears_amount) filter (where insurance_category = '{{ insurance }}')
            as {{ insurance }}_arrears_amount,
        max(updated_at) filter (where insurance_category = '{{ insurance }}') as {{ insurance }}_updated_at,
        {%- endfor %}
        -- Names, division and headcount as the most recently changed insurance record has them.
        (array_agg(subject_name order by updated_at desc nulls last, reported_on desc, is_reported desc))[1]
            as subject_name,
        (array_agg(insured_division_code order by updated_at desc nulls last, reported_on desc, is_reported desc))[1]
            as insured_division_code,
        (array_agg(insured_headcount order by updated_at desc nulls last, reported_on desc, is_reported desc))[1]
            as insured_headcount,
        (array_agg(batch_id order by updated_at desc nulls last, reported_on desc, is_reported desc))[1]
            as last_batch_id,
        count(*) as insurance_count,
        sum(amount_due) as amount_due,
        sum(amount_paid) as amount_paid,
        sum(arrears_amount) as arrears_amount,
        min(month_first_reported_on) as first_reported_on,
        max(month_last_reported_on) as last_reported_on,
        max(month_validated_at) as validated_at
    from current_states
    group by social_insurance_id, uscc, contribution_month
),

final as (
    select
        social_insurance_id,
        uscc as subject_id,
        -- 92… is the 个体工商户 code range (GB 32100: registering authority 9 = 工商, kind 2).
        case when uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        uscc,
        subject_name,
        contribution_month,
        insured_division_code,
        insured_headcount,
        amount_due::numeric(18, 2) as amount_due,
        amount_paid::numeric(18, 2) as amount_paid,
        arrears_amount::numeric(18, 2) as arrears_amount,
        arrears_amount > 0 as is_in_arrears,
        insurance_count::integer as insurance_count,
        {%- for insurance in insurances %}
        {{ insurance }}_amount_due::numeric(18, 2) as {{ insurance }}_amount_due,
        {{ insurance }}_amount_paid::numeric(18, 2) as {{ insurance }}_amount_paid,
        {{ insurance }}_arrears_amount::numeric(18, 2) as {{ insurance }}_arrears_amount,
        {{ insurance }}_updated_at,
        {%- endfor %}
        first_reported_on,
        last_reported_on,
        last_batch_id,
        validated_at
    from months
)

select * from final
