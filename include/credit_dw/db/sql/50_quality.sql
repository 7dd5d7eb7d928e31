-- The `quality` schema: views the daily data-quality report reads (credit_dw.quality_report,
-- docs/quality_report.md). The province credit office (省信用办) reads that report every morning
-- and chases departments whose records are late, missing, wrong or duplicated [rules §5].
--
-- Everything here reads only the ledger in `meta` (load_batches, row_issues, return_notices,
-- resubmissions), so the report can be rebuilt for any past night. Two things are NOT here:
--   * quality.row_attribution(__<source_id>): which department and division each landed row
--     belongs to. It reads the raw tables, whose set and columns come from the catalog, so
--     credit_dw.quality_report builds it from the catalog before every report.
--   * quality.qa_dual_publicity_timeliness (late / omitted / concealed decisions per department and
--     city, [000 §2.2]): owned by the dual-publicity feeds; the report shows its section only
--     when that view exists.
-- Grain and meaning of every view are in its comment. "Received" means the batch went through
-- the gate (status accepted or rejected); a failed or still running batch counts as missing.
create schema if not exists quality;
comment on schema quality is
    'Views behind the daily data-quality report of the province credit office (docs/quality_report.md).';

-- 重错码 (duplicate or wrong codes) [000 §2.4]: the checks that catch one code under two names
-- (uscc_one_name, in every feed's suite) and cross-feed code conflicts (code_conflict*).
create or replace function quality.is_code_error_check(check_name text) returns boolean
language sql immutable parallel safe as $$
    select strpos(check_name, 'uscc_one_name') > 0 or starts_with(check_name, 'code_conflict')
$$;

-- The office's rates, defined once (docs/quality_rates.md) [000 §2.2]: the daily quality report
-- (credit_dw.reports.quality), the dbt model quality.qa_dual_publicity_rates (monthly rates per
-- department, feed and jurisdiction) and the docs all use these four functions. Each takes counts
-- summed over the same nights and group; a count may be null (nothing that night) and counts as 0;
-- the rate is null when its denominator is 0 (nothing to measure), never 0 by default. Rates are
-- double precision: a share, printed as a percentage, not money.
--   迟报率 late-report rate  = late ÷ reported
--   漏报率 omission rate     = omitted ÷ (reported + omitted)              (the ledger's decisions)
--   瞒报率 concealment rate  = concealed ÷ (reported + omitted + concealed) (all decisions known to be made)
--   隔离占比 quarantine share = quarantined ÷ received                     (rows of received batches)
create or replace function quality.late_rate(late numeric, reported numeric) returns double precision
language sql immutable parallel safe as $$
    select coalesce(late, 0)::double precision / nullif(coalesce(reported, 0), 0)
$$;
comment on function quality.late_rate(numeric, numeric) is
    '迟报率 = late ÷ reported (docs/quality_rates.md); null when nothing was reported.';

create or replace function quality.omission_rate(reported numeric, omitted numeric) returns double precision
language sql immutable parallel safe as $$
    select coalesce(omitted, 0)::double precision / nullif(coalesce(reported, 0) + coalesce(omitted, 0), 0)
$$;
comment on function quality.omission_rate(numeric, numeric) is
    '漏报率 = omitted ÷ (reported + omitted) (docs/quality_rates.md); null when both are 0.';

create or replace function quality.concealment_rate(reported numeric, omitted numeric, concealed numeric)
returns double precision
language sql immutable parallel safe as $$
    select coalesce(concealed, 0)::double precision
        / nullif(coalesce(reported, 0) + coalesce(omitted, 0) + coalesce(concealed, 0), 0)
$$;
comment on function quality.concealment_rate(numeric, numeric, numeric) is
    '瞒报率 = concealed ÷ (reported + omitted + concealed) (docs/quality_rates.md); null when all are 0.';

create or replace function quality.quarantine_share(quarantined numeric, received numeric) returns double precision
language sql immutable parallel safe as $$
    select coalesce(quarantined, 0)::double precision / nullif(coalesce(received, 0), 0)
$$;
comment on function quality.quarantine_share(numeric, numeric) is
    '隔离占比 = quarantined ÷ received rows (docs/quality_rates.md); null when nothing was received.';

-- One row per batch (feed × night), with the night's return notices and re-submissions.
-- Row counts are null unless the batch went through the gate (is_received).
create or replace view quality.batch_outcomes as
select
    b.source_id,
    b.logical_date,
    b.batch_id,
    b.status,
    b.status in ('accepted', 'rejected') as is_received,
    case when b.status in ('accepted', 'rejected') then b.rows_received end as rows_received,
    case when b.status in ('accepted', 'rejected') then b.rows_accepted end as rows_accepted,
    case when b.status in ('accepted', 'rejected') then b.rows_quarantined end as rows_quarantined,
    case when b.status in ('accepted', 'rejected') then b.rows_warned end as rows_warned,
    case when b.status in ('accepted', 'rejected') then b.failure_share end as failure_share,
    b.reject_threshold,
    b.attempts,
    b.message,
    coalesce(n.return_notices, 0) as return_notices,
    coalesce(n.rows_returned, 0) as rows_returned,
    coalesce(r.rows_resubmitted, 0) as rows_resubmitted,
    coalesce(c.code_error_rows, 0) as code_error_rows,
    b.validated_at
from meta.load_batches b
left join lateral (
    select count(*) as return_notices, sum(rows_returned) as rows_returned
    from meta.return_notices n
    where n.source_id = b.source_id and n.logical_date = b.logical_date
) n on true
left join lateral (
    select count(distinct s.resubmitted_row_number) as rows_resubmitted
    from meta.resubmissions s
    where s.resubmitted_batch_id = b.batch_id
) r on true
left join lateral (
    select count(distinct i.row_number) as code_error_rows
    from meta.row_issues i
    where i.batch_id = b.batch_id and quality.is_code_error_check(i.check_name)
) c on true;
comment on view quality.batch_outcomes is
    'One row per feed and night: gate outcome, rows received/accepted/quarantined, return notices (信息退回), re-submissions (补报) and 重错码 rows.';

-- One row per failed check of a row of a received batch (critical and warning).
create or replace view quality.row_issue_facts as
select
    i.batch_id,
    i.source_id,
    b.logical_date,
    i.row_number,
    i.check_name,
    i.field,
    i.severity,
    i.reason,
    quality.is_code_error_check(i.check_name) as is_code_error
from meta.row_issues i
join meta.load_batches b on b.batch_id = i.batch_id
where b.status in ('accepted', 'rejected');
comment on view quality.row_issue_facts is
    'One row per failed check per source row of a received batch, with its night and whether it is a 重错码 check.';

-- One row per source row that failed at least one check.
create or replace view quality.issue_rows as
select
    batch_id,
    source_id,
    logical_date,
    row_number,
    bool_or(severity = 'critical') as is_quarantined,
    bool_or(severity = 'warning') as is_warned,
    bool_or(is_code_error) as is_code_error,
    array_agg(check_name order by check_name) as failed_checks
from quality.row_issue_facts
group by batch_id, source_id, logical_date, row_number;
comment on view quality.issue_rows is
    'One row per source row with at least one failed check: quarantined (critical), warned, 重错码.';

-- Rows per check and night: "quarantined by reason". A row failing two checks counts under both.
create or replace view quality.check_failures as
select
    source_id,
    logical_date,
    check_name,
    field,
    severity,
    reason,
    count(distinct (batch_id, row_number)) as rows_failed
from quality.row_issue_facts
group by source_id, logical_date, check_name, field, severity, reason;
comment on view quality.check_failures is
    'One row per feed, night and check: rows failing it (a row failing two checks counts under both).';

-- Rows per field and night: the worst fields. batch_rejected ('*') is a batch verdict, not a field.
create or replace view quality.field_failures as
select
    source_id,
    logical_date,
    field,
    count(distinct row_number) as rows_failed,
    count(distinct row_number) filter (where severity = 'critical') as rows_quarantined,
    count(distinct row_number) filter (where severity = 'warning') as rows_warned,
    array_agg(distinct check_name order by check_name) as checks
from quality.row_issue_facts
where field <> '*'
group by source_id, logical_date, field;
comment on view quality.field_failures is
    'One row per feed, night and field: distinct rows failing any check on the field (batches are one per feed and night).';

-- Whole-province totals per night, for the trend charts.
create or replace view quality.nightly_totals as
select
    logical_date,
    count(*) filter (where is_received) as feeds_received,
    count(*) filter (where status = 'rejected') as batches_rejected,
    coalesce(sum(rows_received), 0) as rows_received,
    coalesce(sum(rows_accepted), 0) as rows_accepted,
    coalesce(sum(rows_quarantined), 0) as rows_quarantined,
    -- numeric, as the column was before the function existed (a view keeps its column types).
    quality.quarantine_share(sum(rows_quarantined), sum(rows_received))::numeric as quarantine_share
from quality.batch_outcomes
group by logical_date;
comment on view quality.nightly_totals is
    'One row per night with any batch: feeds received, rejected batches, rows received/accepted/quarantined, quarantine share.';
