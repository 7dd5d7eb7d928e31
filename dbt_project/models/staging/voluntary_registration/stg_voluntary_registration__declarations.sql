-- Accepted voluntary-registration rows only (自愿注册 [004 (五)]): the batch passed the gate and the
-- row has no critical issue. Renames keys to English, codes the declaration kind and the
-- verification status. A declaration appears once when made (待核验) and again at each change of
-- its status (已核验, 核验不实, 已撤回), each time with that status's date; fct_voluntary_declaration
-- reads the history. Self-declared information: never authoritative.
with

{{ accepted_rows('voluntary_registration', 'declarations') }},

final as (
    select
        {{ landed_row(origin='request') }},
        credit.clean_text(declaration_id) as declaration_id,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        credit.clean_text(declaration_kind_code) as declaration_kind_code,
        case credit.clean_text(declaration_kind_code)
            when '01' then 'qualification_licence'
            when '02' then 'operations'
            when '03' then 'contract_performance'
            when '04' then 'public_welfare'
        end as declaration_kind,
        credit.clean_text(declaration_content) as declaration_content,
        credit.try_date(declared_on) as declared_on,
        credit.clean_text(commitment_id) as commitment_id,
        case credit.clean_text(verification_status)
            when '待核验' then 'pending'
            when '已核验' then 'verified'
            when '核验不实' then 'disproved'
            when '已撤回' then 'withdrawn'
        end as verification_status,
        credit.try_date(verification_status_on) as verification_status_on,
        credit.clean_text(division_code) as division_code,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final
