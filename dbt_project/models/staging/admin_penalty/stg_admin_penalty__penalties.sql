-- Accepted 行政处罚 (administrative penalty) rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises codes (full-width, spaces, case), casts dates and amounts. The
-- reporting date is the batch's logical date: the night the department's file reached the platform
-- (the 7-working-day timeliness of dual publicity is measured from decision_date to it [000 §2.2]).
with

{{ accepted_rows('admin_penalty', 'penalties') }},

final as (
    select
        {{ landed_row('reported_on', origin='file', sender_code='delivering_department_code') }},
        {{ publicity_subject() }},
        {{ publicity_identifiers() }},
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.clean_text(violation_type) as violation_type,
        credit.clean_text(violation_facts) as violation_facts,
        credit.clean_text(penalty_basis) as penalty_basis,
        credit.clean_text(penalty_category) as penalty_category,
        credit.clean_text(penalty_content) as penalty_content,
        {{ decimal_or_null('fine_amount_10k_yuan') }} as fine_amount_10k_yuan,
        {{ decimal_or_null('confiscated_amount_10k_yuan') }} as confiscated_amount_10k_yuan,
        credit.clean_text(suspended_or_revoked_licence) as suspended_or_revoked_licence,
        credit.try_date(decision_date) as decision_date,
        credit.try_date(penalty_valid_to) as penalty_valid_to,
        credit.try_date(publicity_end_date) as publicity_end_date,
        {{ publicity_authority() }},
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
