{#- The staging model of a utility company feed (供水 utility_water, 供电 utility_power, 供气
    utility_gas): the three feeds share one template and one catalog shape, so their staging is one
    body, and each model is one line over it (models/staging/utility_*/).

    Accepted 缴费及欠费 rows that may be used: the batch passed the gate, the row has no critical
    issue, and a natural person (个人) authorised the use of their data (是否授权 Y). A natural
    person's row without that authorisation was received and stays in raw, but never appears here
    [rules §4: utility data of natural persons only with the person's authorisation].
    Renames to English, normalises codes and casts amounts and dates with safe casts. An authorised
    person appears only as a hash of the normalised ID and a masked ID; the clear ID stays in raw
    [rules §9; 001 2017 §5.1]. Organisations keep their USCC (may be collected without consent).

    subject_id_hash is the keyed hash (HMAC-SHA256, subject_hash(): credit.subject_hash, key from
    restricted.subject_hash_key), the key natural persons have in int_subjects_resolved and every
    mart: an unkeyed hash of an 18-digit ID with a known birth date is easy to brute-force. -#}
{% macro stg_utility_bills(feed) -%}
with

{{ accepted_rows(feed, 'bills') }},

typed as (
    select
        accepted.*,
        credit.clean_text(customer_type) = '个人' as is_natural_person,
        coalesce(credit.normalize_code(is_authorised), '') = 'Y' as has_authorisation,
        credit.normalize_code(id_number) as normalized_id
    from accepted
),

usable as (
    select * from typed
    where not is_natural_person or has_authorisation
),

final as (
    select
        {{ landed_row('reported_on', origin='file', sender_code='utility_company_code') }},
        credit.clean_text(source_department) as utility_company,
        credit.clean_text(account_number) as account_number,
        credit.clean_text(customer_name) as customer_name,
        credit.clean_text(customer_type) as customer_type,
        case when is_natural_person then 'natural_person' else 'organisation' end as subject_type,
        case when not is_natural_person then credit.normalize_code(uscc) end as uscc,
        case when is_natural_person then {{ subject_hash('normalized_id') }} end as subject_id_hash,
        case
            when is_natural_person
                then left(normalized_id, 6) || '********' || right(normalized_id, 4)
        end as citizen_id_masked,
        case when is_natural_person then has_authorisation end as is_authorised,
        credit.clean_text(billing_period) as billing_period,
        {{ month_or_null('billing_period') }} as billing_month,
        {{ decimal_or_null('amount_due', signed=true) }} as amount_due,
        {{ decimal_or_null('amount_paid', signed=true) }} as amount_paid,
        {{ decimal_or_null('arrears_amount', signed=true) }} as arrears_amount,
        {{ integer_or_null('arrears_months', max_digits=3) }} as arrears_months,
        credit.try_date(paid_on) as paid_on,
        _extra as extra_columns
    from usable
)

select * from final
{%- endmacro %}
