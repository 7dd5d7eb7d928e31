{#- Use the configured schema as-is (staging, marts, reference), not "<target>_<schema>":
    downstream platforms read fixed schema names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
