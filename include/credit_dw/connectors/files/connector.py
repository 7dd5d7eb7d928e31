"""File-drop connector: a night's delivered CSV / XLSX files into the batch's landing file.

Departments without a system connection deliver the national template as files [000 §2.3;
domain §4]: `$CREDIT_DW_HOME/inbox/<source_id>/<YYYY-MM-DD>/<department_code>_<anything>.csv|xlsx`,
several a day if they like. The night's batch is every file in that folder, in name order; the
extraction window of the ledger does not apply (the folder *is* the night). The reporting date of
every row is the batch's logical date: the day the file reached the platform.

Contract, per file (outcomes in `meta.file_receipts`, one row per file and batch):
- archived first: copied to `landing/<source_id>/<date>/delivered/<name>` while its sha256 is
  computed; everything after reads the archived copy, so what was hashed is what was landed;
- skipped as `duplicate` when the same bytes were already landed for this source by another
  settled batch (`meta.delivered_files`, confirmed against the raw table's `_source_file`) or by
  an earlier file of the same night; a rerun of the same night replaces its own entries, so it
  never counts its own files as duplicates;
- `rejected` (the file lands no rows; receipt names line, data row and reason, so the department
  can correct and re-send it) when it cannot be decoded (CSV: BOM → UTF-8-SIG, else strict UTF-8,
  else GB18030, the superset of GBK), is malformed or cut off (unterminated quoted field, a row
  with fewer cells than the header), is not a readable XLSX workbook, has no header row, has two
  columns meaning the same field, or has an unsupported type;
- a file lacking a column of the catalog's `required_columns` fails the WHOLE batch (raised; the
  ledger marks the batch failed and names file and columns), because landing the night without it
  would make the department's records look omitted (漏报) [000 §2.2];
- otherwise `landed`: every data row becomes one landed row with `source_file` (file name) and
  `source_row` (1-based data row number after the header; blank rows keep their number but land
  nothing), canonical fields in catalog order, unknown columns kept in `_extra`.

Headers are mapped through `seeds/field_aliases.csv` (template headers, legacy CF_* / XK_* codes,
canonical names) plus the catalog's own `fields`, after `normalize_header`. No files for the night
is not an error: the batch lands zero rows (a missing feed is the quality report's business).

Reading is streamed: the csv module line by line, openpyxl in `read_only` mode; each file is read
twice (validate, then write), memory stays constant whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.ingest.landing import LandingFile, LandingWriter
from credit_dw.ingest.ledger import Window

log = logging.getLogger(__name__)

ALIASES_FILE = "field_aliases.csv"
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
CHUNK_BYTES = 1 << 20
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
comment on table meta.file_receipts is
    'One row per delivered file per file-drop batch: landed, skipped as a duplicate, or rejected '
    '(line, row, reason) for the return notice.';
"""


class MissingColumnsError(ValueError):
    """A delivered file lacks required columns: the whole night's batch fails."""


class FileRejected(Exception):
    """A file that cannot be landed; the receipt carries where and why."""

    def __init__(self, reason: str, *, line: int | None = None, row: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.row = row


@dataclass(frozen=True)
class FileReceipt:
    file_name: str
    sha256: str
    bytes: int
    outcome: str  # landed | duplicate | rejected
    archived_as: str
    file_format: str | None = None
    encoding: str | None = None
    rows: int = 0
    line_number: int | None = None
    source_row: int | None = None
    reason: str | None = None
    duplicate_of_batch_id: str | None = None
    duplicate_of_file: str | None = None


@dataclass
class _Scan:
    """A validated file: how to read it and where each column goes."""

    name: str
    archived: Path
    sha256: str
    bytes: int
    file_format: str
    encoding: str | None
    columns: list[tuple[str, str]] = field(default_factory=list)  # (field|extra|unnamed, name) per column
    missing: list[str] = field(default_factory=list)
    rows: int = 0


# --- header mapping ----------------------------------------------------------------------------

_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFEFF: None}


def normalize_header(text: object) -> str:
    """A header as compared: full-width ASCII and （）→ half-width, no white space, no `*`
    required-markers, case-folded ("罚款金额（万元）", "罚款金额(万元)" and " cf_nr_fk " all match)."""
    if text is None:
        return ""
    value = str(text).translate(_HALF_WIDTH)
    return "".join(value.split()).strip("*").casefold()


def aliases_path() -> Path:
    return settings.SEEDS_DIR / ALIASES_FILE


@cache
def _alias_rows() -> tuple[tuple[str, str, str, str], ...]:
    with aliases_path().open(encoding="utf-8", newline="") as fh:
        return tuple((r["source_id"], r["canonical_field"], r["alias"], r["alias_kind"]) for r in csv.DictReader(fh))


