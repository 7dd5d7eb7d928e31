"""File-drop connector: a night's delivered CSV / XLSX files into the batch's landing file.

Departments without a system connection deliver the national template as files [000 §2.3;
rules §4]: `$CREDIT_DW_HOME/inbox/<source_id>/<YYYY-MM-DD>/<department_code>_<anything>.csv|xlsx`,
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
- `rejected` (the file lands no rows; receipt names line, data row and reason — `reason` in
  English, `notice` in Chinese for the return notice — and the rows it held: counted where it reads
  as rows, estimated from its lines or NULL with `rows_note` saying why, never a bare 0; the
  department's return notice lists it, so it can correct and re-send it) when it cannot be
  decoded (CSV: BOM → UTF-8-SIG, else strict UTF-8, else GB18030, the superset of GBK), is
  malformed or cut off (unterminated quoted field, a row with fewer cells than the header), is not
  a readable XLSX workbook, has no header row, has two columns meaning the same field, has an
  unsupported type, or lacks a column of the catalog's `required_columns` (landing it without the
  column would make the department's records look omitted (漏报) [000 §2.2]; its rows are counted);
- a refused file is refused ALONE: the night's other files land and the batch goes on to the gate.
  Only a night whose every delivered file was refused fails the batch (AllFilesRefusedError naming
  each file and reason; the receipts are kept so the night's status and notices can name them);
- which columns a file must have is decided by the catalog per file (`required_columns`) and per
  row (`required_by_row`: a column only some rows need is the gate's row check, so a file may lack
  it); a column the file lacks but another column says (`derived_when_missing`, e.g.
  行政相对人类别 from the USCC) is filled row by row, and the receipt's `notes` says so;
- otherwise `landed`: every data row becomes one landed row with `source_file` (file name) and
  `source_row` (1-based data row number after the header; blank rows keep their number but land
  nothing; a workbook's sheets carrying the template's header are read in order and numbered on,
  the receipt's `sheets` and `notes` say which sheets and how many rows each), canonical fields
  in catalog order, unknown columns kept in `_extra`.

Headers are mapped through `seeds/field_aliases.csv` (template headers, legacy CF_* / XK_* codes,
canonical names) plus the catalog's own `fields`, after `normalize_header`. No files for the night
is not an error: the batch lands zero rows (a missing feed is the quality report's business).

Reading is streamed: the csv module line by line, openpyxl in `read_only` mode; each file is read
twice (validate, then write), memory stays constant whatever the file size.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.connectors.files.errors import AllFilesRefusedError, FileRejected
from credit_dw.connectors.files.headers import (
    Derivation,
    aliases_path,
    derivations,
    header_aliases,
    map_header,
    normalize_header,
    required_columns,
    row_required_columns,
)
from credit_dw.connectors.files.reading import CHUNK_BYTES, FORMATS, csv_records, detect_encoding, xlsx_sheets
from credit_dw.connectors.files.receipts import FileReceipt, earlier_delivery, ensure_tables, record
from credit_dw.db.connect import connect
from credit_dw.ingest.landing import LandingFile, LandingWriter
from credit_dw.ingest.ledger import Window

log = logging.getLogger(__name__)


@dataclass
class _Part:
    """One table of a file with its own header: the CSV, or one worksheet of a workbook."""

    sheet: str | None
    columns: list[tuple[str, str]] = field(default_factory=list)  # (field|extra|unnamed, name) per column
    missing: list[str] = field(default_factory=list)
    derived: list[Derivation] = field(default_factory=list)  # columns the part lacks, taken from another
    header_line: int | None = None
    rows: int = 0
    first_row: int = 0  # data rows are numbered on from here (the sheets before it)
    last_row: int = 0


@dataclass
class _Scan:
    """A validated file: how to read it and where each column goes."""

    name: str
    archived: Path
    sha256: str
    bytes: int
    file_format: str
    encoding: str | None
    parts: list[_Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what reading did beyond mapping headers (receipt)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def missing(self) -> list[str]:
        return list(dict.fromkeys(c for p in self.parts for c in p.missing))

    @property
    def header_line(self) -> int | None:
        return self.parts[0].header_line if self.parts else None

    @property
    def sheets(self) -> str | None:
        return "、".join(p.sheet for p in self.parts) if self.file_format == "xlsx" else None


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


def _tables(scan: _Scan) -> Iterator[tuple[str | None, Iterator[tuple[int, list[str | None]]],
                                           list[tuple[int, int, int, int]]]]:
    """(sheet title or None, records, merged ranges) of each table of the file."""
    if scan.file_format == "xlsx":
        for sheet in xlsx_sheets(scan.archived):
            yield sheet.title, sheet.records, sheet.merges
    else:
        yield None, csv_records(scan.archived, scan.encoding or "utf-8"), []


def _blank(cell: str | None) -> bool:
    return cell is None or not cell.strip()


def _header(records: Iterator[tuple[int, list[str | None]]], merges: list[tuple[int, int, int, int]],
            aliases: dict[str, str] | None) -> tuple[int, list[str | None]] | None:
    """(line, header cells): the first row with two different values (a title row above it, merged
    across the columns or not, is skipped). A header cell merged down over the rows below makes them
    header rows too: the template's two-row header, with a group cell ("行政相对人代码",
    "法定代表人") merged across the columns of its sub-headers. Then the group's value is spread
    across its columns, and each column's header is the first of: group and sub-header together
    ("法定代表人" + "证件号码"), its lowest value, any of its values, that is a known header;
    else its lowest value."""
    first = next(((n, c) for n, c in records if len({x.strip() for x in c if not _blank(x)}) >= 2), None)
    if first is None:
        return None
    line, cells = first
    last = max((m[2] for m in merges if m[0] <= line <= m[2] and m[2] > line), default=line)
    rows = [list(cells)]
    while len(rows) <= last - line:
        try:
            _more, below = next(records)
        except StopIteration:
            break
        rows.append(list(below))
    if len(rows) == 1:
        return line, cells
    width = max(len(r) for r in rows)
    for offset, row in enumerate(rows):
        row.extend([None] * (width - len(row)))
        for min_row, min_col, max_row, max_col in merges:
            if min_row <= line + offset <= max_row and max_col > min_col:
                for column in range(min_col, min(max_col, width)):
                    row[column] = row[column] if not _blank(row[column]) else row[min_col - 1]

    def known(text: str | None) -> bool:
        return bool(text) and aliases is not None and normalize_header(text) in aliases

    header: list[str | None] = []
    for column in range(width):
        values = list(dict.fromkeys(r[column].strip() for r in rows if not _blank(r[column])))
        joined = "".join(values) if len(values) > 1 else None
        choice = next((c for c in [joined, *reversed(values)] if known(c)), None)
        header.append(choice or (values[-1] if values else None))
    return line, header


def _data_rows(scan: _Scan, part: _Part, records: Iterator[tuple[int, list[str | None]]],
               merges: list[tuple[int, int, int, int]], aliases: dict[str, str] | None, *, first_row: int = 0,
               header_found=None) -> Iterator[tuple[int, int, list[str | None]]]:
    """(data row number, line number, cells) after the header (see `_header`). Rows are numbered
    from `first_row` + 1 (a workbook's sheets continue one numbering); blank rows keep their number
    and are not yielded."""
    found = _header(records, merges, aliases)
    if found is None:
        raise FileRejected("no header row (a row with the template's column headers) in the file",
                           notice="文件中没有表头行（含模板列名的一行），请使用模板表头后重新报送")
    part.header_line, header_cells = found
    if header_found is not None and not header_found(header_cells):
        return
    width = len(header_cells)
    row_number = first_row
    while True:
        try:
            line, cells = next(records)
        except StopIteration:
            return
        except FileRejected as bad:
            bad.row = bad.row or row_number + 1  # the record being read when the file broke
            raise
        row_number += 1
        part.last_row = row_number
        if all(_blank(c) for c in cells):
            continue
        if len(cells) < width:
            if scan.file_format == "csv":
                raise FileRejected(
                    f"data row {row_number} (line {line}) has {len(cells)} cells, the header has {width}: "
                    "the file looks cut off or a row is broken", line=line, row=row_number,
                    notice=f"第 {row_number} 条数据（第 {line} 行）只有 {len(cells)} 列，表头有 {width} 列："
                           "文件可能不完整或该行损坏，请检查后整份重新报送")
            cells = cells + [None] * (width - len(cells))
        elif len(cells) > width and scan.file_format == "csv" and not all(_blank(c) for c in cells[width:]):
            raise FileRejected(
                f"data row {row_number} (line {line}) has {len(cells)} cells, more than the {width} "
                "columns of the header (an unquoted comma?)", line=line, row=row_number,
                notice=f"第 {row_number} 条数据（第 {line} 行）有 {len(cells)} 列，多于表头的 {width} 列"
                       "（可能含未加引号的逗号），请检查后整份重新报送")
        yield row_number, line, cells


def refused_rows(archived: Path, file_format: str | None) -> tuple[int | None, str | None]:
    """A rejected file's data rows, for its receipt: (count, None) where the file reads as rows (the
    rows after the header row that are not blank); (estimate, note) from its non-blank lines where
    it does not; (None, why) where neither can be had. Never a 0 that only means "not counted"."""
    if file_format is None:
        return None, "不支持的文件类型，行数无法统计"
    records = None
    try:
        encoding = detect_encoding(archived) if file_format == "csv" else None
        tables = ([s.records for s in xlsx_sheets(archived)] if file_format == "xlsx"
                  else [csv_records(archived, encoding or "utf-8")])
        any_header, rows, filled_rows = False, 0, 0
        for records in tables:
            header_seen = False
            for _line, cells in records:
                filled = sum(not _blank(c) for c in cells)
                filled_rows += filled > 0
                if not header_seen:
                    header_seen = filled >= 2
                elif filled:
                    rows += 1
            any_header = any_header or header_seen
        if any_header:
            return rows, None
        return filled_rows, "估计值：文件中没有表头行，按非空行计"
    except FileRejected:
        pass
    if file_format == "xlsx":
        return None, "工作簿无法读取，行数无法统计"
    with open(archived, "rb") as fh:
        utf16 = fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if utf16:  # its line breaks are two bytes; count them as text
        with open(archived, encoding="utf-16", errors="replace") as text:
            lines = sum(1 for line in text if line.strip())
    else:
        with open(archived, "rb") as fh:
            lines = sum(1 for raw in fh if raw.strip())
    return max(lines - 1, 0), "估计值：文件无法按行解析，按非空文本行数减表头 1 行计"


def _scan(path: Path, archived: Path, sha256: str, size: int, aliases: dict[str, str], required: list[str],
          derivable: dict[str, Derivation] | None = None, spec: SourceSpec | None = None) -> _Scan:
    """Validate a file end to end without landing it: FileRejected, or its column plan and row count."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise FileRejected(f"unsupported file type {path.suffix or '(none)'!r}: send CSV (UTF-8 or GBK) or XLSX",
                           notice=f"不支持的文件类型 {path.suffix or '（无扩展名）'}："
                                  "请以 CSV（UTF-8 或 GBK）或 XLSX 报送")
    scan = _Scan(path.name, archived, sha256, size, FORMATS[suffix], None)
    if scan.file_format == "csv":
        scan.encoding = detect_encoding(archived)
    skipped: list[str] = []
    headless: list[str] = []
    for sheet, records, merges in _tables(scan):
        part = _Part(sheet, first_row=scan.parts[-1].last_row if scan.parts else 0)

        def on_header(cells: list[str | None], part: _Part = part, sheet: str | None = sheet) -> bool:
            part.columns, part.missing = map_header(cells, aliases, required)
            present = {name for kind, name in part.columns if kind == "field"}
            if sheet is not None and len(present) < 2:
                skipped.append(sheet)  # a sheet without the template's header (notes, a summary)
                return False
            for target in list(part.missing):
                how = (derivable or {}).get(target)
                if how is not None and how.source in present:
                    part.missing.remove(target)
                    part.derived.append(how)
                    if spec is not None and how.note(spec) not in scan.notes:
                        scan.notes.append(how.note(spec))
            return True

        try:
            for _ in _data_rows(scan, part, records, merges, aliases, first_row=part.first_row,
                                 header_found=on_header):
                part.rows += 1
        except FileRejected:
            if sheet is None or part.header_line is not None:
                raise
            headless.append(sheet)  # an empty sheet, or one of text only
            continue
        if sheet is None or sheet not in skipped:
            scan.parts.append(part)
    if scan.file_format == "xlsx":
        if not scan.parts:
            sheets = "、".join(skipped + headless)
            raise FileRejected(
                f"no worksheet carries the template's header (worksheets: {sheets})",
                notice=f"工作簿中没有含模板表头的工作表（工作表：{sheets}），请使用模板表头后重新报送")
        if len(scan.parts) > 1 or skipped or headless:
            read = "、".join(f"“{p.sheet}”（{p.rows} 行）" for p in scan.parts)
            scan.notes.insert(0, f"读取工作表 {read}" + (f"；未读取（无模板表头）：{'、'.join(skipped + headless)}"
                                                     if skipped or headless else ""))
    return scan


