-- Dual-publicity timeliness per feed, department, city and night [000 §2.2]: the counts behind
-- 迟报率 (late / reported), 漏报率 and 瞒报率 (docs/quality_rates.md). Read by the daily quality
-- report (credit_dw.quality_report) and the late-rate alert (credit_dw.alerts): its columns are a
-- contract. A decision counts as reported (and late) on the night it first arrived, as omitted /
-- concealed on the night that was established (quality.qa_dual_publicity_decisions.established_on).
with

decisions as (
    select * from {{ ref('qa_dual_publicity_decisions') }}
),

reported as (
    select
        source_id, department, city_code, first_reported_on as logical_date,
        1 as reported, case when is_late then 1 else 0 end as late, 0 as omitted, 0 as concealed
    from decisions
    where is_reported
),

missing as (
    select
        source_id, department, city_code, established_on as logical_date,
        0 as reported, 0 as late,
        case when status = 'omitted' then 1 else 0 end as omitted,
        case when status = 'concealed' then 1 else 0 end as concealed
    from decisions
    where status in ('omitted', 'concealed')
),

unioned as (
    select * from reported
    union all
    select * from missing
),

final as (
    select
        source_id,
        department,
        city_code,
        logical_date,
        sum(reported)::integer as decisions_reported,
        sum(late)::integer as decisions_late,
        sum(omitted)::integer as decisions_omitted,
        sum(concealed)::integer as decisions_concealed
    from unioned
    group by source_id, department, city_code, logical_date
)

select * from final