def header_aliases(spec: SourceSpec) -> dict[str, str]:
    """Normalised header → canonical field for one source (alias table + catalog headers + names)."""
    known = set(spec.canonical_fields)
    pairs = [(name, name, "canonical") for name in spec.canonical_fields]
    pairs += [(header, name, "catalog fields") for name, header in spec.fields.items()]
    for source_id, canonical, alias, kind in _alias_rows():
        if source_id != spec.source_id:
            continue
        if canonical not in known:
            raise ValueError(f"{aliases_path()}: alias {alias!r} of {source_id} names {canonical!r}, "
                             f"which is not a field of the catalog entry")
        pairs.append((alias, canonical, kind))
    mapping: dict[str, str] = {}
    for alias, canonical, kind in pairs:
        key = normalize_header(alias)
        if mapping.setdefault(key, canonical) != canonical:
            raise ValueError(f"{aliases_path()}: header {alias!r} ({kind}) of {spec.source_id} means both "
                             f"{mapping[key]!r} and {canonical!r}")
    return mapping


def required_columns(spec: SourceSpec) -> list[str]:
    required = list(spec.extra.get("required_columns", []))
    unknown = [c for c in required if c not in spec.fields]
    if unknown:
        raise ValueError(f"catalog entry {spec.source_id}: required_columns {unknown} are not in its fields")
    return required


def _map_header(cells: list[str | None], aliases: dict[str, str], required: list[str]) -> tuple[list, list]:
    columns: list[tuple[str, str]] = []
    taken: dict[str, str] = {}
    extra_names: set[str] = set()
    for index, cell in enumerate(cells):
        text = (cell or "").strip()
        canonical = aliases.get(normalize_header(text))
        if canonical is None and not text:
            columns.append(("unnamed", f"column_{index + 1}"))
        elif canonical is None:
            name = text
            while name in extra_names:
                name += "#"
            extra_names.add(name)
            columns.append(("extra", name))
        elif canonical in taken:
            raise FileRejected(f"columns {taken[canonical]!r} and {text!r} both mean {canonical}; "
                               "send one column per field", line=None)
        else:
            taken[canonical] = text
            columns.append(("field", canonical))
    return columns, [c for c in required if c not in taken]


# --- reading ---------------------------------------------------------------------------------

def inbox_files(inbox: Path) -> list[Path]:
    """The delivered files, in name order; hidden and temporary files (still being written) are not."""
    if not inbox.is_dir():
        return []
    return sorted(
        p for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith((".", "~$")) and not p.name.endswith((".part", ".tmp"))
    )


