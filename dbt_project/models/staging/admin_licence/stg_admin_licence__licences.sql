-- Accepted 行政许可 (administrative licence) rows only: the batch passed the gate and the row has no critical issue.
-- Renames to English, normalises codes (full-width, spaces, case), casts dates and amounts. The
-- reporting date is the batch's logical date: the night the department's file reached the platform
-- (the 7-working-day timeliness of dual publicity is measured from decision_date to it [000 §2.2]).
with

{{ accepted_rows('admin_licence', 'licences') }},

final as (
    select
        {{ landed_row('reported_on', origin='file', sender_code='delivering_department_code') }},
        {{ publicity_subject() }},
        {{ publicity_identifiers() }},
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.clean_text(decision_document_name) as decision_document_name,
        credit.clean_text(licence_category) as licence_category,
        credit.clean_text(licence_certificate_name) as licence_certificate_name,
        credit.clean_text(licence_number) as licence_number,
        credit.clean_text(licence_content) as licence_content,
        credit.try_date(decision_date) as decision_date,
        credit.try_date(valid_from) as valid_from,
        credit.try_date(valid_to) as valid_to,
        credit.clean_text(current_status) as current_status,
        {{ publicity_authority() }},
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from accepted
)

select * from final
