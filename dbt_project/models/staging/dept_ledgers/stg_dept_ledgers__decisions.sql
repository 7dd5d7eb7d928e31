-- Accepted ledger (台账) rows only: the batch passed the gate and the row has no critical issue.
-- One row per decision a department lists in its monthly ledger: the reference against which
-- omissions (漏报) are measured [000 §2.2]. Renames to English, names the kind (licence /
-- penalty; the short forms 许可 / 处罚 too), parses the ledger month (2019-01, 2019年01月, 201901)
-- and normalises codes. received_on is the night the ledger reached the platform.
with

{{ accepted_rows('dept_ledgers', 'decisions') }},

-- The ledger month as typed, cleaned once for the parsing below.
dated as (
    select
        accepted.*,
        credit.clean_text(accepted.ledger_month) as ledger_month_text
    from accepted
),

final as (
    select
        _batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date as received_on,
        _source_file as source_file,
        _source_row as source_file_row,
        split_part(_source_file, '_', 1) as delivering_department_code,
        make_date(
            substring(ledger_month_text from '^([0-9][0-9][0-9][0-9])')::int,
            substring(ledger_month_text from '^[0-9][0-9][0-9][0-9][-/.年]?(0?[1-9]|1[0-2])月?$')::int,
            1
        ) as ledger_month,
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
        credit.clean_text(decision_summary) as decision_summary,
        credit.clean_text(authority_name) as authority_name,
        credit.normalize_code(credit.clean_text(authority_uscc)) as authority_uscc,
        credit.clean_text(source_department) as source_department,
        credit.normalize_code(credit.clean_text(source_department_uscc)) as source_department_uscc,
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from dated
)

select * from final
