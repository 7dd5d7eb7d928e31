{#- A subject name fit for the marts [rules §9; 001 2017 §5.1]: organisations' names as they are
    (public registry information); a natural person's name masked to its first character and one
    '*' per further character (张** for 张三丰), as the publicity website shows it. The clear name
    stays in staging (schema access for engineers only, docs/privacy.md).
    `{{ masked_person_name('subject_name', 'subject_type') }}` -#}
{% macro masked_person_name(name, subject_type) -%}
    case
        when {{ subject_type }} = 'natural_person' and {{ name }} is not null
            then left({{ name }}, 1) || repeat('*', greatest(char_length({{ name }}) - 1, 1))
        else {{ name }}
    end
{%- endmacro %}
