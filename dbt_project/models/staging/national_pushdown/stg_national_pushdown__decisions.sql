-- Accepted push-down rows only: the batch passed the gate and the row has no critical issue.
-- One row per licence or penalty about a Hebei subject that the national platform pushed down
-- (国家推送) [000 §2.3]: evidence, from outside the departments, of what was decided; a decision
-- found here and in neither the department's report nor its ledger was concealed (瞒报)
-- [000 §2.2]. pushed_on is the night the file reached the platform.
with

{{ accepted_rows('national_pushdown', 'decisions') }},

final as (
    select
        _batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date as pushed_on,
        _source_file as source_file,
        _source_row as source_file_row,
        credit.clean_text(push_batch_number) as push_batch_number,
        case
            when credit.clean_text(decision_kind) in ('行政许可', '许可') then 'licence'
            when credit.clean_text(decision_kind) in ('行政处罚', '处罚') then 'penalty'
        end as decision_kind,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.try_date(decision_date) as decision_date,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(subject_category) as subject_category,
        case
            when credit.clean_text(subject_category) = '自然人' then 'natural_person'
            when credit.clean_text(subject_category) = '个体工商户'
                or credit.normalize_code(credit.clean_text(uscc)) like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        credit.normalize_code(credit.clean_text(uscc)) as uscc,
        credit.clean_text(decision_content) as decision_content,
        credit.clean_text(authority_name) as authority_name,
        credit.normalize_code(credit.clean_text(authority_uscc)) as authority_uscc,
        credit.clean_text(source_department) as source_department,
        credit.normalize_code(credit.clean_text(source_department_uscc)) as source_department_uscc,
        credit.try_timestamptz(pushed_at) as pushed_at,
        -- The national platform's result for the record (repair 已修复, withdrawal 已撤销) [000 §2.12].
        case credit.clean_text(record_status)
            when '已修复' then 'repaired'
            when '已撤销' then 'withdrawn'
            else 'normal'
        end as national_record_status,
        credit.try_date(status_changed_on) as status_changed_on,
        _extra as extra_columns
    from accepted
)

select * from final
