"""Landing: batch files on disk and their COPY into the `raw` schema.

Every feed, whatever its connector, ends as one CSV per batch with the columns
`_batch_id, _source_id, _row_number, _source_file, _source_row, <canonical fields…>, _extra`:
`_row_number` counts the batch's rows from 1; `_source_file` / `_source_row` say where a row
stood in what the department delivered (file name and its data-row number, for return notices;
empty for database feeds); `_extra` is a JSON object of delivered columns the catalog does not
know (kept, never dropped silently). `copy_into_raw` streams that file into
`raw.<table>` with PostgreSQL COPY in fixed-size chunks: constant memory, no row-by-row inserts.

Values COPY would refuse are caught as each row is written, per row and field, so one bad cell
cannot fail the feed with PostgreSQL's message: a NUL character (0x00; text and jsonb cannot hold
it) and a lone UTF-16 surrogate (U+D800–U+DFFF, which a JSON interface can send as `\\ud800`; not
encodable in UTF-8). Each such character lands as U+FFFD (so the row and the rest of its values
are kept and can be returned) and the row carries `_extra._unstorable`: one
`{"field", "reason"}` per field, the reason in Chinese naming file, row and the department's own
field name (`文件 a.csv 第 3 行：字段 纳税人名称 含有 NUL 字符 (0x00)…`). The gate quarantines
such rows (check `unstorable_value:<field>`, critical) whatever the feed's suite says.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect

META_COLUMNS = ("_batch_id", "_source_id", "_row_number", "_source_file", "_source_row")
CHUNK_BYTES = 1 << 20
#: The `_extra` key of a row holding values the database could not store as delivered.
UNSTORABLE_KEY = "_unstorable"
#: Characters PostgreSQL's COPY refuses in text / jsonb: NUL, and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
_ESCAPED = re.compile(r"\\u(0000|d[89a-f])", re.IGNORECASE)


def _describe(char: str) -> str:
    if char == "\x00":
        return "NUL 字符 (0x00)"
    return f"无法编码的字符 (U+{ord(char):04X}，孤立的代理项)"


def _reason(where: str, field: str, found: str) -> str:
    return f"{where}：字段 {field} 含有 {found}，数据库无法保存；已替换为 \ufffd 留存，本行退回，请更正后重报"


def unstorable(value: object) -> str | None:
    """What in a value (text, or nested JSON from an interface) COPY would refuse, in Chinese; else None."""
    found: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            for char in dict.fromkeys(_UNSTORABLE.findall(item)):
                found.append(_describe(char))
        elif isinstance(item, dict):
            for key, inner in item.items():
                walk(key)
                walk(inner)
        elif isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)

    walk(value)
    return "、".join(dict.fromkeys(found)) or None


def storable(value):
    """The value with every character COPY refuses replaced by U+FFFD (nested JSON values too)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


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
        self.unstorable_rows = 0

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
        problems = self._unstorable(values, extra, source_file, source_row)
        if problems:
            values = [storable(v) for v in values]
            extra = {**(storable(extra) if extra else {}), UNSTORABLE_KEY: problems}
            self.unstorable_rows += 1
        # None and '' both become an empty field, which COPY reads as NULL: a department's
        # empty cell and its NULL mean the same (nothing reported). Blanks (' ') are kept.
        self._csv.writerow([
            self.batch_id, self.spec.source_id, self.rows, source_file, source_row, *values,
            json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
        ])

    def _unstorable(self, values, extra, source_file, source_row) -> list[dict[str, str]]:
        """One {"field", "reason"} per field holding a value COPY would refuse (see the module doc)."""
        # Fast path (every row comes through here): one search over the row's text, and over the
        # JSON of its unknown columns, where json.dumps writes both characters as \u escapes.
        if not _UNSTORABLE.search("".join(v for v in values if v)) and (
                not extra or not _ESCAPED.search(json.dumps(extra)) or not unstorable(extra)):
            return []
        where = (f"文件 {source_file} 第 {source_row} 行" if source_file and source_row
                 else f"文件 {source_file}" if source_file else f"批次第 {self.rows} 行")
        problems = []
        for name, value in zip(self.spec.canonical_fields, values, strict=True):
            found = value and unstorable(value)
            if found:
                problems.append({"field": name, "reason": _reason(where, self.spec.fields.get(name, name), found)})
        for key, value in (extra or {}).items():
            found = unstorable(key) or unstorable(value)
            if found:
                problems.append({"field": storable(key), "reason": _reason(where, storable(key), found)})
        return problems

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
