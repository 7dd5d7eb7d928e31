"""Landing: batch files on disk and their COPY into the `raw` schema.

Every feed, whatever its connector, ends as one CSV per batch with the columns
`_batch_id, _source_id, _row_number, _source_file, _source_row, <canonical fields…>, _extra`:
`_row_number` counts the batch's rows from 1; `_source_file` / `_source_row` say where a row
stood in what the department delivered (file name and its data-row number, for return notices;
empty for database feeds); `_extra` is a JSON object of delivered columns the catalog does not
know (kept, never dropped silently). `copy_into_raw` streams that file into
`raw.<table>` with PostgreSQL COPY in fixed-size chunks: constant memory, no row-by-row inserts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect

META_COLUMNS = ("_batch_id", "_source_id", "_row_number", "_source_file", "_source_row")
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    path: Path
    rows: int
    sha256: str


class LandingWriter:
    """Writes a batch's landing CSV atomically (temp file, then rename) and hashes it."""

    def __init__(self, spec: SourceSpec, batch_id: str, logical_date: date):
        self.spec = spec
        self.batch_id = batch_id
        directory = settings.landing_dir(spec.source_id, logical_date.isoformat())
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{spec.raw_table}.csv"
        self._tmp = self.path.with_suffix(".csv.part")
        self.rows = 0

    def __enter__(self) -> LandingWriter:
        self._fh = open(self._tmp, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._csv.writerow([*META_COLUMNS, *self.spec.canonical_fields, "_extra"])
        return self

    def write_rows(self, rows: Iterable[Sequence[str | None]]) -> None:
        """Rows of canonical field values, in catalog order (database feeds)."""
        for row in rows:
            self.write_row(row)

    def write_row(
        self,
        values: Sequence[str | None],
        *,
        source_file: str | None = None,
        source_row: int | None = None,
        extra: dict[str, str | None] | None = None,
    ) -> None:
        """One row: canonical values in catalog order, where it came from, and unknown columns."""
        self.rows += 1
        # None and '' both become an empty field, which COPY reads as NULL: a department's
        # empty cell and its NULL mean the same (nothing reported). Blanks (' ') are kept.
        self._csv.writerow([
            self.batch_id, self.spec.source_id, self.rows, source_file, source_row, *values,
            json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
        ])

    def finish(self) -> LandingFile:
        self._fh.close()
        digest = hashlib.sha256()
        with open(self._tmp, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
                digest.update(chunk)
        os.replace(self._tmp, self.path)
        return LandingFile(self.path, self.rows, digest.hexdigest())

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._fh.closed:
            self._fh.close()
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)


def ensure_raw_table(spec: SourceSpec) -> None:
    """Create `raw.<table>` if missing: every field as text plus load metadata; add new fields."""
    fields = ",\n    ".join(f'"{name}" text' for name in spec.canonical_fields)
    with connect() as conn:
        conn.execute(
            f"""
            create table if not exists {spec.raw_relation} (
                _batch_id text not null,
                _source_id text not null,
                _row_number bigint not null,
                _source_file text,
                _source_row bigint,
                _loaded_at timestamptz not null default now(),
                {fields},
                _extra jsonb,
                primary key (_batch_id, _row_number)
            )
            """
        )
        for name in spec.canonical_fields:
            conn.execute(f'alter table {spec.raw_relation} add column if not exists "{name}" text')
        conn.execute(f"alter table {spec.raw_relation} add column if not exists _source_file text")
        conn.execute(f"alter table {spec.raw_relation} add column if not exists _source_row bigint")
        title = f"Landed rows of feed {spec.source_id} ({spec.title}); source values as text.".replace("'", "''")
        conn.execute(f"comment on table {spec.raw_relation} is '{title}'")


def copy_into_raw(spec: SourceSpec, landing: Path, *, chunk_bytes: int = CHUNK_BYTES) -> int:
    """COPY a landing file into the raw table, `chunk_bytes` at a time; returns the rows copied."""
    with open(landing, encoding="utf-8", newline="") as fh:
        header = next(csv.reader([fh.readline()]))
    columns = ", ".join(f'"{c}"' for c in header)
    with connect() as conn, conn.cursor() as cur:
        with cur.copy(f"copy {spec.raw_relation} ({columns}) from stdin with (format csv, header true)") as copy:
            with open(landing, "rb") as fh:
                for chunk in iter(lambda: fh.read(chunk_bytes), b""):
                    copy.write(chunk)
        return cur.rowcount
