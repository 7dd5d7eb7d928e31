-- Accepted credit commitment rows only: the batch passed the gate and the row has no critical
-- issue. Renames keys to English and names the four kinds of commitment and the fulfilment
-- status [004 §1]; a commitment appears once when made and again when its fulfilment is assessed.
with

{{ accepted_rows('credit_commitments', 'commitments') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.clean_text(commitment_id) as commitment_id,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(commitment_kind_code) as commitment_kind_code,
        case credit.clean_text(commitment_kind_code)
            when '01' then 'approval_substitute'
            when '02' then 'voluntary'
            when '03' then 'industry_self_discipline'
            when '04' then 'repair'
        end as commitment_kind,
        credit.clean_text(commitment_matter) as commitment_matter,
        credit.try_date(committed_on) as committed_on,
        credit.try_date(valid_until) as valid_until,
        credit.clean_text(accepted_by) as accepted_by,
        case credit.clean_text(fulfilment_status_code)
            when '0' then 'in_progress'
            when '1' then 'fulfilled'
            when '2' then 'broken'
        end as fulfilment_status,
        credit.try_date(fulfilment_assessed_on) as fulfilment_assessed_on,
        credit.clean_text(division_code) as division_code,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
