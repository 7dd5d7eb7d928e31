-- Accepted 行政处罚 (administrative penalty) rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises codes (full-width, spaces, case), casts dates and amounts. The
-- reporting date is the batch's logical date: the night the department's file reached the platform
-- (the 7-working-day timeliness of dual publicity is measured from decision_date to it [000 §2.2]).
with

{{ accepted_rows('admin_penalty', 'penalties') }},

final as (
    select
        _batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date as reported_on,
        _source_file as source_file,
        _source_row as source_file_row,
        split_part(_source_file, '_', 1) as delivering_department_code,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(subject_category) as subject_category,
        case
            when credit.clean_text(subject_category) = '自然人' then 'natural_person'
            when credit.clean_text(subject_category) = '个体工商户'
                or credit.normalize_code(credit.clean_text(uscc)) like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        credit.normalize_code(credit.clean_text(uscc)) as uscc,
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
        credit.normalize_code(credit.clean_text(id_number)) as id_number,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.clean_text(violation_type) as violation_type,
        credit.clean_text(violation_facts) as violation_facts,
        credit.clean_text(penalty_basis) as penalty_basis,
        credit.clean_text(penalty_category) as penalty_category,
        credit.clean_text(penalty_content) as penalty_content,
        case
            when credit.clean_text(fine_amount_10k_yuan) ~ '^[0-9]+(\.[0-9]+)?$'
                then credit.clean_text(fine_amount_10k_yuan)::numeric
        end as fine_amount_10k_yuan,
        case
            when credit.clean_text(confiscated_amount_10k_yuan) ~ '^[0-9]+(\.[0-9]+)?$'
                then credit.clean_text(confiscated_amount_10k_yuan)::numeric
        end as confiscated_amount_10k_yuan,
        credit.clean_text(suspended_or_revoked_licence) as suspended_or_revoked_licence,
        credit.try_date(decision_date) as decision_date,
        credit.try_date(penalty_valid_to) as penalty_valid_to,
        credit.try_date(publicity_end_date) as publicity_end_date,
        credit.clean_text(authority_name) as authority_name,
        credit.normalize_code(credit.clean_text(authority_uscc)) as authority_uscc,
        credit.clean_text(source_department) as source_department,
        credit.normalize_code(credit.clean_text(source_department_uscc)) as source_department_uscc,
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
