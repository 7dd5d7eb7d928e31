"""What the file-drop simulators share: CSV and XLSX bytes written reproducibly, the atomic write
into an inbox, and what a delivery returns.

Below every feed simulator, beside `common`: the dual-publicity, ledger, list, push-down, utility
and customs simulators write their files with these, so reruns give byte-identical files and a
reader never sees half of one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from credit_dw.simulate.common import SimulationSummary

#: The CSV file formats departments deliver, by encoding.
CSV_ENCODINGS = {"csv_gbk": "gbk", "csv_utf8": "utf-8", "csv_utf8_bom": "utf-8-sig"}


@dataclass
class Delivery:
    """What a run wrote: the summary, the files, and every record (canonical field → value)."""

    summary: SimulationSummary
    files: list[Path] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)


def cell_text(value: object) -> str:
    """A value as a department's CSV holds it: ISO dates, decimals without trailing zeros."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def csv_bytes(rows: Iterable[list], encoding: str) -> bytes:
    """Rows (title and header rows included) as CSV: CRLF line ends in GBK files (as Windows tools
    write them), LF otherwise."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n" if encoding == "gbk" else "\n").writerows(rows)
    return text.getvalue().encode(encoding)


def _reproducible_xlsx(data: bytes, stamp: datetime) -> bytes:
    """The workbook again with fixed zip timestamps and document dates (openpyxl stamps 'now')."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso, content)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, content)
    return out.getvalue()


def xlsx_bytes(header: list[str], rows: Iterable[list], *, stamp: datetime, creator: str, sheet: str,
               title: str | None = None) -> bytes:
    """A one-sheet workbook of the rows as given, reproducibly (`stamp` for every date in it);
    `title` is a one-cell row above the header, as ledgers printed for signature have."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    workbook.properties.creator = creator
    worksheet = workbook.create_sheet(sheet)
    if title:
        worksheet.append([title])
    worksheet.append(header)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _reproducible_xlsx(buffer.getvalue(), stamp)


def table_bytes(file_format: str, header: list[str], rows: list[list], *, stamp: datetime,
                creator: str, sheet: str, title: str | None = None) -> bytes:
    """A delivered table as CSV (`CSV_ENCODINGS`) or XLSX, every value as text but dates (what
    Excel / WPS save), reproducibly; `title` above the header in XLSX."""
    if file_format == "xlsx":
        return xlsx_bytes(header, ([v if isinstance(v, date) else (cell_text(v) or None) for v in row]
                                   for row in rows),
                          stamp=stamp, creator=creator, sheet=sheet, title=title)
    return csv_bytes([header, *([cell_text(v) for v in row] for row in rows)], CSV_ENCODINGS[file_format])
