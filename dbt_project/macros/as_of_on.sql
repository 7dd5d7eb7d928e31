{#- The date a model's statuses are computed for: var('as_of_date') — the night credit_transform
    builds (Cosmos passes it), or a date a test or an auditor picks — else today.
    `select {{ as_of_on() }} as as_of_on` -#}
{% macro as_of_on() -%}
    {%- set as_of_date = var('as_of_date', none) -%}
    {%- if as_of_date %}cast('{{ as_of_date }}' as date){% else %}current_date{% endif -%}
{%- endmacro %}
