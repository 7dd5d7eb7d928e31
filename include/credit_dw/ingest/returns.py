"""Return to sender (信息退回) and re-submissions (补报) [000 §2.3].

Each night, for every feed whose batch held rows back, the department gets a return notice under
`$CREDIT_DW_HOME/outbox/returns/<department>/<date>/<source_id>_returns.csv`: one line per
returned row with where it stood in the delivery (file and row), which field failed and why, then
the row's own values under the department's own headers (the catalog's `fields` mapping), so it
can correct the row in its template and send it again. Written as UTF-8 with BOM (opens in Excel
on a department's PC), sorted, atomically; a rerun rewrites the same bytes.

A file the feed refused as a whole (file-drop feeds: undecodable, cut off, not a workbook, …;
`meta.file_receipts.outcome = 'rejected'`) is listed too, first, on one line: its name, the line
where it broke, field `（整个文件）`, the reason in Chinese and how many rows it held
(`meta.file_receipts.rows`, or why they could not be counted), check `file_rejected`. It goes to
the department its file name starts with (`<department_code>_…`, `seeds/departments.csv`), else
to the feed's catalog department. `meta.return_notices.files_refused` counts those files.

Every word of a notice is Chinese (the message catalogue, `credit_dw.reference.messages`): the
failing field by the department's own header (a pinyin column of a database feed as
`统一社会信用代码（tyshxydm）`), the reason as a Chinese sentence, the check by its Chinese name.
The gate's English reason stays in `meta.row_issues` for the engineers.

A later accepted row of the same feed whose business key (catalog `business_key`, default
`uscc`) matches a returned row is recorded in `meta.resubmissions` as its correction (补报).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from credit_dw.catalog import SourceSpec, get_source
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.db.connect import connect
from credit_dw.ingest import ledger
from credit_dw.reference import messages

NOTICE_HEADER = ("来源文件", "文件行号", "批次行号", "问题字段", "问题说明", "校验规则")
WHOLE_FILE = "（整个文件）"
FILE_REJECTED = "file_rejected"


@dataclass(frozen=True)
class ReturnNotice:
    department: str
    path: Path
    rows: int
    files: int = 0


@cache
def _department_names() -> dict[str, str]:
    """`seeds/departments.csv`: department code → name."""
    with (settings.SEEDS_DIR / "departments.csv").open(encoding="utf-8", newline="") as fh:
        return {r["department_code"]: r["department_name"] for r in csv.DictReader(fh)}


def file_department(spec: SourceSpec, file_name: str) -> str:
    """Who sent a delivered file: its name's `<department_code>_` prefix, else the catalog's department."""
    return _department_names().get(file_name.split("_", 1)[0].lower(), spec.department)


def _refused_files(spec: SourceSpec, batch_id: str) -> list[tuple]:
    """The batch's rejected files, as notice lines (department first), in file-name order."""
    with connect() as conn:
        if conn.execute("select to_regclass('meta.file_receipts')").fetchone()[0] is None:
            return []
        rejected = conn.execute(
            """select file_name, line_number, source_row, coalesce(notice, reason), rows, rows_note
               from meta.file_receipts where batch_id = %s and outcome = 'rejected' order by file_name""",
            (batch_id,),
        ).fetchall()
    lines = []
    for file_name, line_number, source_row, notice, rows, rows_note in rejected:
        if rows is None:
            held = f"行数无法统计（{rows_note}）" if rows_note else "行数无法统计"
        else:
            held = f"共 {rows} 行" + (f"（{rows_note}）" if rows_note else "")
        where = f"第 {source_row} 条数据处；" if source_row else ""
        reason = f"整个文件被退回，未入库：{where}{notice}。文件{held}，请更正后整份重新报送"
        lines.append((file_department(spec, file_name), file_name, line_number, None, WHOLE_FILE, reason,
                      FILE_REJECTED, *([None] * len(spec.canonical_fields))))
    return lines


def column_header(spec: SourceSpec, field: str) -> str:
    """A field as the department's template heads it, in Chinese: a file feed's own Chinese header,
    else the catalogue's Chinese label with the source column beside it (`统一社会信用代码（tyshxydm）`),
    so the department reads the field and finds the column."""
    source = spec.fields.get(field)
    label = messages.field_label(field, source)
    return label if not source or label == source else f"{label}（{source}）"


def business_key(spec: SourceSpec) -> list[str]:
    """The catalog's `business_key`, else the subject's USCC when the feed has one, else none."""
    return spec.business_key


def _department_expr(spec: SourceSpec) -> str:
    """Rows of multi-department feeds say who sent them (数据来源单位); else the catalog's department."""
    if "source_department" in spec.fields:
        return "coalesce(credit.clean_text(r.source_department), %(department)s)"
    return "%(department)s"


