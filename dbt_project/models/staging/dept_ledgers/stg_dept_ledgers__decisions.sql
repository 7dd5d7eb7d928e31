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
        {{ landed_row('received_on', origin='file', sender_code='delivering_department_code') }},
        make_date(
            substring(ledger_month_text from '^([0-9][0-9][0-9][0-9])')::int,
            substring(ledger_month_text from '^[0-9][0-9][0-9][0-9][-/.年]?(0?[1-9]|1[0-2])月?$')::int,
            1
        ) as ledger_month,
        {{ decision_kind() }} as decision_kind,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.try_date(decision_date) as decision_date,
        {{ publicity_subject() }},
        credit.clean_text(decision_summary) as decision_summary,
        {{ publicity_authority() }},
        credit.clean_text(remark) as remark,
        _extra as extra_columns
    from dated
)

select * from final
