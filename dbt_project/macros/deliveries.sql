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