def _missing_columns_receipt(spec: SourceSpec, scan: _Scan, base: dict) -> FileReceipt:
    """A file lacking a column of `required_columns`: refused alone (its rows were counted by the
    scan); landing it would make the department's records look omitted (漏报) [000 §2.2]."""
    names = ", ".join(f"{spec.fields[c]} ({c})" for c in scan.missing)
    headers = "、".join(spec.fields[c] for c in scan.missing)
    return FileReceipt(
        **base, outcome="rejected", file_format=scan.file_format, encoding=scan.encoding, rows=scan.rows,
        line_number=scan.header_line,
        reason=f"lacks required columns {names}; the file is refused alone (accepted header spellings: "
               f"{aliases_path().name})",
        notice=f"文件缺少必报列：{headers}（表头请按模板填写），请补全后整份重新报送")


def _write(scan: _Scan, writer: LandingWriter, field_order: list[str]) -> int:
    position = {name: i for i, name in enumerate(field_order)}
    parts = {p.sheet: p for p in scan.parts}
    written = 0
    for sheet, records, merges in _tables(scan):
        part = parts.get(sheet)
        if part is None:
            continue  # a sheet the scan did not read
        for row_number, _line, cells in _data_rows(scan, part, records, merges, None, first_row=part.first_row):
            values: list[str | None] = [None] * len(field_order)
            extra: dict[str, str | None] = {}
            for index, cell in enumerate(cells):
                value = None if cell is None or cell == "" else cell
                if index < len(part.columns):
                    kind, name = part.columns[index]
                    if kind == "field":
                        values[position[name]] = value
                    elif kind == "extra" or value is not None:
                        extra[name] = value
                elif value is not None and value.strip():
                    extra[f"column_{index + 1}"] = value
            for how in part.derived:
                values[position[how.target]] = how.value(values[position[how.source]])
            writer.write_row(values, source_file=scan.name, source_row=row_number, extra=extra or None)
            written += 1
    return written


