{#- The keyed hash (HMAC-SHA256, hex) that stands for a natural person's resident ID outside raw
    [rules §9; 001 2017 §5.1]: `{{ subject_hash('id_number') }}`. The key never appears in dbt;
    credit.subject_hash reads it from restricted.subject_hash_key (include/credit_dw/sql/45_privacy.sql,
    installed by credit_dw.privacy.install_hash_key). The ID is normalised inside the function. -#}
{% macro subject_hash(column) -%}
    credit.subject_hash({{ column }})
{%- endmacro %}
