{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='utility_payment_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['utility_payment_id'], 'unique': true},
            {'columns': ['subject_id']},
            {'columns': ['validated_at']},
        ],
    )
}}
-- Water, power and gas payment and arrears (水电气缴费及欠费) [000 §2.3, §2.5; rules §4].
-- Grain: one row per subject, utility (water / power / gas) and billing month (账期).
--
-- A company delivers every account's bill of a month in one file; a subject's accounts of that
-- utility and month are added up. A later delivery that carries the subject's month again (a
-- re-sent, corrected file) replaces it: the latest night wins, then the latest acceptance.
-- Natural persons are here only when they authorised the use of their utility data (是否授权 Y:
-- staging drops the others, and this model keeps only rows that say so) and only by the keyed
-- hash of their ID and the masked ID, never by name [rules §4, §9; 001 2017 §5.1].
--
-- Incremental: a night reads only the staging rows of batches not merged yet (batches_to_merge)
-- and the table's rows of the (subject, utility, month) keys they touch; a late bill for an
-- earlier month lands in its row. Rerunning a night changes nothing but validated_at.
{%- set utilities = ['water', 'power', 'gas'] %}
{%- set merge_batches = batches_to_merge(['utility_water', 'utility_power', 'utility_gas']) %}
with

{% for utility in utilities %}
-- With the gate's acceptance time of each row's batch (validated_at): the watermark.
{{ utility }}_bills as (
    select
        '{{ utility }}'::text as utility,
        bills.*
    from ({{ rows_to_merge('stg_utility_' ~ utility ~ '__bills', merge_batches) }}) as bills
),

{% endfor %}
bills as (
    {%- for utility in utilities %}
    select * from {{ utility }}_bills
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

usable as (
    select
        bills.*,
        case
            when bills.subject_type = 'natural_person' then bills.subject_id_hash
            else bills.uscc
        end as subject_id
    from bills
    where bills.billing_month is not null
        and bills.amount_due is not null
        and (
            (bills.subject_type = 'organisation' and bills.uscc is not null)
            -- [rules §4] a person's bill only with the authorisation, and only under the keyed hash
            or (
                bills.subject_type = 'natural_person'
                and bills.is_authorised
                and length(bills.subject_id_hash) = 64
            )
        )
),

-- One bill per company, account and month within a delivery: a file sent twice in one night
-- counts once (the later row).
account_bills as (
    select
        usable.*,
        row_number() over (
            partition by batch_id, utility_company_code, account_number, utility, billing_month, subject_id
            order by source_row_number desc
        ) as recency
    from usable
),

deliveries as (
    select
        md5(account_bills.subject_id || '|' || account_bills.utility || '|' || account_bills.billing_period)
            as utility_payment_id,
        account_bills.subject_id,
        case
            when account_bills.subject_type = 'natural_person' then 'natural_person'
            when account_bills.uscc like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        account_bills.uscc,
        max(account_bills.citizen_id_masked) as citizen_id_masked,
        -- A person's name is personal information and stays out of marts [rules §9].
        max(case when account_bills.subject_type = 'organisation' then account_bills.customer_name end)
            as subject_name,
        account_bills.utility,
        account_bills.billing_period,
        account_bills.billing_month,
        string_agg(distinct account_bills.utility_company_code, ',' order by account_bills.utility_company_code)
            as utility_company_codes,
        count(*) as account_count,
        sum(account_bills.amount_due) as amount_due,
        sum(coalesce(account_bills.amount_paid, 0)) as amount_paid,
        sum(coalesce(account_bills.arrears_amount, 0)) as arrears_amount,
        coalesce(max(account_bills.arrears_months), 0) as overdue_months,
        account_bills.reported_on,
        account_bills.batch_id,
        account_bills.validated_at
    from account_bills
    where account_bills.recency = 1
    group by
        account_bills.subject_id,
        account_bills.subject_type,
        account_bills.uscc,
        account_bills.utility,
        account_bills.billing_period,
        account_bills.billing_month,
        account_bills.reported_on,
        account_bills.batch_id,
        account_bills.validated_at
),

reported as (
    select
        utility_payment_id,
        subject_id,
        subject_type,
        uscc,
        citizen_id_masked,
        subject_name,
        utility,
        billing_period,
        billing_month,
        utility_company_codes,
        account_count::integer as account_count,
        amount_due::numeric(18, 2) as amount_due,
        amount_paid::numeric(18, 2) as amount_paid,
        arrears_amount::numeric(18, 2) as arrears_amount,
        overdue_months::integer as overdue_months,
        arrears_amount > 0 as is_in_arrears,
        reported_on,
        reported_on as first_reported_on,
        batch_id as last_batch_id,
        validated_at,
        true as is_reported
    from deliveries
),

candidates as (
    select * from reported
    {%- if is_incremental() %}
    union all
    select
        utility_payment_id, subject_id, subject_type, uscc, citizen_id_masked, subject_name, utility,
        billing_period, billing_month, utility_company_codes, account_count, amount_due, amount_paid,
        arrears_amount, overdue_months, is_in_arrears, reported_on, first_reported_on, last_batch_id,
        validated_at,
        false as is_reported
    from {{ this }} as existing
    where existing.utility_payment_id in (select reported.utility_payment_id from reported)
    {%- endif %}
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by utility_payment_id
            order by reported_on desc, validated_at desc, is_reported desc, last_batch_id desc
        ) as recency,
        min(first_reported_on) over (partition by utility_payment_id) as key_first_reported_on,
        max(validated_at) over (partition by utility_payment_id) as key_validated_at
    from candidates
),

final as (
    select
        utility_payment_id,
        subject_id,
        subject_type,
        uscc,
        citizen_id_masked,
        subject_name,
        utility,
        billing_period,
        billing_month,
        utility_company_codes,
        account_count,
        amount_due,
        amount_paid,
        arrears_amount,
        overdue_months,
        is_in_arrears,
        reported_on,
        key_first_reported_on as first_reported_on,
        last_batch_id,
        key_validated_at as validated_at
    from ranked
    where recency = 1
)

select * from final
