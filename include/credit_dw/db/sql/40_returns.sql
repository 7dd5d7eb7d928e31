-- Re-submissions (补报): a row accepted in a later batch whose business key matches a row that
-- was quarantined earlier from the same feed is the department's correction of it [000 §2.3].
create table if not exists meta.resubmissions (
    source_id               text not null,
    business_key            text not null,
    original_batch_id       text not null,
    original_row_number     bigint not null,
    resubmitted_batch_id    text not null references meta.load_batches (batch_id) on delete cascade,
    resubmitted_row_number  bigint not null,
    primary key (resubmitted_batch_id, resubmitted_row_number, original_batch_id, original_row_number)
);
comment on table meta.resubmissions is
    'One row per corrected re-submission (补报): which earlier quarantined row a later accepted row corrects.';

-- Return notices written (信息退回): one row per department, feed and night.
create table if not exists meta.return_notices (
    source_id     text not null,
    department    text not null,
    logical_date  date not null,
    file_name     text not null,
    rows_returned bigint not null,
    sha256        text not null,
    primary key (source_id, department, logical_date)
);
-- Files refused as a whole, listed in the notice with their reason (file-drop feeds).
alter table meta.return_notices add column if not exists files_refused bigint not null default 0;
