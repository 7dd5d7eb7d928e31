-- Voluntarily registered credit information (自愿注册 [004 (五)]): one row per declaration (申报编号)
-- of the city credit website, in the latest state delivered by the as-of date (the night built,
-- macro as_of_on; else the run date). Self-declared, never authoritative: every row says so
-- (is_self_declared, information_source) and nothing downstream may present it as a department's
-- record. A declaration counts for credit evaluation only while verified: from the day it was
-- verified (已核验) until the day it was withdrawn (已撤回) or found untrue (核验不实), that day
-- excluded. Withdrawn and disproved declarations stay here (the subject's credit file keeps them);
-- a disproved one is a false declaration, a bad record against its subject (is_false_declaration,
-- read by the profile and the grade's false_declaration rule).
with

declarations as (
    select * from {{ ref('stg_voluntary_registration__declarations') }}
),

commitments as (
    select * from {{ ref('fct_commitment') }}
),

{{ as_of_cte() }},

known as (
    select declarations.*
    from declarations
    cross join as_of
    where declarations.batch_logical_date <= as_of.as_of_on
        and declarations.declaration_id is not null
        and declarations.declaration_kind is not null
        and declarations.verification_status is not null
        and credit.is_valid_uscc(declarations.uscc)
),

-- The day the website verified it: the latest 已核验 record delivered by the as-of date (the
-- withdrawal or disproval record that follows carries only its own date).
verifications as (
    select
        declaration_id,
        max(verification_status_on) as verified_on
    from known
    where verification_status = 'verified'
    group by declaration_id
),

ranked as (
    {{ rank_deliveries(
        'known',
        ['declaration_id'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
),

latest as (
    select
        ranked.*,
        verifications.verified_on,
        case when ranked.verification_status in ('withdrawn', 'disproved') then ranked.verification_status_on end
            as evaluation_ended_on
    from ranked
    left join verifications on verifications.declaration_id = ranked.declaration_id
    where ranked.recency = 1
),

final as (
    select
        latest.declaration_id,
        latest.uscc as subject_id,
        case when latest.uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        latest.uscc,
        latest.subject_name,
        true as is_self_declared,
        '自愿注册（自主申报，未经部门认定）'::text as information_source,
        latest.declaration_kind,
        case latest.declaration_kind
            when 'qualification_licence' then '资质许可'
            when 'operations' then '经营状况'
            when 'contract_performance' then '合同履约'
            when 'public_welfare' then '公益活动'
        end as declaration_kind_name,
        latest.declaration_content,
        latest.declared_on,
        latest.commitment_id,
        commitments.commitment_id is not null as is_commitment_on_file,
        latest.verification_status,
        case latest.verification_status
            when 'pending' then '待核验'
            when 'verified' then '已核验'
            when 'disproved' then '核验不实'
            when 'withdrawn' then '已撤回'
        end as verification_status_name,
        latest.verification_status_on,
        latest.verified_on,
        latest.evaluation_ended_on,
        -- Counts for evaluation on the as-of date: verified by then, not (yet) withdrawn or disproved.
        coalesce(
            latest.verified_on <= as_of.as_of_on
            and (latest.evaluation_ended_on is null or latest.evaluation_ended_on > as_of.as_of_on),
            false
        ) as counts_for_evaluation,
        latest.verification_status = 'disproved' as is_false_declaration,
        as_of.as_of_on,
        latest.first_reported_on,
        latest.last_reported_on,
        latest.delivery_count::integer as delivery_count,
        latest.batch_id as last_batch_id
    from latest
    cross join as_of
    left join commitments on commitments.commitment_id = latest.commitment_id
)

select * from final
