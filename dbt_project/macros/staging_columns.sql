{#- Column helpers every staging model shares: the landed row's provenance, safe casts of text
    values, and the dual-publicity feeds' subject and authority columns. Each expands to the
    select-list lines it replaces (same names, same order). -#}

{#- The row's key and provenance: batch_id, source_row_number, the batch's logical date (named
    `reported_on` where given), then where it stood in what was delivered: a file's name and data
    row (`origin='file'`, plus `sender_code`, the department or company code its name starts with)
    or an interface request and the record's position in its page (`origin='request'`). -#}
{% macro landed_row(reported_on=none, origin=none, sender_code=none) -%}
_batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date{{ ' as ' ~ reported_on if reported_on }}
        {%- if origin == 'file' %},
        _source_file as source_file,
        _source_row as source_file_row
        {%- elif origin == 'request' %},
        _source_file as source_request,
        _source_row as source_record_position
        {%- endif %}
        {%- if sender_code %},
        split_part(_source_file, '_', 1) as {{ sender_code }}
        {%- endif %}
{%- endmacro %}

{#- A decimal amount or rate as typed (digits, an optional fraction; a sign where `signed`), else
    null: a malformed value never fails the view, the gate has flagged it already. -#}
{% macro decimal_or_null(column, signed=false, type='numeric') -%}
case
            when credit.clean_text({{ column }}) ~ '^{{ "-?" if signed }}[0-9]+(\.[0-9]+)?$'
                then credit.clean_text({{ column }})::{{ type }}
        end
{%- endmacro %}

{#- A count as typed (digits only, at most `max_digits` of them so it fits an integer), else null. -#}
{% macro integer_or_null(column, max_digits=9) -%}
case
            when credit.clean_text({{ column }}) ~ '^[0-9]+$'
                {%- if max_digits %}
                and length(credit.clean_text({{ column }})) <= {{ max_digits }}
                {%- endif %}
                then credit.clean_text({{ column }})::integer
        end
{%- endmacro %}

{#- A YYYY-MM month as its first day, else null. -#}
{% macro month_or_null(column) -%}
case
            when credit.clean_text({{ column }}) ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'
                then to_date(credit.clean_text({{ column }}) || '-01', 'YYYY-MM-DD')
        end
{%- endmacro %}

{#- The subject of a dual-publicity record (行政许可, 行政处罚; a department's ledger row, a national
    push-down) as the national template gives it [000 §2.2]: name, category as typed, the category
    named (自然人 a natural person; 个体工商户, or a USCC starting 92, an individual business; else an
    organisation) and the normalised USCC. -#}
{% macro publicity_subject() -%}
credit.clean_text(subject_name) as subject_name,
        credit.clean_text(subject_category) as subject_category,
        case
            when credit.clean_text(subject_category) = '自然人' then 'natural_person'
            when credit.clean_text(subject_category) = '个体工商户'
                or credit.normalize_code(credit.clean_text(uscc)) like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        credit.normalize_code(credit.clean_text(uscc)) as uscc
{%- endmacro %}

{#- The subject's other identifiers on a 行政许可 / 行政处罚 record of the national template
    [000 §2.2]: the registration numbers an organisation had before the USCC (工商注册号, 组织机构代码,
    税务登记号, 事业单位证书号, 社会组织登记证号), its legal representative and their document, and a
    natural person's document; codes normalised. -#}
{% macro publicity_identifiers() -%}
credit.normalize_code(credit.clean_text(business_registration_number)) as business_registration_number,
        credit.normalize_code(credit.clean_text(organisation_code)) as organisation_code,
        credit.normalize_code(credit.clean_text(tax_registration_number)) as tax_registration_number,
        credit.normalize_code(credit.clean_text(public_institution_certificate_number))
            as public_institution_certificate_number,
        credit.normalize_code(credit.clean_text(social_organisation_registration_number))
            as social_organisation_registration_number,
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(legal_representative_id_type) as legal_representative_id_type,
        credit.normalize_code(credit.clean_text(legal_representative_id_number)) as legal_representative_id_number,
        credit.clean_text(id_type) as id_type,
        credit.normalize_code(credit.clean_text(id_number)) as id_number
{%- endmacro %}

{#- The deciding authority (决定机关) and the reporting unit (数据来源单位) of a dual-publicity record,
    names as typed and USCCs normalised. -#}
{% macro publicity_authority() -%}
credit.clean_text(authority_name) as authority_name,
        credit.normalize_code(credit.clean_text(authority_uscc)) as authority_uscc,
        credit.clean_text(source_department) as source_department,
        credit.normalize_code(credit.clean_text(source_department_uscc)) as source_department_uscc
{%- endmacro %}

{#- 决定类别 of a ledger or push-down row: licence (行政许可, 许可) or penalty (行政处罚, 处罚). -#}
{% macro decision_kind(column='decision_kind') -%}
case
            when credit.clean_text({{ column }}) in ('行政许可', '许可') then 'licence'
            when credit.clean_text({{ column }}) in ('行政处罚', '处罚') then 'penalty'
        end
{%- endmacro %}

{#- The courts' listings (失信被执行人, 虚假诉讼失信人): the listed subject's columns, a natural
    person only as the keyed hash and the masked ID (the clear ID stays in raw [rules §9]), an
    organisation by its public USCC. Reads the CTE `typed` (court_listing_typed_cte). -#}
{% macro court_listed_subject() -%}
credit.clean_text(case_number) as case_number,
        credit.clean_text(subject_name) as subject_name,
        case when is_natural_person then 'natural_person' else 'organisation' end as subject_type,
        case when not is_natural_person then normalized_id end as uscc,
        case when is_natural_person then {{ subject_hash('normalized_id') }} end as subject_id_hash,
        case
            when is_natural_person
                then left(normalized_id, 6) || '********' || right(normalized_id, 4)
        end as citizen_id_masked
{%- endmacro %}

{#- The CTE `typed` the courts' listings start from: each accepted row with whether its subject is
    a natural person (主体类型 自然人) and its ID or code normalised. -#}
{% macro court_listing_typed_cte() -%}
typed as (
    select
        accepted.*,
        credit.clean_text(subject_kind) = '自然人' as is_natural_person,
        credit.normalize_code(id_number) as normalized_id
    from accepted
)
{%- endmacro %}
