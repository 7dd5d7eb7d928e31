-- Black-list subjects reached by an interview or repair training, per month and jurisdiction: the
-- plan wants over 60 % of black-list subjects trained or interviewed (黑名单主体信用修复培训或约谈
-- 比例 > 60 % [002 #15]; interviews and training: fct_credit_interview [004 (十二)]).
-- For each month, evaluated on its last day (the as-of date itself for the as-of month):
--   blacklist_subjects  distinct subjects on a black list (失信黑名单 / 严重失信主体名单,
--                       fct_list_membership.list_type = 'black') that day: entered on or before it,
--                       not exited by then (移出), validity (有效期至) not over, not revoked after an
--                       objection by then;
--   reached_subjects    of those, the distinct subjects with at least one interview (提示约谈 /
--                       警示约谈) or training attendance (信用修复培训) held on or before that day,
--                       whatever its outcome: a subject interviewed three times counts once;
--   reached_share       reached_subjects / blacklist_subjects, a fraction (0.6 = 60 %), rounded to
--                       4 places; null when the jurisdiction has no black-list subject that month
--                       (no data, never 0).
-- Events count by their own dates, so a department that reports late fills in its past months.
-- The jurisdiction is the subject's (dim_subject: registration division, else the code's
-- division) reporting unit: the 11 cities, 定州, 辛集 and 雄安新区 [rules §3]. Every one of the 14
-- appears every month, from the month of the first black-list entry (or interview) to the as-of
-- month. Grain: one row per month and jurisdiction. The province scorecard reads these columns.
with

memberships as (
    select * from {{ ref('fct_list_membership') }}
),

interviews as (
    select * from {{ ref('fct_credit_interview') }}
),

subjects as (
    select * from {{ ref('dim_subject') }}
),

jurisdictions as (
    select * from {{ ref('dim_jurisdiction') }}
),

{{ as_of_cte() }},

reporting_units as (
    select division_code as jurisdiction_code, division_name as jurisdiction_name
    from jurisdictions
    where is_reporting_unit and division_level <> 'province'
),

black_entries as (
    select
        memberships.subject_id,
        memberships.entered_on,
        memberships.exited_on,
        memberships.valid_until,
        memberships.verified_wrong_on,
        coalesce(subjects.jurisdiction_code, code_divisions.reporting_unit_code) as jurisdiction_code
    from memberships
    left join subjects
        on subjects.subject_id = memberships.subject_id
    left join jurisdictions as code_divisions
        on code_divisions.division_code = substr(memberships.uscc, 3, 6)
    where memberships.list_type = 'black'
),

months as (
    select
        series.report_month::date as report_month,
        least((series.report_month + interval '1 month' - interval '1 day')::date, as_of.as_of_on) as evaluated_on
    from as_of
    cross join lateral generate_series(
        coalesce(
            least(
                (select date_trunc('month', min(black_entries.entered_on))::date from black_entries),
                (select date_trunc('month', min(interviews.held_on))::date from interviews)
            ),
            date_trunc('month', as_of.as_of_on)::date
        ),
        date_trunc('month', as_of.as_of_on)::date,
        interval '1 month'
    ) as series (report_month)
),

blacklisted as (
    select distinct
        months.report_month,
        months.evaluated_on,
        black_entries.jurisdiction_code,
        black_entries.subject_id
    from months
    inner join black_entries
        on black_entries.entered_on <= months.evaluated_on
        and (black_entries.exited_on is null or black_entries.exited_on > months.evaluated_on)
        and (black_entries.valid_until is null or black_entries.valid_until >= months.evaluated_on)
        and (black_entries.verified_wrong_on is null or black_entries.verified_wrong_on > months.evaluated_on)
),

-- A subject is reached from its first interview or training on: how many followed does not matter.
first_reached as (
    select
        subject_id,
        min(held_on) as first_reached_on
    from interviews
    group by subject_id
),

reached as (
    select
        blacklisted.*,
        coalesce(first_reached.first_reached_on <= blacklisted.evaluated_on, false) as is_reached
    from blacklisted
    left join first_reached
        on first_reached.subject_id = blacklisted.subject_id
),

counted as (
    select
        report_month,
        jurisdiction_code,
        count(*)::integer as blacklist_subjects,
        (count(*) filter (where is_reached))::integer as reached_subjects
    from reached
    group by report_month, jurisdiction_code
),

final as (
    select
        -- The scorecard reads this column by this name.
        months.report_month as month,  -- noqa: RF04
        reporting_units.jurisdiction_code,
        reporting_units.jurisdiction_name,
        coalesce(counted.blacklist_subjects, 0) as blacklist_subjects,
        coalesce(counted.reached_subjects, 0) as reached_subjects,
        round(counted.reached_subjects::numeric / nullif(counted.blacklist_subjects, 0), 4) as reached_share
    from months
    cross join reporting_units
    left join counted
        on counted.report_month = months.report_month
        and counted.jurisdiction_code = reporting_units.jurisdiction_code
)

select * from final
