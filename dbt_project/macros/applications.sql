{#- Objection (异议) and repair (信用修复) applications as the facts read them: one row per
    application, in the state the objections feed had delivered by the as-of date. `relation` is
    the CTE holding stg_objections__applications, `as_of` the CTE holding as_of_on. Use as the body
    of a CTE:
        current_applications as ({{ current_applications('applications', 'as_of') }}) -#}
{% macro current_applications(relation, as_of) -%}
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ relation }}.application_id
                order by {{ relation }}.batch_logical_date desc, {{ relation }}.source_updated_at desc nulls last,
                    {{ relation }}.source_row_number desc
            ) as recency
        from {{ relation }}
        cross join {{ as_of }}
        where {{ relation }}.batch_logical_date <= {{ as_of }}.as_of_on
            and {{ relation }}.applied_on <= {{ as_of }}.as_of_on
            and {{ relation }}.application_type is not null
    ) as application_states
    where recency = 1
{%- endmacro %}

{#- The CTEs a fact starts from when objections and repairs bear on its records: `applications`
    (stg_objections__applications), `as_of` (the night built, macro as_of_on) and
    `current_applications` (above). Use as CTEs:
        with

        {{ applications_as_of() }},

        known as (... cross join as_of ...) -#}
{% macro applications_as_of() -%}
applications as (
    select * from {{ ref('stg_objections__applications') }}
),

{{ as_of_cte() }},

current_applications as (
    {{ current_applications('applications', 'as_of') }}
)
{%- endmacro %}

{#- What the objections about a record mean for it (docs/record_lifecycle.md), one row per record:
    `matched` holds one row per (record, current objection application) with the record's key in
    `key_column` and the application's columns. An objection is open while accepted (the provider
    has been notified) or under verification: joint punishment is suspended, publicity is not
    (信息核实期间暂不执行联合惩戒措施 [001 2017 §5.3; 001 2018 plan §4.9]). Closed with 撤销 or 更正,
    verification found the record wrong: it is revoked or corrected (经核实信息有误的应及时更正或撤销,
    ibid.); closed with 维持 (核实无误的继续执行) or refused, the record stays as it was.
    Columns: open_objection_count, objection_opened_at (latest change of an open one),
    verified_wrong_on / verified_wrong_outcome / verified_wrong_at (the first objection that found
    the record wrong: its 办结日期, 撤销 or 更正, its change time), last_rejected_at (change time of
    the latest one closed 维持 or refused). -#}
{% macro objection_states(matched, key_column) -%}
    select
        {{ key_column }},
        (count(*) filter (where status in ('accepted', 'verifying')))::integer as open_objection_count,
        max(coalesce(source_updated_at, batch_logical_date::timestamp at time zone 'Asia/Shanghai'))
            filter (where status in ('accepted', 'verifying')) as objection_opened_at,
        min(closed_on) filter (where status = 'closed' and outcome in ('撤销', '更正')) as verified_wrong_on,
        (array_agg(outcome order by closed_on, application_id)
            filter (where status = 'closed' and outcome in ('撤销', '更正')))[1] as verified_wrong_outcome,
        (array_agg(coalesce(source_updated_at, closed_on::timestamp at time zone 'Asia/Shanghai')
                   order by closed_on, application_id)
            filter (where status = 'closed' and outcome in ('撤销', '更正')))[1] as verified_wrong_at,
        max(coalesce(source_updated_at, closed_on::timestamp at time zone 'Asia/Shanghai'))
            filter (where (status = 'closed' and outcome = '维持') or status = 'refused') as last_rejected_at
    from {{ matched }}
    where application_type = 'objection'
        and (status in ('accepted', 'verifying') or closed_on is not null)
    group by {{ key_column }}
{%- endmacro %}
