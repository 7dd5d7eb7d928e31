-- Accepted push-down rows only: the batch passed the gate and the row has no critical issue.
-- One row per licence or penalty about a Hebei subject that the national platform pushed down
-- (国家推送) [000 §2.3]: evidence, from outside the departments, of what was decided; a decision
-- found here and in neither the department's report nor its ledger was concealed (瞒报)
-- [000 §2.2]. pushed_on is the night the file reached the platform.
with

{{ accepted_rows('national_pushdown', 'decisions') }},

final as (
    select
        {{ landed_row('pushed_on', origin='file') }},
        credit.clean_text(push_batch_number) as push_batch_number,
        {{ decision_kind() }} as decision_kind,
        credit.clean_text(decision_document_number) as decision_document_number,
        credit.try_date(decision_date) as decision_date,
        {{ publicity_subject() }},
        credit.clean_text(decision_content) as decision_content,
        {{ publicity_authority() }},
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