def extract_files(spec: SourceSpec, batch_id: str, logical_date: date, window: Window | None = None) -> LandingFile:
    """Land every file of the night's inbox (see the module doc); `window` is not used by file drops."""
    ensure_tables()
    night = logical_date.isoformat()
    inbox = settings.inbox_dir(spec.source_id, night)
    archive_dir = settings.landing_dir(spec.source_id, night) / "delivered"
    aliases = header_aliases(spec)
    required = required_columns(spec)
    row_required_columns(spec)  # checked: a column some rows need is the gate's, per row
    derivable = derivations(spec)

    receipts: list[FileReceipt] = []
    scans: list[_Scan] = []
    seen: dict[str, str] = {}
    with connect() as conn:
        for path in inbox_files(inbox):
            archived, sha256, size = _archive(path, archive_dir)
            base = {"file_name": path.name, "sha256": sha256, "bytes": size, "archived_as": str(archived)}
            if sha256 in seen:
                earlier = (batch_id, seen[sha256])
                reason = f"same content as {seen[sha256]!r} of the same night; skipped"
            else:
                earlier = earlier_delivery(conn, spec, batch_id, sha256)
                reason = earlier and f"same content as {earlier[1]!r}, already landed in batch {earlier[0]}; skipped"
            if earlier is not None:
                receipts.append(FileReceipt(
                    **base, outcome="duplicate", duplicate_of_batch_id=earlier[0], duplicate_of_file=earlier[1],
                    reason=reason))
                log.warning("%s: %s skipped, same bytes as %s in %s", batch_id, path.name, earlier[1], earlier[0])
                continue
            seen[sha256] = path.name
            try:
                scan = _scan(path, archived, sha256, size, aliases, required, derivable, spec)
            except FileRejected as bad:
                rows, rows_note = refused_rows(archived, FORMATS.get(path.suffix.lower()))
                receipts.append(FileReceipt(
                    **base, outcome="rejected", file_format=FORMATS.get(path.suffix.lower()),
                    line_number=bad.line, source_row=bad.row, reason=bad.reason, notice=bad.notice,
                    rows=rows, rows_note=rows_note))
                log.warning("%s: file %s rejected: %s", batch_id, path.name, bad.reason)
                continue
            if scan.missing:
                receipts.append(_missing_columns_receipt(spec, scan, base))
                log.warning("%s: file %s refused: %s", batch_id, path.name, receipts[-1].reason)
                continue
            scans.append(scan)
    refused = [r for r in receipts if r.outcome == "rejected"]
    if refused and not scans and len(refused) == len(receipts):
        record(spec, batch_id, logical_date, receipts)  # kept: status and return notices name the files
        raise AllFilesRefusedError(
            f"{batch_id}: every file delivered for the night was refused, nothing of {spec.source_id} "
            "could land: " + "; ".join(f"{r.file_name!r}: {r.reason}" for r in refused)
            )

    with LandingWriter(spec, batch_id, logical_date) as writer:
        for scan in scans:
            rows = _write(scan, writer, spec.canonical_fields)
            if rows != scan.rows:  # the archived copy is read twice; both passes must agree
                raise RuntimeError(f"{batch_id}: {scan.name} had {scan.rows} data rows when checked, "
                                   f"{rows} when landed")
            receipts.append(FileReceipt(
                file_name=scan.name, sha256=scan.sha256, bytes=scan.bytes, outcome="landed",
                archived_as=str(scan.archived), file_format=scan.file_format, encoding=scan.encoding, rows=rows,
                notes="；".join(scan.notes) or None, sheets=scan.sheets))
        landed = writer.finish()
    receipts.sort(key=lambda r: r.file_name)
    record(spec, batch_id, logical_date, receipts)
    log.info("%s: %d files, %d rows landed, %d duplicates skipped, %d files rejected", batch_id,
             len(receipts), landed.rows, sum(r.outcome == "duplicate" for r in receipts),
             sum(r.outcome == "rejected" for r in receipts))
    return landed

