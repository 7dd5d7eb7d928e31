-- Credit commitments (信用承诺) [004 §1; rules §4]: one row per commitment (承诺编号), in the
-- latest state the commitment system had delivered by the as-of date (the night built, macro as_of_on;
-- else the run date). A commitment arrives when made (履约中) and again when its fulfilment is
-- assessed (已履约 / 未履约). Four kinds: 审批替代型 approval_substitute, 主动型 voluntary,
-- 行业自律型 industry_self_discipline, 信用修复型 repair.
with

commitments as (
    select * from {{ ref('stg_credit_commitments__commitments') }}
),

{{ as_of_cte() }},

known as (
    select commitments.*
    from commitments
    cross join as_of
    where commitments.batch_logical_date <= as_of.as_of_on
        and commitments.commitment_id is not null
        and commitments.commitment_kind is not null
        and credit.is_valid_uscc(commitments.uscc)
),

ranked as (
    {{ rank_deliveries(
        'known',
        ['commitment_id'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
),

final as (
    select
        ranked.commitment_id,
        ranked.uscc as subject_id,
        case when ranked.uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        ranked.uscc,
        ranked.subject_name,
        ranked.commitment_kind,
        case ranked.commitment_kind
            when 'approval_substitute' then '审批替代型'
            when 'voluntary' then '主动型'
            when 'industry_self_discipline' then '行业自律型'
            when 'repair' then '信用修复型'
        end as commitment_kind_name,
        ranked.commitment_matter,
        ranked.committed_on,
        ranked.valid_until,
        ranked.accepted_by,
        md5(ranked.accepted_by) as accepted_by_department_id,
        coalesce(ranked.fulfilment_status, 'in_progress') as fulfilment_status,
        ranked.fulfilment_assessed_on,
        coalesce(ranked.fulfilment_status = 'fulfilled', false) as is_fulfilled,
        coalesce(ranked.fulfilment_status = 'broken', false) as is_broken,
        -- In force: made by the as-of date, not yet expired, and not broken (失信).
        (
            ranked.committed_on <= as_of.as_of_on
            and (ranked.valid_until is null or ranked.valid_until >= as_of.as_of_on)
            and ranked.fulfilment_status is distinct from 'broken'
        ) as is_in_force,
        as_of.as_of_on,
        ranked.first_reported_on,
        ranked.last_reported_on,
        ranked.delivery_count::integer as delivery_count,
        ranked.batch_id as last_batch_id
    from ranked
    cross join as_of
    where ranked.recency = 1
)

select * from final
