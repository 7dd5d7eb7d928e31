-- Accepted 其他行政行为 rows of Shijiazhuang (行政强制、确认、征收、给付、裁决、补偿、奖励、监督检查
-- [004 (十五)]) only: the batch passed the gate and the row has no critical issue. Renames to
-- English, normalises codes, casts dates and amounts; the act kind stays as named (行政强制 …,
-- one of the office's seed admin_act_kinds: the gate accepted no other), fct_admin_act codes it.
-- The reporting date is the batch's logical date: the night the department's file reached the
-- platform (the kind's deadline is measured from decision_date to it in fct_admin_act).
with

{{ accepted_rows('admin_act', 'acts') }},

final as (
    select
        {{ landed_row('reported_on', origin='file', sender_code='delivering_department_code') }},
        credit.clean_text(act_kind) as act_kind_name,
        {{ publicity_subject() }},
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(id_type) as id_type,
        credit.normalize_code(credit.clean_text(id_number)) as id_number,
        credit.clean_text(decision_document_name) as decision_document_name,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.clean_text(act_content) as act_content,
        credit.clean_text(act_basis) as act_basis,
        {{ decimal_or_null('amount_10k_yuan') }} as amount_10k_yuan,
        credit.try_date(decision_date) as decision_date,
        {{ publicity_authority() }},
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
