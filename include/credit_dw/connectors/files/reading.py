"""Reading delivered files: encoding detection and streamed CSV / XLSX records.

CSV: BOM → UTF-8-SIG, else strict UTF-8, else GB18030 (the superset of GBK), read line by line by
the csv module; lines end in LF or CRLF, or in a lone CR (old Excel for Mac writes those: the
file's first line ending decides). XLSX: every worksheet, through openpyxl in `read_only` mode,
with its merged cells (`<mergeCell>` of the sheet's XML, which read-only mode does not parse)
unmerged down their first column (see `unmerged`). A
password-protected workbook (an OLE compound file holding an `EncryptedPackage`) and an
Excel 97-2003 workbook renamed .xlsx are refused by name. Memory stays constant whatever the file
size (merged ranges are few); a file that cannot be read raises FileRejected with its line.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from credit_dw.connectors.files.errors import FileRejected

FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
CHUNK_BYTES = 1 << 20


class _Undecodable(Exception):
    def __init__(self, line: int, exc: UnicodeDecodeError):
        super().__init__(f"line {line}")
        self.line = line
        self.exc = exc


def line_separator(path: Path) -> bytes:
    """b"\r" when the file's first line ending is a lone CR (old Excel for Mac), else b"\n"."""
    with open(path, "rb") as fh:
        head = fh.read(CHUNK_BYTES)
    cr, lf = head.find(b"\r"), head.find(b"\n")
    if cr >= 0 and (lf < 0 or cr < lf) and head[cr + 1:cr + 2] != b"\n":
        return b"\r"
    return b"\n"


def _raw_lines(fh, separator: bytes) -> Iterator[bytes]:
    if separator == b"\n":
        yield from fh
        return
    rest = b""
    for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
        parts = (rest + chunk).split(separator)
        rest = parts.pop()
        for part in parts:
            yield part + separator
    if rest:
        yield rest


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    separator = line_separator(path)
    with open(path, "rb") as fh:
        for number, raw in enumerate(_raw_lines(fh, separator), 1):
            if number == 1 and encoding == "utf-8-sig":
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise _Undecodable(number, exc) from exc


def csv_records(path: Path, encoding: str) -> Iterator[tuple[int, list[str | None]]]:
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
            raise FileRejected(f"malformed CSV at line {reader.line_num}: {message}", line=reader.line_num,
                               notice=f"CSV 格式错误，第 {reader.line_num} 行"
                                      + ("：文件在引号内结束（文件不完整或引号未闭合）"
                                         if "quoted value" in message else f"（{message}）")
                                      + "，请检查后重新报送") from exc
        yield reader.line_num, list(cells)


def detect_encoding(path: Path) -> str:
    """BOM → utf-8-sig; else the first of strict UTF-8, GB18030 that decodes every line."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected("the file is UTF-16 (Excel 'Unicode text'); save it as CSV in UTF-8 or GBK, or as XLSX",
                           line=1, notice="文件为 UTF-16 编码（Excel 的“Unicode 文本”），"
                                          "请另存为 UTF-8 或 GBK 编码的 CSV，或 XLSX")
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
                       line=bad.line,
                       notice=f"第 {bad.line} 行含无法识别的字节：文件既不是 UTF-8 也不是 GBK/GB18030 编码，"
                              "请另存为 UTF-8 或 GBK 编码后重新报送")


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


_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)\"")


def _ole_workbook(path: Path) -> None:
    """Refuse an OLE compound file by name: a password-protected workbook (Excel encrypts the whole
    .xlsx into the `EncryptedPackage` stream of one) or an Excel 97-2003 workbook renamed .xlsx."""
    with open(path, "rb") as fh:
        if fh.read(8) != _OLE_MAGIC:
            return
        fh.seek(0)
        tail = b""
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            if _ENCRYPTED in tail + chunk:
                raise FileRejected(
                    "the workbook is password-protected (encrypted); send it without a password",
                    notice="工作簿设置了打开密码（已加密），平台无法读取，请取消密码后重新报送")
            tail = chunk[-len(_ENCRYPTED):]
    raise FileRejected("an Excel 97-2003 workbook (.xls) named .xlsx; save it as .xlsx or CSV",
                       notice="文件是 Excel 97-2003 工作簿（.xls）却以 .xlsx 命名，请另存为 .xlsx 或 CSV 后重新报送")


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number


def _merged_ranges(sheet) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of every merged range of a read-only worksheet, read
    from its XML in chunks (read-only mode does not parse `<mergeCells>`, which follow the data)."""
    ranges: list[tuple[int, int, int, int]] = []
    with sheet._get_source() as source:  # noqa: SLF001 - openpyxl has no public accessor for this
        tail = b""
        for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
            text = tail + chunk
            end = 0
            for match in _MERGE.finditer(text):
                c1, r1, c2, r2 = match.groups()
                ranges.append((int(r1), _column_number(c1), int(r2), _column_number(c2)))
                end = match.end()
            tail = text[max(end, len(text) - 256):]
    return ranges