def _returned_rows(spec: SourceSpec, batch_id: str) -> list[tuple]:
    fields = ", ".join(f'r."{f}"' for f in spec.canonical_fields)
    with connect() as conn:
        return conn.execute(
            f"""
            select {_department_expr(spec)} as department,
                   coalesce(r._source_file, ''), r._source_row, i.row_number,
                   i.field, i.reason, i.check_name, {fields}
            from meta.row_issues i
            join {spec.raw_relation} r on r._batch_id = i.batch_id and r._row_number = i.row_number
            where i.batch_id = %(batch_id)s and i.severity = 'critical'
            order by 1, i.row_number, i.check_name
            """,
            {"batch_id": batch_id, "department": spec.department},
        ).fetchall()


def write_return_notices(source_id: str, logical_date: date) -> list[ReturnNotice]:
    """Write (or rewrite, or remove when nothing was returned) the night's notices of one feed."""
    spec = get_source(source_id)
    batch_id = ledger.batch_id_for(source_id, logical_date)
    rows = _refused_files(spec, batch_id) + _returned_rows(spec, batch_id)
    by_department: dict[str, list[tuple]] = {}
    for row in rows:
        by_department.setdefault(row[0], []).append(row[1:])

    file_name = f"{source_id}_returns.csv"
    returns_root = settings.home() / "outbox" / "returns"
    # A rerun that returns nothing to a department removes that department's stale notice.
    for stale in returns_root.glob(f"*/{logical_date.isoformat()}/{file_name}"):
        if stale.parent.parent.name not in by_department:
            stale.unlink()

    template_headers = [column_header(spec, f) for f in spec.canonical_fields]
    notices = []
    with connect() as conn:
        conn.execute("delete from meta.return_notices where source_id = %s and logical_date = %s",
                     (source_id, logical_date))
        for department, dept_rows in sorted(by_department.items()):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow([*NOTICE_HEADER, *template_headers])
            for source_file, source_row, row_number, field, reason, check, *values in dept_rows:
                shown_field = field if field == WHOLE_FILE else column_header(spec, field)
                label = messages.field_label(field, spec.fields.get(field))
                writer.writerow([source_file, source_row or "", row_number or "", shown_field,
                                 messages.reason_zh(check, label, reason), messages.check_name_zh(check),
                                 *("" if v is None else v for v in values)])
            payload = buffer.getvalue().encode("utf-8-sig")
            directory = settings.outbox_dir(f"returns/{department}", logical_date.isoformat())
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / file_name
            write_atomically(path, payload)
            returned = len({r[2] for r in dept_rows if r[5] != FILE_REJECTED})
            files = sum(r[5] == FILE_REJECTED for r in dept_rows)
            conn.execute(
                """insert into meta.return_notices
                   (source_id, department, logical_date, file_name, rows_returned, sha256, files_refused)
                   values (%s, %s, %s, %s, %s, %s, %s)""",
                (source_id, department, logical_date, str(path.relative_to(settings.home())), returned,
                 hashlib.sha256(payload).hexdigest(), files),
            )
            notices.append(ReturnNotice(department, path, returned, files))
    return notices


def link_resubmissions(source_id: str, logical_date: date) -> int:
    """Record which accepted rows of the night correct rows returned on earlier nights (补报)."""
    spec = get_source(source_id)
    batch_id = ledger.batch_id_for(source_id, logical_date)
    if not business_key(spec):
        return 0  # nothing identifies a row across deliveries; no link can be made
    key_expr = " || '|' || ".join(f"coalesce(credit.normalize_code(r.\"{k}\"), '')" for k in business_key(spec))
    old_key_expr = key_expr.replace("r.", "o.")
    with connect() as conn:
        conn.execute("delete from meta.resubmissions where resubmitted_batch_id = %s", (batch_id,))
        cur = conn.execute(
            f"""
            insert into meta.resubmissions
                (source_id, business_key, original_batch_id, original_row_number,
                 resubmitted_batch_id, resubmitted_row_number)
            select distinct %(source_id)s, {key_expr}, o._batch_id, o._row_number, r._batch_id, r._row_number
            from {spec.raw_relation} r
            join {spec.raw_relation} o on {old_key_expr} = {key_expr} and o._batch_id <> r._batch_id
            join meta.load_batches ob on ob.batch_id = o._batch_id and ob.logical_date < %(night)s
            where r._batch_id = %(batch_id)s
              and {key_expr} <> ''
              and exists (select 1 from meta.load_batches b where b.batch_id = r._batch_id and b.status = 'accepted')
              and not exists (select 1 from meta.row_issues i where i.batch_id = r._batch_id
                              and i.row_number = r._row_number and i.severity = 'critical')
              and exists (select 1 from meta.row_issues i where i.batch_id = o._batch_id
                          and i.row_number = o._row_number and i.severity = 'critical')
            """,
            {"source_id": source_id, "night": logical_date, "batch_id": batch_id},
        )
        return cur.rowcount
