-- The export ledger: one delivery per (target, logical date) [issue 20].
-- A delivery is recorded after its files, manifest and _SUCCESS marker are in place; a rerun of
-- the same night regenerates the files, finds them byte-identical to the recorded hashes and
-- records nothing new (a correction after delivery is a new increment, never a rewrite).
-- The per-file rows stay in meta.export_files (20_ledger.sql).
create table if not exists meta.export_deliveries (
    target          text not null,
    logical_date    date not null,
    layout_version  text not null,
    git_revision    text not null,
    file_count      integer not null,
    row_count       bigint not null,
    manifest_sha256 text not null,
    manifest        text not null,          -- datapackage.json as delivered, byte for byte
    delivered_at    timestamptz not null default now(),
    primary key (target, logical_date)
);

comment on table meta.export_deliveries is
    'One row per export delivery (target, logical date): written once, after the _SUCCESS marker';
