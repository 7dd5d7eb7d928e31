-- Tax status of subjects from the tax bureau [000 §2.7; rules §4]: A-level taxpayer ratings
-- (纳税信用A级纳税人名单) and tax arrears announcements (欠税公告). Grain: one row per subject,
-- record kind and period:
--   a_level_rating  period = the evaluation year (评价年度); the list entry in its latest state;
--   arrears         period = the announcement issue (公告期号, 2023年第1期); one announcement names
--                   a taxpayer once per tax type, a later row for the same tax type corrects it:
--                   the balance is the sum over tax types of each type's latest row.
-- As of the night built, macro as_of_on, else the run date: rows delivered after it are left out.
-- is_current answers the profile's two questions: an A-level rating of the latest year rated
-- (the latest evaluation year on the list by the as-of date), and arrears in the subject's latest
-- announcement (its current arrears amount).
with

ratings as (
    select * from {{ ref('stg_tax_a_level__taxpayers') }}
),

arrears as (
    select * from {{ ref('stg_tax_arrears__announcements') }}
),

{{ as_of_cte() }},

known_ratings as (
    select
        ratings.*,
        ratings.evaluation_year::text as period,
        ratings.evaluation_year as period_year,
        null::integer as period_quarter,
        null::text as tax_type
    from ratings
    cross join as_of
    where ratings.batch_logical_date <= as_of.as_of_on
        and credit.is_valid_uscc(ratings.uscc)
        and ratings.evaluation_year is not null
        and ratings.credit_grade = 'A'
),

ranked_ratings as (
    {{ rank_deliveries(
        'known_ratings',
        ['uscc', 'period'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
),

known_arrears as (
    select
        arrears.*,
        arrears.announcement_issue as period,
        substring(arrears.announcement_issue from '^([0-9]{4})年')::integer as period_year,
        substring(arrears.announcement_issue from '第([1-4])期')::integer as period_quarter
    from arrears
    cross join as_of
    where arrears.batch_logical_date <= as_of.as_of_on
        and credit.is_valid_uscc(arrears.uscc)
        and arrears.announcement_issue is not null
        and arrears.arrears_amount is not null
),

ranked_arrears as (
    {{ rank_deliveries(
        'known_arrears',
        ['uscc', 'period', 'tax_type'],
        'batch_logical_date desc, source_updated_at desc nulls last, source_row_number desc',
        reported_on='batch_logical_date'
    ) }}
),

rating_rows as (
    select
        'a_level_rating'::text as record_kind,
        uscc,
        subject_name,
        period,
        period_year,
        period_quarter,
        credit_grade,
        null::numeric as arrears_amount,
        null::numeric as new_arrears_amount,
        null::text as tax_types,
        tax_authority_name,
        published_on,
        first_reported_on,
        last_reported_on,
        delivery_count,
        batch_id as last_batch_id
    from ranked_ratings
    where recency = 1
),

arrears_rows as (
    select
        'arrears'::text as record_kind,
        uscc,
        (array_agg(subject_name order by batch_logical_date desc, source_row_number desc))[1] as subject_name,
        period,
        min(period_year) as period_year,
        min(period_quarter) as period_quarter,
        null::text as credit_grade,
        sum(arrears_amount) as arrears_amount,
        sum(new_arrears_amount) as new_arrears_amount,
        string_agg(tax_type, ',' order by tax_type) as tax_types,
        (array_agg(tax_authority_name order by batch_logical_date desc, source_row_number desc))[1]
            as tax_authority_name,
        max(announced_on) as published_on,
        min(first_reported_on) as first_reported_on,
        max(last_reported_on) as last_reported_on,
        sum(delivery_count) as delivery_count,
        (array_agg(batch_id order by batch_logical_date desc, batch_id desc))[1] as last_batch_id
    from ranked_arrears
    where recency = 1
    group by uscc, period
),

unioned as (
    select * from rating_rows
    union all
    select * from arrears_rows
),

flagged as (
    select
        unioned.*,
        case record_kind
            when 'a_level_rating'
                then period_year = max(period_year) filter (where record_kind = 'a_level_rating') over ()
            -- The subject's latest announcement (year, then quarter).
            else row_number() over (
                partition by uscc, record_kind
                order by period_year desc nulls last, period_quarter desc nulls last, published_on desc
            ) = 1
        end as is_current
    from unioned
),

final as (
    select
        md5(flagged.record_kind || '|' || flagged.uscc || '|' || flagged.period) as tax_status_id,
        flagged.uscc as subject_id,
        case when flagged.uscc like '92%' then 'individual_business' else 'organisation' end as subject_type,
        flagged.uscc,
        flagged.subject_name,
        flagged.record_kind,
        flagged.period,
        flagged.period_year,
        flagged.period_quarter,
        flagged.credit_grade,
        flagged.arrears_amount::numeric(18, 2) as arrears_amount,
        flagged.new_arrears_amount::numeric(18, 2) as new_arrears_amount,
        flagged.tax_types,
        flagged.tax_authority_name,
        md5(flagged.tax_authority_name) as tax_authority_department_id,
        flagged.published_on,
        flagged.is_current,
        (flagged.record_kind = 'a_level_rating' and flagged.is_current) as is_a_level_latest_year,
        case when flagged.record_kind = 'arrears' and flagged.is_current then flagged.arrears_amount end::numeric(18, 2)
            as current_arrears_amount,
        as_of.as_of_on,
        flagged.first_reported_on,
        flagged.last_reported_on,
        flagged.delivery_count::integer as delivery_count,
        flagged.last_batch_id
    from flagged
    cross join as_of
)

select * from final
