{#- The date a model's statuses are computed for: var('as_of_date') (a date a test or an auditor
    picks), else the environment's CREDIT_DW_AS_OF_DATE (the night credit_transform builds: an
    environment variable, not a var, because a changed var makes dbt re-parse the whole project,
    ~5 s a night, while a changed environment variable re-parses only the files that read it),
    else today. `select {{ as_of_on() }} as as_of_on` -#}
{% macro as_of_on() -%}
    {%- set as_of_date = var('as_of_date', none) or env_var('CREDIT_DW_AS_OF_DATE', '') -%}
    {%- if as_of_date %}cast('{{ as_of_date }}' as date){% else %}current_date{% endif -%}
{%- endmacro %}

{#- The CTE `as_of` (one row, column as_of_on) the date-dependent marts cross join:
        with

        {{ as_of_cte() }},

        known as (select ... from facts cross join as_of where facts.reported_on <= as_of.as_of_on) -#}
{% macro as_of_cte() -%}
as_of as (
    select
        {{ as_of_on() }} as as_of_on
)
{%- endmacro %}
