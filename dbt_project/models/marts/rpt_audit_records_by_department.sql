-- Records aggregated per reporting department [rules §8; 000 §2.3], counted by the rules of
-- docs/audit.md (int_audit_record_deliveries: one counted record per business key, in the month it
-- first reached the platform, under the department of its counted delivery: 数据来源单位, else the
-- deciding authority), per city the record counts for, source category and month with records,
-- in the month and cumulative to it, as of the night built (macro as_of_on). The departments'
-- figures add up to the province's of rpt_audit_records_by_jurisdiction.
-- Grain: one row per department, city, source category and month with at least one record.
with

deliveries as (
    select * from {{ ref('int_audit_record_deliveries') }}
),

{{ as_of_cte() }},

monthly as (
    select
        coalesce(department, '(unknown)') as department,
        coalesce(city_code, '(unknown)') as city_code,
        source_category,
        seen_month as report_month,
        count(*) as records_in_month
    from deliveries
    where is_counted
    group by 1, 2, 3, 4
),

final as (
    select
        md5(concat_ws('|', monthly.department, monthly.city_code, monthly.source_category, monthly.report_month))
            as audit_department_records_id,
        monthly.department,
        md5(monthly.department) as department_id,
        monthly.city_code,
        monthly.source_category,
        monthly.report_month,
        monthly.records_in_month::bigint as records_in_month,
        sum(monthly.records_in_month) over (
            partition by monthly.department, monthly.city_code, monthly.source_category
            order by monthly.report_month
        )::bigint as records_cumulative,
        as_of.as_of_on
    from monthly
    cross join as_of
)

select * from final
