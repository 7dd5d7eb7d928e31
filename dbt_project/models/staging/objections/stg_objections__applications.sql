-- Accepted objection and repair application rows only: the batch passed the gate and the row has
-- no critical issue. Renames keys to English and names the application type, the objection kind
-- [000 §2.13], the repair path [004 §13] and the handling status. An application appears when
-- submitted and again as it progresses; the verification deadline (15 working days for market
-- subjects [001 2018 plan §4.9]) is measured downstream from notified_on (the provider's receipt
-- of the verification notice) to replied_on.
with

{{ accepted_rows('objections', 'applications') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.clean_text(application_id) as application_id,
        case credit.clean_text(application_type_code)
            when '1' then 'objection'
            when '2' then 'repair'
        end as application_type,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        credit.try_date(applied_on) as applied_on,
        credit.clean_text(record_category) as record_category,
        credit.clean_text(record_id) as record_id,
        case credit.clean_text(objection_kind_code)
            when '01' then 'error'
            when '02' then 'omission'
            when '03' then 'duplicate_publicity'
            when '04' then 'should_not_be_public'
            when '05' then 'over_period_publicity'
        end as objection_kind,
        case credit.clean_text(repair_path_code)
            when '01' then 'commitment'
            when '02' then 'rectification'
            when '03' then 'verification'
            when '04' then 'training'
            when '05' then 'credit_report'
            when '06' then 'public_service'
        end as repair_path,
        credit.clean_text(handled_by) as handled_by,
        case credit.clean_text(status_code)
            when '01' then 'submitted'
            when '02' then 'accepted'
            when '03' then 'verifying'
            when '04' then 'closed'
            when '05' then 'refused'
        end as status,
        credit.try_date(closed_on) as closed_on,
        credit.try_date(notified_on) as notified_on,
        credit.try_date(replied_on) as replied_on,
        credit.clean_text(outcome) as outcome,
        credit.clean_text(channel) as channel,
        credit.clean_text(division_code) as division_code,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
