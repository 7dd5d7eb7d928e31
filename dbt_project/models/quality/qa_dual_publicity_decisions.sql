-- One row per dual-publicity decision (source_id, department, document_key) the platform has seen
-- through any channel (quality.qa_dual_publicity_evidence), with its timeliness status [000 §2.2;
-- docs/quality_rates.md]:
--   reported   first_reported_on = the first night it arrived in an accepted report row;
--   late       reported after deadline_on = credit.add_working_days(decision_date, 7);
--   cutoff_on  for a decision in a ledger or the national push-down: the night by which a report
--              must have arrived, greatest(7th working day after the end of the decision's month,
--              the night the ledger / push-down arrived);
--   omitted    in the department's ledger, not reported on or before cutoff_on (漏报);
--   concealed  in the push-down, in no ledger, not reported on or before cutoff_on (瞒报);
--   established_on: the first night on or after cutoff_on on which reports of that feed arrived —
--              the night the platform knows the decision is missing. Until then: pending.
-- status: omitted | concealed | late | on_time | pending, in that order of precedence. A decision
-- reported after its cut-off stays omitted / concealed (the audit found it missing) and is also
-- counted, late, on the night it arrived (is_reported, is_late).
{% set calendar_start = var('working_calendar_start', '2014-01-01') %}
with

evidence as (
    select * from {{ ref('qa_dual_publicity_evidence') }}
),

-- The first row of each channel per decision.
first_rows as (
    select distinct on (source_id, department, document_key, channel)
        source_id,
        department,
        document_key,
        channel,
        case channel when 'report' then 1 when 'ledger' then 2 else 3 end as channel_rank,
        seen_on,
        decision_document_number,
        decision_date,
        ledger_month,
        city_code,
        city_basis
    from evidence
    order by source_id, department, document_key, channel, seen_on, batch_id, source_row_number
),

row_counts as (
    select
        source_id,
        department,
        document_key,
        count(*) filter (where channel = 'report') as report_rows
    from evidence
    group by source_id, department, document_key
),

-- Nights on which reports of each feed arrived: when omissions can be established.
report_nights as (
    select distinct source_id, seen_on
    from evidence
    where channel = 'report'
),

decisions as (
    select
        source_id,
        department,
        document_key,
        -- What the report says, else the ledger, else the push-down.
        (array_agg(decision_document_number order by channel_rank))[1] as decision_document_number,
        (array_agg(decision_date order by channel_rank))[1] as decision_date,
        (array_agg(city_code order by channel_rank))[1] as city_code,
        (array_agg(city_basis order by channel_rank))[1] as city_basis,
        min(seen_on) filter (where channel = 'report') as first_reported_on,
        min(seen_on) filter (where channel = 'ledger') as ledger_received_on,
        min(ledger_month) filter (where channel = 'ledger') as ledger_month,
        min(seen_on) filter (where channel = 'pushdown') as first_pushed_on
    from first_rows
    group by source_id, department, document_key
),

dated as (
    select
        decisions.*,
        row_counts.report_rows,
        -- The calendar starts on {{ calendar_start }}; an older decision is measured from then (and is late anyway).
        credit.add_working_days(greatest(decisions.decision_date, date '{{ calendar_start }}'), 7) as deadline_on,
        greatest(
            credit.add_working_days(
                (
                    date_trunc('month', greatest(decisions.decision_date, date '{{ calendar_start }}'))
                    + interval '1 month - 1 day'
                )::date,
                7
            ),
            coalesce(decisions.ledger_received_on, decisions.first_pushed_on)
        ) as cutoff_on
    from decisions
    inner join row_counts
        on row_counts.source_id = decisions.source_id
        and row_counts.department = decisions.department
        and row_counts.document_key = decisions.document_key
),

-- The first report night of the feed on or after each cut-off (cut-offs repeat: month ends,
-- ledger nights), so the range join stays small. Materialized: a few rows, joined by hash
-- (inlined, the planner may re-run it for every decision).
cutoffs as (
    select distinct source_id, cutoff_on
    from dated
    where ledger_received_on is not null or first_pushed_on is not null
),

checks as materialized (
    select
        cutoffs.source_id,
        cutoffs.cutoff_on,
        min(report_nights.seen_on) as checked_on
    from cutoffs
    inner join report_nights
        on report_nights.source_id = cutoffs.source_id
        and report_nights.seen_on >= cutoffs.cutoff_on
    group by cutoffs.source_id, cutoffs.cutoff_on
),

classified as (
    select
        dated.*,
        checks.checked_on,
        (dated.ledger_received_on is not null or dated.first_pushed_on is not null)
            and checks.checked_on is not null
            and not coalesce(dated.first_reported_on <= dated.cutoff_on, false) as is_missing
    from dated
    left join checks
        on checks.source_id = dated.source_id
        and checks.cutoff_on = dated.cutoff_on
),

final as (
    select
        md5(source_id || '|' || department || '|' || document_key) as decision_id,
        source_id,
        department,
        city_code,
        city_basis,
        decision_document_number,
        document_key,
        decision_date,
        deadline_on,
        first_reported_on,
        report_rows::integer as report_rows,
        credit.working_days_between(greatest(decision_date, date '{{ calendar_start }}'), first_reported_on)
            as working_days_to_report,
        first_reported_on is not null as is_reported,
        coalesce(first_reported_on > deadline_on, false) as is_late,
        ledger_received_on is not null as is_in_ledger,
        ledger_month,
        ledger_received_on,
        first_pushed_on is not null as is_pushed_down,
        first_pushed_on,
        case when ledger_received_on is not null or first_pushed_on is not null then cutoff_on end as cutoff_on,
        case when is_missing then checked_on end as established_on,
        case
            when is_missing and ledger_received_on is not null then 'omitted'
            when is_missing then 'concealed'
            when first_reported_on > deadline_on then 'late'
            when first_reported_on is not null then 'on_time'
            else 'pending'
        end as status
    from classified
)

select * from final