def unmerged(records: Iterator[tuple[int, list[str | None]]], merges: list[tuple[int, int, int, int]]
             ) -> Iterator[tuple[int, list[str | None]]]:
    """The records with a merged range's top-left value down its first column (a value merged over
    several rows, e.g. one authority for a run of decisions, belongs to each of them). Across
    columns a value is not spread: a data cell merged over three columns is one value, not three
    fields. (The header's merged group cells are spread by the file-drop connector, which knows
    where the header is.)"""
    if not merges:
        yield from records
        return
    by_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for merge in merges:
        for row in range(merge[0], merge[2] + 1):
            by_row.setdefault(row, []).append(merge)
    top_left: dict[tuple[int, int, int, int], str | None] = {}
    for line, cells in records:
        for merge in by_row.get(line, ()):
            min_row, min_col, _max_row, max_col = merge
            if len(cells) < max_col:
                cells = cells + [None] * (max_col - len(cells))
            if line == min_row:
                top_left[merge] = cells[min_col - 1]
            else:
                cells[min_col - 1] = top_left.get(merge)
        yield line, cells


@dataclass
class Sheet:
    """One worksheet: its title, its merged ranges, and its records (merged cells unmerged)."""

    title: str
    records: Iterator[tuple[int, list[str | None]]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)


def _sheet_records(sheet) -> Iterator[tuple[int, list[str | None]]]:
    sheet.reset_dimensions()  # the stored dimension may be wrong; read rows as they are
    rows = sheet.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            raise FileRejected(f"worksheet {sheet.title!r} cannot be read after row {number} "
                               f"({type(exc).__name__}: {exc})", line=number + 1,
                               notice=f"工作表“{sheet.title}”第 {number} 行之后无法读取（文件损坏），"
                                      "请重新保存后报送") from exc
        number += 1
        yield number, [_cell_text(v) for v in row]


def xlsx_sheets(path: Path) -> Iterator[Sheet]:
    """Every worksheet of the workbook in order, streamed (openpyxl read_only), merged cells unmerged.
    Each sheet's records must be read (or dropped) before the next sheet is asked for."""
    import openpyxl

    _ole_workbook(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError, XML errors …
        raise FileRejected(f"not a readable XLSX workbook ({type(exc).__name__}: {exc}); "
                           "send it again as .xlsx saved by Excel/WPS, or as CSV",
                           notice="不是可读取的 XLSX 工作簿（文件损坏或传输不完整），"
                                  "请用 Excel/WPS 另存为 .xlsx 或 CSV 后重新报送") from exc
    try:
        if not workbook.worksheets:
            raise FileRejected("the workbook has no worksheet", notice="工作簿中没有工作表，请检查后重新报送")
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):  # a chart sheet
                continue
            try:
                merges = _merged_ranges(sheet)
            except Exception as exc:
                raise FileRejected(f"worksheet {sheet.title!r} cannot be read ({type(exc).__name__}: {exc})",
                                   notice=f"工作表“{sheet.title}”无法读取（文件损坏），请重新保存后报送") from exc
            yield Sheet(sheet.title, unmerged(_sheet_records(sheet), merges), merges)
    finally:
        workbook.close()


def xlsx_records(path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """(sheet row number, cells) of the first worksheet, merged cells unmerged."""
    for sheet in xlsx_sheets(path):
        yield from sheet.records
        return
