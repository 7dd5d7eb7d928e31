-- Dual-publicity rates per month, feed, department and jurisdiction [000 §2.2]: the figures of
-- the office's monthly notice (月度通报) and the auditors (迟报率 / 漏报率 / 瞒报率), from the nightly
-- counts of qa_dual_publicity_timeliness summed over the month of the night they count on.
-- The rates come from the warehouse's one definition, the SQL functions quality.late_rate,
-- quality.omission_rate and quality.concealment_rate (include/credit_dw/db/sql/50_quality.sql,
-- docs/quality_rates.md), the same functions the daily quality report applies to its nights.
with

timeliness as (
    select * from {{ ref('qa_dual_publicity_timeliness') }}
),

monthly as (
    select
        date_trunc('month', logical_date)::date as report_month,
        source_id,
        department,
        city_code,
        sum(decisions_reported)::integer as decisions_reported,
        sum(decisions_late)::integer as decisions_late,
        sum(decisions_omitted)::integer as decisions_omitted,
        sum(decisions_concealed)::integer as decisions_concealed
    from timeliness
    group by date_trunc('month', logical_date), source_id, department, city_code
),

final as (
    select
        report_month,
        source_id,
        department,
        city_code,
        decisions_reported,
        decisions_late,
        decisions_omitted,
        decisions_concealed,
        quality.late_rate(decisions_late, decisions_reported) as late_rate,
        quality.omission_rate(decisions_reported, decisions_omitted) as omission_rate,
        quality.concealment_rate(decisions_reported, decisions_omitted, decisions_concealed) as concealment_rate
    from monthly
)

select * from final
