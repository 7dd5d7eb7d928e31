"""Writing an export file: UTF-8 CSV bytes (and, for a receiver that wants spreadsheets, XLSX
bytes), then a temporary name in the same directory, renamed.

The bytes depend only on the rows (no wall-clock time, no locale): the target's query orders them
by key, so rerunning a night reproduces a delivered file byte for byte. An XLSX workbook carries
fixed document properties (created / modified at the logical date's midnight) and fixed zip entry
times, so it is byte-identical on a rerun too. The temporary file lives in the delivery's own
directory, so the rename is atomic and a receiver never sees half a file.

Spreadsheet formula injection (CSV injection): a text cell starting with `=`, `+`, `-`, `@`, a tab
or a carriage return would be taken as a formula by a spreadsheet program opening the file, so it
is written with a leading apostrophe (`'=1+1`), the usual escape, in both CSV and XLSX. Only text
values are escaped: dates and numbers (a negative amount) are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

# A file being written is hidden (`.<name>.tmp`), so a receiver's glob of `*.csv` never picks it
# up; delivery writes through this module's name, so a test can stop a run mid-delivery.
from credit_dw.config.files import TMP_PATTERN, write_atomically

__all__ = ["TMP_PATTERN", "NotCopyable", "ServerCut", "clear_leftovers", "csv_bytes", "escape_formula",
           "format_value", "query_csv_bytes", "server_cut", "write_atomically", "xlsx_bytes"]

#: First characters that make a spreadsheet program read a text cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Every zip entry of a workbook carries this time (the zip format's epoch), not the clock's.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def escape_formula(text: str) -> str:
    """A text cell a spreadsheet would evaluate, made inert with a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def format_value(value: object) -> str:
    """One CSV cell: empty for null, ISO 8601 for dates and timestamps, str() otherwise; text that a
    spreadsheet would take for a formula escaped (`escape_formula`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_formula(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A header row, then the rows; `,` delimited, minimal quoting, `\\n` line ends, UTF-8 (no BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # Python's csv quotes a field holding a character of the line terminator, so with "\n" a bare
    # carriage return went out unquoted, and a reader taking CR for a line end (RFC 4180, Excel)
    # split the row there. PostgreSQL's COPY quotes it (query_csv_bytes): a row holding one is
    # written with "\r\n" as the terminator, which quotes it, and its line end put back to "\n".
    quoting_cr = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        cells = [format_value(v) for v in row]
        if "\r" in "".join(cells):
            quoting_cr.writerow(cells)
            buffer.seek(buffer.tell() - 2)
            buffer.write("\n")
            buffer.truncate()
        else:
            writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _xlsx_cell(value: object, field_type: str) -> object:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:  # an empty text cell, not a missing one: a trailing null would shorten the row
        return ""
    if field_type in ("integer", "number") and isinstance(value, (int, float, Decimal)) \
            and not isinstance(value, bool):
        return value
    # Dates as ISO text, like the CSV: a receiver's import reads the same text from both files.
    return ILLEGAL_CHARACTERS_RE.sub("", format_value(value))


def xlsx_bytes(title: str, headers: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[object]],
               logical_date: date) -> bytes:
    """One worksheet (`title`): a header row, then the rows; integers and numbers as numbers, every
    other value as the text the CSV holds (formula-escaped). Deterministic: the workbook's created
    and modified properties are the logical date's midnight (UTC) and every zip entry is stamped
    1980-01-01, so the same rows give the same bytes."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    stamp = datetime.combine(logical_date, time())
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "credit-dw"
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(headers))
    for row in rows:
        sheet.append([_xlsx_cell(v, t) for v, t in zip(row, types, strict=True)])
    raw = io.BytesIO()
    workbook.save(raw)  # openpyxl stamps `modified` with the clock when saving: _restamped resets it
    return _restamped(raw.getvalue(), stamp)


