-- Accepted rows of the credit interviews and repair training (提示约谈 / 警示约谈 with their
-- rectification deadline 限期整改, 信用修复培训 [004 (十二); 002 #15]) only: the batch passed the gate
-- and the row has no critical issue. Renames to English, normalises codes, casts dates, codes the
-- kind (the gate accepted only the three). The reporting date is the batch's logical date: the
-- night the department's file reached the platform.
with

{{ accepted_rows('credit_interviews', 'records') }},

final as (
    select
        {{ landed_row('reported_on', origin='file', sender_code='delivering_department_code') }},
        credit.clean_text(record_number) as record_number,
        credit.clean_text(record_kind) as record_kind_name,
        case credit.clean_text(record_kind)
            when '提示约谈' then 'reminder_interview'
            when '警示约谈' then 'warning_interview'
            when '信用修复培训' then 'repair_training'
        end as record_kind,
        credit.try_date(held_date) as held_on,
        {{ publicity_subject() }},
        credit.clean_text(legal_representative) as legal_representative,
        credit.clean_text(id_type) as id_type,
        credit.normalize_code(credit.clean_text(id_number)) as id_number,
        credit.clean_text(matter) as matter,
        credit.try_date(rectification_deadline) as rectification_due_on,
        credit.clean_text(outcome) as outcome_name,
        {{ publicity_authority() }},
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