def _archive(path: Path, archive_dir: Path) -> tuple[Path, str, int]:
    """Copy into the archive while hashing; returns (archived path, sha256, bytes)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    target = archive_dir / path.name
    tmp = archive_dir / f".{path.name}.part"
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    shutil.copystat(path, tmp)
    os.replace(tmp, target)
    return target, digest.hexdigest(), size


class _Undecodable(Exception):
    def __init__(self, line: int, exc: UnicodeDecodeError):
        super().__init__(f"line {line}")
        self.line = line
        self.exc = exc


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and encoding == "utf-8-sig":
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise _Undecodable(number, exc) from exc


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[int, list[str | None]]]:
    """(line number of the record's last line, cells) per CSV record; FileRejected when malformed."""
    reader = csv.reader(_text_lines(path, encoding), strict=True)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = str(exc)
            if "unexpected end of data" in message:
                message = "the file ends inside a quoted value (cut off, or an unclosed quote)"
            raise FileRejected(f"malformed CSV at line {reader.line_num}: {message}", line=reader.line_num) from exc
        yield reader.line_num, list(cells)


def _detect_encoding(path: Path) -> str:
    """BOM → utf-8-sig; else the first of strict UTF-8, GB18030 that decodes every line."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected("the file is UTF-16 (Excel 'Unicode text'); save it as CSV in UTF-8 or GBK, or as XLSX",
                           line=1)
    else:
        candidates = ["utf-8", "gb18030"]
    failures = []
    for encoding in candidates:
        try:
            for _ in _text_lines(path, encoding):
                pass
            return encoding
        except _Undecodable as bad:
            failures.append((encoding, bad))
    # Report where the likelier encoding broke: the one that decoded the most lines.
    encoding, bad = max(failures, key=lambda f: f[1].line)
    tried = "; ".join(f"{enc}: line {b.line}, byte {b.exc.start + 1} ({b.exc.object[b.exc.start:b.exc.end]!r})"
                      for enc, b in failures)
    raise FileRejected(f"undecodable bytes at line {bad.line}: the file is neither UTF-8 nor GB18030/GBK ({tried})",
                       line=bad.line)


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value)


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """(sheet row number, cells) of the first worksheet, streamed (openpyxl read_only)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError, XML errors …
        raise FileRejected(f"not a readable XLSX workbook ({type(exc).__name__}: {exc}); "
                           "send it again as .xlsx saved by Excel/WPS, or as CSV") from exc
    number = 0
    try:
        if not workbook.worksheets:
            raise FileRejected("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the stored dimension may be wrong; read rows as they are
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise FileRejected(f"the worksheet cannot be read after row {number} "
                                   f"({type(exc).__name__}: {exc})", line=number + 1) from exc
            number += 1
            yield number, [_cell_text(v) for v in row]
    finally:
        workbook.close()


def _records(scan: _Scan) -> Iterator[tuple[int, list[str | None]]]:
    if scan.file_format == "xlsx":
        return _xlsx_records(scan.archived)
    return _csv_records(scan.archived, scan.encoding or "utf-8")


def _blank(cell: str | None) -> bool:
    return cell is None or not cell.strip()


def _data_rows(scan: _Scan, records: Iterator[tuple[int, list[str | None]]], *, header_found=None
               ) -> Iterator[tuple[int, int, list[str | None]]]:
    """(data row number, line number, cells) after the header row (the first row with ≥ 2 cells;
    a title row above it is skipped). Blank rows keep their number and are not yielded."""
    header_cells = None
    for _line, cells in records:
        if sum(not _blank(c) for c in cells) >= 2:
            header_cells = cells
            break
    if header_cells is None:
        raise FileRejected("no header row (a row with the template's column headers) in the file")
    if header_found is not None:
        header_found(header_cells)
    width = len(header_cells)
    row_number = 0
    while True:
        try:
            line, cells = next(records)
        except StopIteration:
            return
        except FileRejected as bad:
            bad.row = bad.row or row_number + 1  # the record being read when the file broke
            raise
        row_number += 1
        if all(_blank(c) for c in cells):
            continue
        if len(cells) < width:
            if scan.file_format == "csv":
                raise FileRejected(
                    f"data row {row_number} (line {line}) has {len(cells)} cells, the header has {width}: "
                    "the file looks cut off or a row is broken", line=line, row=row_number)
            cells = cells + [None] * (width - len(cells))
        elif len(cells) > width and scan.file_format == "csv" and not all(_blank(c) for c in cells[width:]):
            raise FileRejected(
                f"data row {row_number} (line {line}) has {len(cells)} cells, more than the {width} "
                "columns of the header (an unquoted comma?)", line=line, row=row_number)
        yield row_number, line, cells


def _scan(path: Path, archived: Path, sha256: str, size: int, aliases: dict[str, str], required: list[str]) -> _Scan:
    """Validate a file end to end without landing it: FileRejected, or its column plan and row count."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise FileRejected(f"unsupported file type {path.suffix or '(none)'!r}: send CSV (UTF-8 or GBK) or XLSX")
    scan = _Scan(path.name, archived, sha256, size, FORMATS[suffix], None)
    if scan.file_format == "csv":
        scan.encoding = _detect_encoding(archived)

    def on_header(cells: list[str | None]) -> None:
        scan.columns, scan.missing = _map_header(cells, aliases, required)

    for _ in _data_rows(scan, _records(scan), header_found=on_header):
        scan.rows += 1
    return scan


def _write(scan: _Scan, writer: LandingWriter, field_order: list[str]) -> int:
    position = {name: i for i, name in enumerate(field_order)}
    written = 0
    for row_number, _line, cells in _data_rows(scan, _records(scan)):
        values: list[str | None] = [None] * len(field_order)
        extra: dict[str, str | None] = {}
        for index, cell in enumerate(cells):
            value = None if cell is None or cell == "" else cell
            if index < len(scan.columns):
                kind, name = scan.columns[index]
                if kind == "field":
                    values[position[name]] = value
                elif kind == "extra" or value is not None:
                    extra[name] = value
            elif value is not None and value.strip():
                extra[f"column_{index + 1}"] = value
        writer.write_row(values, source_file=scan.name, source_row=row_number, extra=extra or None)
        written += 1
    return written


# --- the warehouse side ------------------------------------------------------------------------

def ensure_tables() -> None:
    """`meta.delivered_files` and `meta.file_receipts` (idempotent; one creator at a time)."""
    with connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('credit_dw.connectors.files.connector.ddl'))")
        conn.execute(DDL)


def _earlier_delivery(conn, spec: SourceSpec, batch_id: str, sha256: str) -> tuple[str, str] | None:
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


def _record(spec: SourceSpec, batch_id: str, logical_date: date, receipts: list[FileReceipt]) -> None:
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
                    rows, line_number, source_row, reason, duplicate_of_batch_id, duplicate_of_file, archived_as)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (batch_id, spec.source_id, logical_date, r.file_name, r.sha256, r.bytes, r.file_format, r.encoding,
                 r.outcome, r.rows, r.line_number, r.source_row, r.reason, r.duplicate_of_batch_id,
                 r.duplicate_of_file, r.archived_as),
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


def _clear(batch_id: str) -> None:
    with connect() as conn:
        conn.execute("delete from meta.delivered_files where batch_id = %s", (batch_id,))
        conn.execute("delete from meta.file_receipts where batch_id = %s", (batch_id,))


def extract_files(spec: SourceSpec, batch_id: str, logical_date: date, window: Window | None = None) -> LandingFile:
    """Land every file of the night's inbox (see the module doc); `window` is not used by file drops."""
    ensure_tables()
    night = logical_date.isoformat()
    inbox = settings.inbox_dir(spec.source_id, night)
    archive_dir = settings.landing_dir(spec.source_id, night) / "delivered"
    aliases = header_aliases(spec)
    required = required_columns(spec)

    receipts: list[FileReceipt] = []
    scans: list[_Scan] = []
    incomplete: list[str] = []
    seen: dict[str, str] = {}
    with connect() as conn:
        for path in inbox_files(inbox):
            archived, sha256, size = _archive(path, archive_dir)
            base = {"file_name": path.name, "sha256": sha256, "bytes": size, "archived_as": str(archived)}
            if sha256 in seen:
                earlier = (batch_id, seen[sha256])
                reason = f"same content as {seen[sha256]!r} of the same night; skipped"
            else:
                earlier = _earlier_delivery(conn, spec, batch_id, sha256)
                reason = earlier and f"same content as {earlier[1]!r}, already landed in batch {earlier[0]}; skipped"
            if earlier is not None:
                receipts.append(FileReceipt(
                    **base, outcome="duplicate", duplicate_of_batch_id=earlier[0], duplicate_of_file=earlier[1],
                    reason=reason))
                log.warning("%s: %s skipped, same bytes as %s in %s", batch_id, path.name, earlier[1], earlier[0])
                continue
            seen[sha256] = path.name
            try:
                scan = _scan(path, archived, sha256, size, aliases, required)
            except FileRejected as bad:
                receipts.append(FileReceipt(
                    **base, outcome="rejected", file_format=FORMATS.get(path.suffix.lower()),
                    line_number=bad.line, source_row=bad.row, reason=bad.reason))
                log.warning("%s: file %s rejected: %s", batch_id, path.name, bad.reason)
                continue
            if scan.missing:
                names = ", ".join(f"{spec.fields[c]} ({c})" for c in scan.missing)
                incomplete.append(f"file {path.name!r} lacks required columns {names}")
                continue
            scans.append(scan)
    if incomplete:
        _clear(batch_id)
        raise MissingColumnsError(
            f"{batch_id}: " + "; ".join(incomplete) + f". The whole night's delivery of {spec.source_id} is "
            f"held back: ask {spec.department} to re-send with the template's headers (accepted spellings: "
            f"{aliases_path().name})."
        )

    with LandingWriter(spec, batch_id, logical_date) as writer:
        for scan in scans:
            rows = _write(scan, writer, spec.canonical_fields)
            if rows != scan.rows:  # the archived copy is read twice; both passes must agree
                raise RuntimeError(f"{batch_id}: {scan.name} had {scan.rows} data rows when checked, "
                                   f"{rows} when landed")
            receipts.append(FileReceipt(
                file_name=scan.name, sha256=scan.sha256, bytes=scan.bytes, outcome="landed",
                archived_as=str(scan.archived), file_format=scan.file_format, encoding=scan.encoding, rows=rows))
        landed = writer.finish()
    receipts.sort(key=lambda r: r.file_name)
    _record(spec, batch_id, logical_date, receipts)
    log.info("%s: %d files, %d rows landed, %d duplicates skipped, %d files rejected", batch_id,
             len(receipts), landed.rows, sum(r.outcome == "duplicate" for r in receipts),
             sum(r.outcome == "rejected" for r in receipts))
    return landed


def file_receipts(batch_id: str) -> list[dict]:
    """The batch's file receipts, in file-name order (for reports and tests)."""
    with connect() as conn:
        cur = conn.execute("select * from meta.file_receipts where batch_id = %s order by file_name", (batch_id,))
        return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]
