"""Reading delivered files: encoding detection and streamed CSV / XLSX records.

CSV: BOM → UTF-8-SIG, else strict UTF-8, else GB18030 (the superset of GBK), read line by line by
the csv module; XLSX: the first worksheet through openpyxl in `read_only` mode. Memory stays
constant whatever the file size; a file that cannot be read raises FileRejected with its line.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
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


def xlsx_records(path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """(sheet row number, cells) of the first worksheet, streamed (openpyxl read_only)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError, XML errors …
        raise FileRejected(f"not a readable XLSX workbook ({type(exc).__name__}: {exc}); "
                           "send it again as .xlsx saved by Excel/WPS, or as CSV",
                           notice="不是可读取的 XLSX 工作簿（文件损坏或传输不完整），"
                                  "请用 Excel/WPS 另存为 .xlsx 或 CSV 后重新报送") from exc
    number = 0
    try:
        if not workbook.worksheets:
            raise FileRejected("the workbook has no worksheet", notice="工作簿中没有工作表，请检查后重新报送")
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
                                   f"({type(exc).__name__}: {exc})", line=number + 1,
                                   notice=f"工作表第 {number} 行之后无法读取（文件损坏），请重新保存后报送") from exc
            number += 1
            yield number, [_cell_text(v) for v in row]
    finally:
        workbook.close()

