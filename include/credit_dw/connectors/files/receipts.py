"""The file receipts ledger: `meta.file_receipts` (one row per delivered file and batch: landed,
duplicate or rejected) and `meta.delivered_files` (what each source has landed, by sha256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from credit_dw.catalog import SourceSpec
from credit_dw.db.connect import connect

#: Statuses whose landed rows are in the raw table for good (a failed batch's are not).
_SETTLED = ("landed", "accepted", "rejected")

DDL = """
create table if not exists meta.delivered_files (
    source_id     text not null,
    file_name     text not null,
    sha256        text not null,
    batch_id      text not null references meta.load_batches (batch_id) on delete cascade,
    logical_date  date not null,
    rows          bigint not null,
    delivered_at  timestamptz not null default now(),
    primary key (source_id, sha256)
);
comment on table meta.delivered_files is
    'Files landed by file-drop feeds, by content (sha256): a file delivered again is skipped, not landed twice.';

create table if not exists meta.file_receipts (
    batch_id               text not null references meta.load_batches (batch_id) on delete cascade,
    source_id              text not null,
    logical_date           date not null,
    file_name              text not null,
    sha256                 text not null,
    bytes                  bigint not null,
    file_format            text,
    encoding               text,
    outcome                text not null check (outcome in ('landed', 'duplicate', 'rejected')),
    rows                   bigint,
    line_number            bigint,
    source_row             bigint,
    reason                 text,
    duplicate_of_batch_id  text,
    duplicate_of_file      text,
    archived_as            text not null,
    primary key (batch_id, file_name)
);
alter table meta.file_receipts add column if not exists notice text;
alter table meta.file_receipts add column if not exists rows_note text;
alter table meta.file_receipts add column if not exists notes text;
alter table meta.file_receipts add column if not exists sheets text;
comment on column meta.file_receipts.sheets is
    'XLSX: the worksheets read (each carrying the template''s header), joined by 、; data rows are '
    'numbered on across them in this order.';
comment on column meta.file_receipts.notes is
    'What reading did beyond mapping headers, in Chinese: which worksheet(s) were read, a column the '
    'file lacks taken from another (catalog derived_when_missing).';
comment on column meta.file_receipts.rows is
    'Data rows of the file: landed rows; for a rejected file counted where it can be read, estimated '
    'from its lines where not (rows_note says which), NULL when it cannot be counted (rows_note says why).';
comment on column meta.file_receipts.notice is
    'Why a rejected file was refused, in Chinese, as its department''s return notice says it.';
comment on table meta.file_receipts is
    'One row per delivered file per file-drop batch: landed, skipped as a duplicate, or rejected '
    '(line, row, reason) for the return notice.';
"""


@dataclass(frozen=True)
class FileReceipt:
    file_name: str
    sha256: str
    bytes: int
    outcome: str  # landed | duplicate | rejected
    archived_as: str
    file_format: str | None = None
    encoding: str | None = None
    rows: int | None = 0
    line_number: int | None = None
    source_row: int | None = None
    reason: str | None = None
    duplicate_of_batch_id: str | None = None
    duplicate_of_file: str | None = None
    notice: str | None = None
    rows_note: str | None = None
    notes: str | None = None
    sheets: str | None = None


def ensure_tables() -> None:
    """`meta.delivered_files` and `meta.file_receipts` (idempotent; one creator at a time)."""
    with connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('credit_dw.connectors.files.connector.ddl'))")
        conn.execute(DDL)


def earlier_delivery(conn, spec: SourceSpec, batch_id: str, sha256: str) -> tuple[str, str] | None:
    """(batch, file) that already landed these bytes for the source, in a batch whose rows stay."""
    return conn.execute(
        f"""select d.batch_id, d.file_name from meta.delivered_files d
            where d.source_id = %s and d.sha256 = %s and d.batch_id <> %s
              and exists (select 1 from meta.load_batches b
                          where b.batch_id = d.batch_id and b.status = any(%s))
              and (d.rows = 0 or exists (select 1 from {spec.raw_relation} r
                                         where r._batch_id = d.batch_id and r._source_file = d.file_name))""",
        (spec.source_id, sha256, batch_id, list(_SETTLED)),
    ).fetchone()


def record(spec: SourceSpec, batch_id: str, logical_date: date, receipts: list[FileReceipt]) -> None:
    """Replace the batch's receipts and delivered-file entries (a rerun of the night replaces its own;
    a file landed again by the rerun keeps its first `delivered_at`)."""
    with connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"credit_dw.extract_files:{spec.source_id}",))
        first_seen = dict(conn.execute(
            "select sha256, delivered_at from meta.delivered_files where batch_id = %s", (batch_id,)
        ).fetchall())
        conn.execute("delete from meta.delivered_files where batch_id = %s", (batch_id,))
        conn.execute("delete from meta.file_receipts where batch_id = %s", (batch_id,))
        for r in receipts:
            conn.execute(
                """insert into meta.file_receipts
                   (batch_id, source_id, logical_date, file_name, sha256, bytes, file_format, encoding, outcome,
                    rows, line_number, source_row, reason, duplicate_of_batch_id, duplicate_of_file, archived_as,
                    notice, rows_note, notes, sheets)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (batch_id, spec.source_id, logical_date, r.file_name, r.sha256, r.bytes, r.file_format, r.encoding,
                 r.outcome, r.rows, r.line_number, r.source_row, r.reason, r.duplicate_of_batch_id,
                 r.duplicate_of_file, r.archived_as, r.notice, r.rows_note, r.notes, r.sheets),
            )
            if r.outcome != "landed":
                continue
            # A conflicting entry can only belong to a batch whose rows did not stay (failed, or
            # replaced): this delivery takes it over.
            conn.execute(
                """insert into meta.delivered_files as d
                       (source_id, file_name, sha256, batch_id, logical_date, rows, delivered_at)
                   values (%s, %s, %s, %s, %s, %s, coalesce(%s, now()))
                   on conflict (source_id, sha256) do update set
                       file_name = excluded.file_name, batch_id = excluded.batch_id,
                       logical_date = excluded.logical_date, rows = excluded.rows,
                       delivered_at = excluded.delivered_at""",
                (spec.source_id, r.file_name, r.sha256, batch_id, logical_date, r.rows, first_seen.get(r.sha256)),
            )


def clear(batch_id: str) -> None:
    with connect() as conn:
        conn.execute("delete from meta.delivered_files where batch_id = %s", (batch_id,))
        conn.execute("delete from meta.file_receipts where batch_id = %s", (batch_id,))


def file_receipts(batch_id: str) -> list[dict]:
    """The batch's file receipts, in file-name order (for reports and tests)."""
    with connect() as conn:
        cur = conn.execute("select * from meta.file_receipts where batch_id = %s order by file_name", (batch_id,))
        return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]
