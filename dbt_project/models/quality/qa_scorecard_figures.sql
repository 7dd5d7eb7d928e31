-- The province's scorecard (issue 21; docs/scorecard.md): each computable indicator of the
-- catalogue (seed scorecard_indicators) per month and reporting unit - the 11 cities, 定州, 辛集
-- and 雄安新区 [000 一(二)] - with its numerator, denominator and value, for the twelve months up
-- to the as-of date (macro as_of_on). Numerators count rpt_scorecard_records (the drill-down
-- rows), except the dual-publicity rates, which are the month's counts of qa_dual_publicity_rates
-- through the functions defined once (quality.late_rate, quality.omission_rate). A value is null
-- (无数据) when its denominator is 0 or its source has delivered nothing by the month's end -
-- never 0 for want of data. Local enterprises (the share denominators): dim_subject's 91…
-- organisations registered with the market registry, in business, registered by the month's end.
-- Grain: one row per month, jurisdiction and indicator.
with

{{ as_of_cte() }},

indicators as (
    select * from {{ ref('scorecard_indicators') }}
    where computable = 'yes' and indicator_id <> 'blacklist_outreach_share'
),

records as (
    select * from {{ ref('rpt_scorecard_records') }}
),

jurisdictions as (
    select division_code as jurisdiction_code, division_name as jurisdiction_name
    from {{ ref('dim_jurisdiction') }}
    where is_reporting_unit and division_level <> 'province'
),

divisions as (
    select * from {{ ref('dim_jurisdiction') }}
),

spine as (
    select
        generate_series(
            date_trunc('month', as_of.as_of_on) - interval '1 month' * ({{ var('scorecard_months', 12) }} - 1),
            date_trunc('month', as_of.as_of_on),
            interval '1 month'
        )::date as report_month,
        as_of.as_of_on
    from as_of
),

months as (
    select
        spine.report_month,
        least((spine.report_month + interval '1 month' - interval '1 day')::date, spine.as_of_on) as month_end
    from spine
),

subjects as (
    select * from {{ ref('dim_subject') }}
),

enterprises as (
    select months.report_month, subjects.jurisdiction_code, count(*)::bigint as enterprises
    from months
    inner join subjects
        on subjects.uscc like '91%' and subjects.is_registered and coalesce(subjects.is_active, false)
        and coalesce(subjects.registered_on, months.month_end) <= months.month_end
    where subjects.jurisdiction_code is not null
    group by months.report_month, subjects.jurisdiction_code
),

dual_publicity as (
    select
        rates.report_month,
        coalesce(divisions.reporting_unit_code, rates.city_code) as jurisdiction_code,
        sum(rates.decisions_reported) as reported,
        sum(rates.decisions_late) as late,
        sum(rates.decisions_omitted) as omitted
    from {{ ref('qa_dual_publicity_rates') }} as rates
    left join divisions
        on divisions.division_code = rates.city_code
    where rates.city_code is not null
    group by rates.report_month, coalesce(divisions.reporting_unit_code, rates.city_code)
),

objections as (
    select
        date_trunc('month', objections.applied_on)::date as report_month,
        coalesce(divisions.reporting_unit_code, left(objections.jurisdiction_code, 4) || '00') as jurisdiction_code,
        count(*)::bigint as objections
    from {{ ref('fct_objection') }} as objections
    left join divisions
        on divisions.division_code = objections.jurisdiction_code
    group by
        date_trunc('month', objections.applied_on)::date,
        coalesce(divisions.reporting_unit_code, left(objections.jurisdiction_code, 4) || '00')
),

repairs as (
    select
        date_trunc('month', repairs.closed_on)::date as report_month,
        coalesce(subjects.jurisdiction_code, divisions.reporting_unit_code) as jurisdiction_code,
        count(*)::bigint as decided
    from {{ ref('fct_repair') }} as repairs
    left join subjects
        on subjects.uscc = repairs.uscc
    left join divisions
        on divisions.division_code = substr(repairs.uscc, 3, 6)
    where repairs.status in ('closed', 'refused') and repairs.closed_on is not null
    group by
        date_trunc('month', repairs.closed_on)::date,
        coalesce(subjects.jurisdiction_code, divisions.reporting_unit_code)
),

committable_matters as (
    select jurisdiction_code, count(*)::bigint as matters
    from {{ ref('legally_committable_matters') }}
    group by jurisdiction_code
),

