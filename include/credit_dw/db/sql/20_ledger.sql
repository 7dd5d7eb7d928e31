-- The ledger of batches, the row issues behind quarantine, and persisted validation results.
-- A batch is one feed's delivery for one logical date; its id is '<source_id>/<YYYY-MM-DD>' so a
-- rerun of the same night replaces it rather than adding to it (reruns are idempotent).

create table if not exists meta.load_batches (
    batch_id            text primary key,
    source_id           text not null,
    logical_date        date not null,
    status              text not null
        check (status in ('extracting', 'landed', 'accepted', 'rejected', 'failed', 'skipped')),
    rows_received       bigint,
    rows_accepted       bigint,
    rows_quarantined    bigint,
    rows_warned         bigint,
    failure_share       numeric,
    reject_threshold    numeric,
    watermark_low       timestamptz,
    watermark_high      timestamptz,
    landing_file        text,
    landing_sha256      text,
    message             text,
    attempts            integer not null default 1,
    started_at          timestamptz not null default now(),
    extracted_at        timestamptz,
    landed_at           timestamptz,
    validated_at        timestamptz,
    unique (source_id, logical_date),
    check (status not in ('accepted', 'rejected')
           or rows_received = rows_accepted + rows_quarantined)
);
comment on table meta.load_batches is
    'One row per feed and logical date: what came in, what was accepted or quarantined, and when.';

-- Every failed check of every row. A row is quarantined (held out of staging) when it has at
-- least one critical issue, or when its whole batch was rejected (check_name = ''batch_rejected'').
create table if not exists meta.row_issues (
    batch_id    text not null references meta.load_batches (batch_id) on delete cascade,
    source_id   text not null,
    row_number  bigint not null,
    check_name  text not null,
    field       text not null,
    severity    text not null check (severity in ('critical', 'warning')),
    reason      text not null,
    primary key (batch_id, row_number, check_name)
);

create or replace view meta.quarantine as
select
    batch_id,
    source_id,
    row_number,
    array_agg(check_name order by check_name) as failed_checks,
    array_agg(distinct field) as failed_fields,
    string_agg(reason, '; ' order by check_name) as reasons
from meta.row_issues
where severity = 'critical'
group by batch_id, source_id, row_number;
comment on view meta.quarantine is
    'One row per quarantined source row: the checks and fields that failed. Join raw.<table> on (_batch_id, _row_number) for its values.';

-- One row per expectation per batch, as Great Expectations reported it (GX 1.x keeps no store of
-- its own here, so the warehouse is the store; the quality report is rebuilt from this).
create table if not exists meta.validation_results (
    batch_id          text not null references meta.load_batches (batch_id) on delete cascade,
    source_id         text not null,
    logical_date      date not null,
    suite_name        text not null,
    check_name        text not null,
    field             text not null,
    severity          text not null,
    success           boolean not null,
    unexpected_count  bigint not null,
    element_count     bigint not null,
    result            jsonb not null,
    validated_at      timestamptz not null default now(),
    primary key (batch_id, check_name)
);

-- Files written for downstream platforms (one row per file), for audit and for reruns.
create table if not exists meta.export_files (
    target        text not null,
    logical_date  date not null,
    file_name     text not null,
    row_count     bigint not null,
    sha256        text not null,
    written_at    timestamptz not null default now(),
    primary key (target, logical_date, file_name)
);
