{#- Re-deliveries and repeats across feeds (the national push-down repeats what a department sent
    [000 §2.3]) must count once: one fact per business key [domain conventions]. -#}

{#- Every row of `relation` with its rank within its business key (recency = 1 is the row the fact
    keeps: first in `order_by`) and the key's delivery history: first_reported_on /
    last_reported_on (earliest / latest `reported_on`) and delivery_count (rows of the key).
    Use as the body of a CTE, then keep `where recency = 1`:
        ranked as ({{ rank_deliveries('keyed', ['decision_document_number', 'subject_key'],
                                      'reported_on desc, batch_id desc, source_row_number desc') }}) -#}
{% macro rank_deliveries(relation, key_columns, order_by, reported_on='reported_on') -%}
    {%- set partition = key_columns | join(', ') -%}
    select
        {{ relation }}.*,
        row_number() over (partition by {{ partition }} order by {{ order_by }}) as recency,
        min({{ reported_on }}) over (partition by {{ partition }}) as first_reported_on,
        max({{ reported_on }}) over (partition by {{ partition }}) as last_reported_on,
        count(*) over (partition by {{ partition }}) as delivery_count
    from {{ relation }}
{%- endmacro %}

{#- A decision document number compared white-space, full-width and bracket insensitively:
    〔2019〕, [2019], （2019） and 【2019】 are one number (national exports write half-width
    brackets). Used by quality.qa_dual_publicity_evidence and the licence facts. -#}
{% macro document_key(column) -%}
    translate(
        regexp_replace(credit.normalize_code({{ column }}), '\s', '', 'g'),
        '[]［］【】()（）〖〗', '〔〕〔〕〔〕〔〕〔〕〔〕'
    )
{%- endmacro %}

{#- The courts' listings (fct_court_debtor, fct_false_litigant): the CTEs known, keyed and ranked
    over the CTE `listings` (and `as_of`): each listing delivered by the as-of date with its
    subject_id (a person's keyed hash, an organisation's valid USCC; others dropped), ranked per
    case and subject, the latest delivery first. -#}
{% macro court_listings_ranked() -%}
known as (
    select
        listings.*,
        case
            when listings.subject_type = 'natural_person' and length(listings.subject_id_hash) = 64
                then listings.subject_id_hash
            when listings.subject_type = 'organisation' and credit.is_valid_uscc(listings.uscc)
                then listings.uscc
        end as subject_id
    from listings
    cross join as_of
    where listings.batch_logical_date <= as_of.as_of_on
        and listings.case_number is not null
),

keyed as (
    select * from known where subject_id is not null
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['case_number', 'subject_id'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
)
{%- endmacro %}
