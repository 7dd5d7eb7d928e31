-- Records aggregated per jurisdiction against the targets [rules §8; 002 #7], counted by the rules
-- of docs/audit.md (int_audit_record_deliveries: one counted record per business key, in the month
-- it first reached the platform, under the subject's registration division), as of the night built
-- (macro as_of_on). Every jurisdiction appears, whether it has records or not: the province
-- (130000), each reporting unit (the 11 cities, 定州, 辛集, 雄安新区: level city) and each current
-- county, district and county-level city under them (level county; a city's 市辖区 placeholder code
-- is not one), for each source category and
-- each month from the first counted record to the as-of month; a county with no record in a
-- category is blank (空白县 [002 #10]). A record whose county is unknown counts for its city only,
-- one whose city is unknown for the province only.
-- The target (seed aggregation_targets, metric records) is the jurisdiction's own row, else its
-- level's, of the latest target year; share_of_target compares all categories' cumulative records.
-- Grain: one row per jurisdiction, source category and month.
with

deliveries as (
    select * from {{ ref('int_audit_record_deliveries') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

targets as (
    select * from {{ ref('aggregation_targets') }}
),

{{ as_of_cte() }},

counted as (
    select * from deliveries where is_counted
),

jurisdictions as (
    select 'province'::text as jurisdiction_level, division_code as jurisdiction_code, division_name,
        division_code as city_code
    from divisions
    where division_level = 'province' and is_current
    union all
    select
        'city'::text as jurisdiction_level, division_code as jurisdiction_code, division_name,
        division_code as city_code
    from divisions
    where is_current and division_level <> 'province' and division_code = reporting_unit_code
    union all
    select
        'county'::text as jurisdiction_level, division_code as jurisdiction_code, division_name,
        reporting_unit_code as city_code
    from divisions
    where is_current and division_level = 'county' and division_code <> reporting_unit_code
        and division_name <> '市辖区'
),

categories as (
    select category as source_category
    from (values ('行政许可'), ('行政处罚'), ('其他行政行为')) as known (category)
),

months as (
    select generate_series(
        coalesce((select min(counted.seen_month) from counted), date_trunc('month', as_of.as_of_on)::date),
        date_trunc('month', as_of.as_of_on)::date,
        interval '1 month'
    )::date as report_month
    from as_of
),

spine as (
    select jurisdictions.*, categories.source_category, months.report_month
    from jurisdictions
    cross join categories
    cross join months
),

-- Each counted record under the province, its city and its county (when known).
attributed as (
    select '130000'::text as jurisdiction_code, 'province'::text as jurisdiction_level, source_category,
        seen_month
    from counted
    union all
    select
        city_code as jurisdiction_code, 'city'::text as jurisdiction_level, source_category, seen_month
    from counted
    where city_code is not null
    union all
    select
        county_code as jurisdiction_code, 'county'::text as jurisdiction_level, source_category, seen_month
    from counted
    where county_code is not null
),

monthly as (
    select jurisdiction_level, jurisdiction_code, source_category, seen_month, count(*) as records
    from attributed
    group by jurisdiction_level, jurisdiction_code, source_category, seen_month
),

filled as (
    select
        spine.*,
        coalesce(monthly.records, 0)::bigint as records_in_month
    from spine
    left join monthly
        on monthly.jurisdiction_level = spine.jurisdiction_level
        and monthly.jurisdiction_code = spine.jurisdiction_code
        and monthly.source_category = spine.source_category
        and monthly.seen_month = spine.report_month
),

cumulated as (
    select
        filled.*,
        sum(records_in_month) over (
            partition by jurisdiction_level, jurisdiction_code, source_category order by report_month
        )::bigint as records_cumulative
    from filled
),

totals as (
    select
        cumulated.*,
        sum(records_cumulative) over (
            partition by jurisdiction_level, jurisdiction_code, report_month
        )::bigint as jurisdiction_records_cumulative
    from cumulated
),

record_targets as (
    select distinct on (jurisdiction_level, coalesce(jurisdiction_code, ''))
        jurisdiction_level,
        jurisdiction_code,
        target_value,
        target_year,
        rule
    from targets
    where metric = 'records'
    order by jurisdiction_level asc, coalesce(jurisdiction_code, '') asc, target_year desc
),

final as (
    select
        md5(concat_ws('|', totals.jurisdiction_level, totals.jurisdiction_code, totals.source_category,
            totals.report_month)) as audit_records_id,
        totals.jurisdiction_level,
        totals.jurisdiction_code,
        totals.division_name as jurisdiction_name,
        totals.city_code,
        totals.source_category,
        totals.report_month,
        totals.records_in_month,
        totals.records_cumulative,
        totals.jurisdiction_level = 'county' and totals.records_cumulative = 0 as is_blank_county,
        totals.jurisdiction_level = 'county' and totals.records_in_month = 0 as is_blank_county_in_month,
        totals.jurisdiction_records_cumulative,
        coalesce(own_target.target_value, level_target.target_value) as target_records,
        coalesce(own_target.target_year, level_target.target_year) as target_year,
        coalesce(own_target.rule, level_target.rule) as target_rule,
        round(
            totals.jurisdiction_records_cumulative
            / nullif(coalesce(own_target.target_value, level_target.target_value), 0),
            6
        ) as share_of_target,
        as_of.as_of_on
    from totals
    cross join as_of
    left join record_targets as own_target
        on own_target.jurisdiction_level = totals.jurisdiction_level
        and own_target.jurisdiction_code = totals.jurisdiction_code
    left join record_targets as level_target
        on level_target.jurisdiction_level = totals.jurisdiction_level
        and level_target.jurisdiction_code is null
)

select * from final
