-- Penalties still public in Hebei on the as-of date although the national push-down had reported
-- them repaired (已修复) or withdrawn (已撤销) by then: the province must keep its records in step
-- with the national repair results ("实现与国家修复结果及时更新" [000 §2.12]). fct_admin_penalty
-- applies those results the night they come down, so after a night's build this is expected to be
-- empty; a row here means the night did not apply a result (the quality report can show it).
-- Grain: one row per such penalty decision.
with

penalties as (
    select * from {{ ref('fct_admin_penalty') }}
),

windows as (
    select * from {{ ref('int_penalties_publicity_windowed') }}
),

final as (
    select
        penalties.penalty_id,
        penalties.decision_document_number,
        penalties.uscc,
        penalties.authority_name,
        case
            when windows.national_withdrawal_pushed_on <= penalties.as_of_on then 'withdrawn'
            else 'repaired'
        end as national_result,
        least(
            case when windows.national_repair_pushed_on <= penalties.as_of_on
                then windows.national_repair_pushed_on end,
            case when windows.national_withdrawal_pushed_on <= penalties.as_of_on
                then windows.national_withdrawal_pushed_on end
        ) as national_result_pushed_on,
        penalties.publicity_status,
        penalties.as_of_on
    from penalties
    inner join windows
        on windows.penalty_id = penalties.penalty_id
    where penalties.is_public
        and (
            windows.national_repair_pushed_on <= penalties.as_of_on
            or windows.national_withdrawal_pushed_on <= penalties.as_of_on
        )
)

select * from final