def _restamped(archive: bytes, stamp: datetime) -> bytes:
    """The zip `archive` again, entry for entry, with fixed times and attributes, and the document's
    modified property set to `stamp`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            data = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + f"{stamp:%Y-%m-%dT%H:%M:%S}Z".encode() + rb"\g<2>", data)
            target.writestr(info, data)
    return out.getvalue()


def clear_leftovers(directory: Path) -> list[Path]:
    """Remove temporary files a killed run left in a delivery directory; return them."""
    removed = sorted(directory.glob(TMP_PATTERN))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


# --- the same CSV cut by PostgreSQL: COPY (query) TO STDOUT ----------------------------------

#: PostgreSQL type OIDs `query_csv_bytes` renders exactly as `format_value` renders the value psycopg
#: loads for them (text, integers, numeric, floats, date, boolean, timestamp, timestamptz).
_TEXT_OIDS = {25, 1043, 1042, 19}
_PLAIN_OIDS = {20, 21, 23, 26, 1700, 700, 701, 1082}


class NotCopyable(ValueError):
    """A column type `query_csv_bytes` cannot render as `format_value` does: use `csv_bytes`."""


def _copy_expression(column: str, oid: int) -> str:
    c = f'q."{column}"'  # no `%` anywhere: the query may carry psycopg parameters
    if oid in _TEXT_OIDS:  # as format_value: '' stays unquoted (null), formula-looking text escaped
        # one ascii() of the first character (0 for ''), compared in a simple CASE with the
        # FORMULA_PREFIXES = + - @ tab CR: cheaper than ascii() twice, left(…, 1) in (…) or a regex
        # (measured on the benchmark's 7 text columns, server CPU per million rows)
        escaped = " ".join(f"when {ord(p)} then '''' || {c}" for p in FORMULA_PREFIXES)
        return f"case ascii({c}) when 0 then null {escaped} else {c}::text end"
    if oid in _PLAIN_OIDS:
        return f"{c}::text"
    if oid == 16:
        return f"case when {c} then 'True' when not {c} then 'False' end"
    if oid in (1114, 1184):  # datetime.isoformat(): T separator, microseconds only when not 0, ±HH:MM
        zone = "|| to_char({c}, 'TZH:TZM')" if oid == 1184 else ""
        exact = (f"to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || case when mod(extract(microseconds from {c})::bigint, "
                 f"1000000) <> 0 then '.' || to_char({c}, 'US') else '' end {zone.format(c=c)}")
        # Fast path by the type's own ISO output (query_csv_bytes sets datestyle ISO): whole seconds
        # of a 4-digit year print as `YYYY-MM-DD HH:MI:SS` (19 characters), a timestamptz then its
        # whole-hour offset `±HH` (22 in all); `T` for the space and `:00` for the offset's minutes
        # give isoformat(). Fractions, offsets with minutes and other years take to_char (`exact`),
        # which costs about twice as much.
        if oid == 1184:
            return f"case when length({c}::text) = 22 then replace({c}::text, ' ', 'T') || ':00' else {exact} end"
        return f"case when length({c}::text) = 19 then replace({c}::text, ' ', 'T') else {exact} end"
    raise NotCopyable(f"column {column!r}: PostgreSQL type oid {oid} has no COPY rendering equal to format_value")


def query_csv_bytes(conn, query: str, params: dict | None, headers: Sequence[str]) -> tuple[bytes, int]:
    """`csv_bytes(headers, rows of query)` and the row count, cut by the server: the query wrapped in
    one `COPY (…) TO STDOUT (FORMAT csv)` whose expressions render each column as `format_value`
    does (NotCopyable for a type it cannot), behind the same header line. The bytes are equal to the
    Python writer's for the same rows (benchmarks/export.py checks their sha256 on every run), and
    no Python object is built per row."""
    with conn.cursor() as cur:
        cur.execute(f"select * from ({query}) as q limit 0", params)
        columns = [(d.name, d.type_code) for d in cur.description]
        if len(columns) != len(headers):
            raise ValueError(f"the query has {len(columns)} columns for {len(headers)} headers")
        select = ", ".join(_copy_expression(name, oid) for name, oid in columns)
        cur.execute("set datestyle = 'ISO, YMD'")  # dates as YYYY-MM-DD, like date.isoformat()
        out = io.BytesIO()
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(headers)
        out.write(header.getvalue().encode("utf-8"))
        with cur.copy(f"copy (select {select} from ({query}) as q) to stdout (format csv)", params) as copy:
            for block in copy:
                out.write(block)
        rows = cur.rowcount
    return out.getvalue(), rows


@dataclass(frozen=True)
class ServerCut:
    """One CSV file cut by the server (`server_cut`): its bytes, data rows and rows per operation
    (as `delivery` counts them from rows: the operation column's CSV text, or the fixed operation)."""

    payload: bytes
    rows: int
    rows_by_operation: dict[str, int]

    def __len__(self) -> int:  # a table's row count, wherever delivery takes len() of one
        return self.rows


def server_cut(conn, query: str, params: dict | None, keys: Sequence[str], headers: Sequence[str], *,
               operation_key: str | None = None, operation: str | None = None) -> ServerCut:
    """The CSV file of `query`'s columns `keys` under `headers`, cut by `query_csv_bytes` (the Python
    writer's very bytes), with its rows per operation: per value of column `operation_key` (one
    grouped query over the same rows), else all rows under `operation` (or "rows")."""
    columns = ", ".join(f'q."{key}"' for key in keys)
    selected = f"select {columns} from ({query}) as q"
    payload, rows = query_csv_bytes(conn, selected, params, headers)
    if operation_key is None:
        by_operation = {operation or "rows": rows} if rows else {}
    else:
        with conn.cursor() as cur:
            cur.execute(f"select * from ({selected}) as q limit 0", params)
            oid = next(d.type_code for d in cur.description if d.name == operation_key)
            counted = cur.execute(
                f"select {_copy_expression(operation_key, oid)}, count(*) from ({selected}) as q group by 1",
                params).fetchall()
        by_operation = {"" if value is None else value: count for value, count in counted}
    return ServerCut(payload, rows, by_operation)
