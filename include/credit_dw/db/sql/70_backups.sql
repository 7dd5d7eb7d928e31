-- The restore drills' record (docs/runbook.md "Backups and restore"): one row per drill. The row
-- is inserted just after the drill's target time T, so it must be absent from the copy restored
-- to T (the drill checks that); the figures are filled in once the restored copy was compared.
create table if not exists meta.backup_drills (
    drill_id            text primary key,
    backup_id           text not null,
    target_time         timestamptz not null,
    started_at          timestamptz not null default clock_timestamp(),
    recovery_point_time timestamptz,            -- last transaction the restored copy replayed
    recovery_point_lsn  pg_lsn,
    restore_seconds     numeric,                -- barman recover until the scratch server answers
    tables_compared     integer,
    checksums_equal     boolean,
    finished_at         timestamptz
);

comment on table meta.backup_drills is
    'One row per restore drill: backup, target time, recovery point reached, restore time, verdict';