-- Whether a source had delivered anything, province-wide, by the month's end: without it a count
-- of 0 would read as a figure.
delivered as (
    select
        months.report_month,
        exists(select 1 from {{ ref('fct_commitment') }} as c where c.first_reported_on <= months.month_end)
            as has_commitments,
        exists(
            select 1 from {{ ref('fct_tax_status') }} as t
            where t.record_kind = 'a_level_rating' and t.published_on <= months.month_end
        ) as has_a_level,
        exists(
            select 1 from {{ ref('stg_customs_certified__certifications') }} as c
            where c.reported_on <= months.month_end
        ) as has_customs,
        exists(
            select 1 from {{ ref('fct_list_membership') }} as m
            where m.list_type = 'black' and m.first_reported_on <= months.month_end
        ) as has_black_list
    from months
),

numerators as (
    select report_month, jurisdiction_code, indicator_id, count(*)::bigint as numerator
    from records
    group by report_month, jurisdiction_code, indicator_id
),

grid as (
    select
        months.report_month,
        jurisdictions.jurisdiction_code,
        jurisdictions.jurisdiction_name,
        indicators.indicator_id,
        indicators.indicator_name,
        indicators.unit,
        indicators.direction,
        indicators.target_value,
        indicators.target_text,
        indicators.clause,
        coalesce(numerators.numerator, 0) as counted,
        delivered.has_commitments,
        delivered.has_a_level,
        delivered.has_customs,
        delivered.has_black_list,
        enterprises.enterprises,
        dual_publicity.reported,
        dual_publicity.late,
        dual_publicity.omitted,
        objections.objections,
        repairs.decided,
        committable_matters.matters
    from months
    cross join jurisdictions
    cross join indicators
    inner join delivered on delivered.report_month = months.report_month
    left join numerators
        on numerators.report_month = months.report_month
        and numerators.jurisdiction_code = jurisdictions.jurisdiction_code
        and numerators.indicator_id = indicators.indicator_id
    left join enterprises
        on enterprises.report_month = months.report_month
        and enterprises.jurisdiction_code = jurisdictions.jurisdiction_code
    left join dual_publicity
        on dual_publicity.report_month = months.report_month
        and dual_publicity.jurisdiction_code = jurisdictions.jurisdiction_code
    left join objections
        on objections.report_month = months.report_month
        and objections.jurisdiction_code = jurisdictions.jurisdiction_code
    left join repairs
        on repairs.report_month = months.report_month
        and repairs.jurisdiction_code = jurisdictions.jurisdiction_code
    left join committable_matters
        on committable_matters.jurisdiction_code = jurisdictions.jurisdiction_code
),

measured as (
    select
        grid.*,
        case indicator_id
            when 'dp_late_rate' then late
            when 'dp_omission_rate' then omitted
            when 'serious_list_entries' then case when has_black_list then counted end
            when 'serious_list_exits' then case when has_black_list then counted end
            else counted
        end as numerator,
        case indicator_id
            when 'dp_late_rate' then reported
            when 'dp_omission_rate' then coalesce(reported, 0) + coalesce(omitted, 0)
            when 'objection_overdue_share' then objections
            when 'repair_success_rate' then decided
            when 'commitment_per_enterprise' then case when has_commitments then enterprises end
            when 'commitment_matter_share' then matters
            when 'tax_a_level_share' then case when has_a_level then enterprises end
            when 'customs_certified_share' then case when has_customs then enterprises end
            when 'dishonest_enterprise_share' then case when has_black_list then enterprises end
        end as denominator
    from grid
),

final as (
    select
        md5(report_month::text || '|' || jurisdiction_code || '|' || indicator_id) as scorecard_figure_id,
        report_month,
        jurisdiction_code,
        jurisdiction_name,
        indicator_id,
        indicator_name,
        unit,
        direction,
        target_value,
        target_text,
        clause,
        numerator::bigint as numerator,
        denominator::bigint as denominator,
        case
            when indicator_id = 'dp_late_rate' then quality.late_rate(late, reported)
            when indicator_id = 'dp_omission_rate' then quality.omission_rate(reported, omitted)
            when unit = 'count' then numerator::double precision
            else numerator::double precision / nullif(denominator, 0)
        end as value  -- noqa: RF04
    from measured
)

select * from final
