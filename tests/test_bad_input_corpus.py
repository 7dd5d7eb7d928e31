"""A corpus of bad deliveries: each kind goes into a night of feed `admin_penalty` beside a good file
of another department, and the test asserts what the sending department gets back (its return
notice: the refused file with its reason, or the returned rows with theirs, or nothing when the
file loads) and that nothing is lost: rows in = rows loaded + rows quarantined + rows of refused
files, where the platform can count them (an unreadable workbook's rows cannot be; its receipt
says so). The table of kinds tried, rows in and rows accounted for is printed (`pytest -s`).

File-level kinds reuse the helpers of test_file_drop. The interface kinds (a looping API, short
and long totals, NUL and lone surrogates from JSON) are tried in test_http_api and test_file_drop.

Logical dates 2024-10-08 onwards (one night per kind, into November 2024) belong to this module.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from test_file_drop import (
    TEMPLATE,
    _inbox,
    _legacy_headers,
    _records,
    _without_columns,
    _write_csv,
    _write_merged_header_xlsx,
    _write_xlsx,
)

from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.reference.messages import check_name_zh
from credit_dw.simulate import identities

SOURCE = "admin_penalty"
FIRST_NIGHT = date(2024, 10, 8)
GOOD_ROWS = 6
SENDER = "河北省交通运输厅"  # hbjtt_: the department whose file is bad
BAD = "hbjtt_bad"


@dataclass(frozen=True)
class Kind:
    name: str
    build: Callable[[Path, date], int | None]  # writes the bad file, returns its data rows (None: unknowable)
    outcome: str  # the bad file's receipt: landed | rejected
    quarantined: int = 0  # rows of the bad file the gate holds back
    notice: str | None = None  # in the department's return notice; None: it gets none


def _rows(night: date, n: int = 4, **overrides) -> list[dict]:
    # A returned row goes to the department its 数据来源单位 names; a refused file to its name's prefix.
    return _records(night, "bad", n, **{"source_department": SENDER, **overrides})


def _csv(inbox: Path, night: date, records=None, name: str = f"{BAD}.csv", **kwargs) -> Path:
    return _write_csv(inbox / name, records if records is not None else _rows(night), **kwargs)


def _with_row(night: date, index: int, **changes) -> list[dict]:
    records = _rows(night)
    records[index].update(changes)
    return records


def _replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def _undecodable(inbox, night):
    path = _csv(inbox, night)
    _replace_bytes(path, "石家庄".encode(), b"\xff\xfe\x80")
    return 4


def _utf16(inbox, night):
    _csv(inbox, night, encoding="utf-16")
    return 4


def _unclosed_quote(inbox, night):
    path = _csv(inbox, night)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("全网最低价")], encoding="utf-8")
    return 4


def _short_row(inbox, night):
    path = _csv(inbox, night)
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text[: text.rindex(",冀测罚")] + "\n", encoding="utf-8")
    return 4


def _unquoted_comma(inbox, night):
    # 备注 filled, so the row's cell beyond the header is not blank (trailing blank cells are allowed).
    path = _csv(inbox, night, [{**r, "remark": "无"} for r in _rows(night)])
    _replace_bytes(path, '"罚款人民币5,000元"'.encode(), "罚款人民币5,000元".encode())  # the writer quoted it
    return 4


def _text_as_xlsx(inbox, night):
    (inbox / f"{BAD}.xlsx").write_bytes("行政相对人名称,处罚机关\n某公司,某局\n".encode())
    return None


def _cut_workbook(inbox, night):
    path = _write_xlsx(inbox / f"{BAD}.xlsx", _rows(night))
    path.write_bytes(path.read_bytes()[:1500])
    return None


def _unsupported_type(inbox, night):
    (inbox / f"{BAD}.docx").write_bytes(b"PK\x03\x04 not a table")
    return None


def _no_header(inbox, night):
    (inbox / f"{BAD}.csv").write_text("行政处罚信息\n\n\n", encoding="utf-8")
    return None  # no table at all: the receipt's count is an estimate from its lines


def _empty_file(inbox, night):
    (inbox / f"{BAD}.csv").write_bytes(b"")
    return 0


def _missing_column(inbox, night):
    _without_columns(inbox / f"{BAD}.csv", _rows(night), ("decision_date",))
    return 4


def _duplicated_header(inbox, night):
    _csv(inbox, night, extra={"\ufeff处罚机关": "重复"})
    return 4


def _encrypted(inbox, night):
    (inbox / f"{BAD}.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
                                        + "EncryptedPackage".encode("utf-16-le") + bytes(512))
    return None


def _xls_named_xlsx(inbox, night):
    (inbox / f"{BAD}.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(1024))
    return None


def _no_template_sheet(inbox, night):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["请按模板填写"])
    workbook.create_sheet("汇总").append(["合计", None])
    workbook.save(inbox / f"{BAD}.xlsx")
    return None  # no table at all: the receipt's count is an estimate from its lines


def _cr_only(inbox, night):
    _csv(inbox, night, newline="\r")
    return 4


def _gbk_crlf(inbox, night):
    _csv(inbox, night, encoding="gbk", newline="\r\n")
    return 4


def _merged_header(inbox, night):
    _write_merged_header_xlsx(inbox / f"{BAD}.xlsx", _rows(night))
    return 4


def _second_sheet(inbox, night):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["填报说明：每行一条处罚决定"])
    sheet = workbook.create_sheet("数据")
    sheet.append(list(TEMPLATE.values()))
    for record in _rows(night):
        sheet.append([record.get(f) for f in TEMPLATE])
    workbook.save(inbox / f"{BAD}.xlsx")
    return 4


def _title_and_blank_rows(inbox, night):
    path = _write_xlsx(inbox / f"{BAD}.xlsx", _rows(night), title="河北省交通运输厅行政处罚信息")
    import openpyxl

    workbook = openpyxl.load_workbook(path)
    workbook.active.insert_rows(4, 2)  # two blank rows between data rows
    workbook.save(path)
    return 4


def _legacy_without_category(inbox, night):
    legacy = {k: v for k, v in _legacy_headers().items() if k != "subject_category"}
    fields = [f for f in TEMPLATE if f in legacy]
    records = _with_row(night, 3, uscc="")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([legacy[f] for f in fields])
    for record in records:
        writer.writerow([record.get(f) or "" for f in fields])
    (inbox / f"{BAD}.csv").write_bytes(buffer.getvalue().encode("gbk"))
    return 4


def _organisations_template_with_a_person(inbox, night):
    person = identities.person_name(random.Random(str(night)))
    records = _with_row(night, 3, subject_name=person, subject_category="自然人", uscc="")
    _without_columns(inbox / f"{BAD}.csv", records, ("id_type", "id_number"))
    return 4


def _nul_byte(inbox, night):
    path = _csv(inbox, night)
    _replace_bytes(path, "bad测试商贸有限公司2".encode(), "bad测试\x00商贸有限公司2".encode())
    return 4


def _row_kind(**changes) -> Callable[[Path, date], int]:
    def build(inbox, night):
        _csv(inbox, night, _with_row(night, 1, **changes))
        return 4
    return build


def _bad_uscc(inbox, night):
    records = _rows(night)
    records[1]["uscc"] = identities.wrong_check_character(random.Random(1), records[1]["uscc"])
    _csv(inbox, night, records)
    return 4


def _duplicate_document(inbox, night):
    records = _rows(night)
    records[2]["decision_document_number"] = records[1]["decision_document_number"]
    _csv(inbox, night, records)
    return 4


def _formula_name(inbox, night):
    _csv(inbox, night, _with_row(night, 1, subject_name="=cmd|' /C calc'!A0"))
    return 4


def _unknown_column(inbox, night):
    _csv(inbox, night, extra={"经办人": "王芳"})
    return 4


def _halfwidth_headers(inbox, night):
    headers = {k: f" {v.replace('（', '(').replace('）', ')')} " for k, v in TEMPLATE.items()}
    _csv(inbox, night, headers=headers)
    return 4


KINDS = [
    Kind("undecodable bytes (neither UTF-8 nor GBK)", _undecodable, "rejected", notice="无法识别的字节"),
    Kind("UTF-16 text (Excel 'Unicode text')", _utf16, "rejected", notice="UTF-16"),
    Kind("cut off inside a quoted value", _unclosed_quote, "rejected", notice="引号内结束"),
    Kind("last row cut short", _short_row, "rejected", notice="只有 13 列"),
    Kind("unquoted comma in a value", _unquoted_comma, "rejected", notice="未加引号的逗号"),
    Kind("CSV text named .xlsx", _text_as_xlsx, "rejected", notice="不是可读取的 XLSX"),
    Kind("workbook cut off in transfer", _cut_workbook, "rejected", notice="不是可读取的 XLSX"),
    Kind("unsupported file type (.docx)", _unsupported_type, "rejected", notice="不支持的文件类型"),
    Kind("title only, no header row", _no_header, "rejected", notice="没有表头行"),
    Kind("empty file (0 bytes)", _empty_file, "rejected", notice="没有表头行"),
    Kind("a required column missing", _missing_column, "rejected", notice="缺少必报列：处罚决定日期"),
    Kind("duplicated header behind a BOM", _duplicated_header, "rejected", notice="列“处罚机关”与列“处罚机关”"),
    Kind("password-protected workbook", _encrypted, "rejected", notice="设置了打开密码"),
    Kind("Excel 97-2003 .xls named .xlsx", _xls_named_xlsx, "rejected", notice="Excel 97-2003"),
    Kind("workbook without a template sheet", _no_template_sheet, "rejected", notice="没有含模板表头的工作表"),
    Kind("CR-only line endings (old Excel for Mac)", _cr_only, "landed"),
    Kind("GBK with CRLF", _gbk_crlf, "landed"),
    Kind("merged two-row header (XLSX)", _merged_header, "landed"),
    Kind("data on the second sheet", _second_sheet, "landed"),
    Kind("title row and blank rows (XLSX)", _title_and_blank_rows, "landed"),
    Kind("half-width brackets and spaces in headers", _halfwidth_headers, "landed"),
    Kind("unknown extra column", _unknown_column, "landed"),
    Kind("formula-like subject name", _formula_name, "landed"),
    Kind("legacy CF_* file without 行政相对人类别", _legacy_without_category, "landed", 1, "行政相对人类别"),
    Kind("organisations template, one natural person", _organisations_template_with_a_person, "landed", 1,
         "citizen_id_valid"),
    Kind("NUL byte in a field", _nul_byte, "landed", 1, "NUL 字符"),
    Kind("decision date not a date", _row_kind(decision_date="2024年13月45日"), "landed", 1, "decision_date_valid"),
    Kind("decision date after the night", _row_kind(decision_date="2099-01-01"), "landed", 1,
         "decision_date_not_after_night"),
    Kind("USCC with a wrong check character", _bad_uscc, "landed", 1, "uscc_check_character"),
    Kind("subject name blank", _row_kind(subject_name=" "), "landed", 1, "subject_name_required"),
    Kind("unknown subject category", _row_kind(subject_category="企业"), "landed", 1, "subject_category_known"),
    Kind("fine amount in words", _row_kind(fine_amount_10k_yuan="五千元"), "landed", 1, "fine_amount_valid"),
    Kind("decision number twice in the batch", _duplicate_document, "landed", 2, "document_number_unique"),
    Kind("authority blank", _row_kind(authority_name=""), "landed", 1, "authority_name_required"),
    Kind("penalty category blank", _row_kind(penalty_category=""), "landed", 1, "penalty_category_required"),
    Kind("natural person with a bad ID number", _row_kind(subject_category="自然人", uscc="",
                                                          id_number="130102199913320000"),
         "landed", 1, "citizen_id_valid"),
]
TRIED: list[tuple] = []


@pytest.fixture(scope="module", autouse=True)
def _print_table():
    yield
    width = max(len(k[0]) for k in TRIED) if TRIED else 10
    lines = [f"{'kind':<{width}}  {'file':>8}  {'rows in':>7}  {'loaded':>6}  {'quar.':>5}  {'refused':>7}  accounted"]
    for name, outcome, rows_in, loaded, quarantined, refused in TRIED:
        shown_in = "?" if rows_in is None else rows_in
        accounted = loaded + quarantined + (refused or 0)
        lines.append(f"{name:<{width}}  {outcome:>8}  {shown_in!s:>7}  {loaded:>6}  {quarantined:>5}  "
                     f"{'n/a' if refused is None else refused!s:>7}  {accounted}")
    counted = [r for r in TRIED if r[2] is not None]
    total_in = sum(r[2] for r in counted)
    total_accounted = sum(r[3] + r[4] + (r[5] or 0) for r in counted)
    lines.append(f"{len(TRIED)} kinds tried; over the {len(counted)} whose rows can be counted: rows in "
                 f"{total_in}, rows accounted for {total_accounted} (loaded + quarantined + refused); "
                 f"{len(TRIED) - len(counted)} files hold no countable table (their receipts say why)")
    print("\n" + "\n".join(lines))
    assert total_in == total_accounted


def test_the_corpus_has_at_least_30_kinds():
    assert len(KINDS) >= 30 and len({k.name for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("index", range(len(KINDS)), ids=[k.name for k in KINDS])
def test_a_bad_delivery_comes_back_to_its_department_and_nothing_is_lost(warehouse_url, conn, index):
    kind = KINDS[index]
    night = FIRST_NIGHT + timedelta(days=index)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_good.csv", _records(night, "good", GOOD_ROWS))
    bad_rows = kind.build(inbox, night)

    outcome = ingest.ingest(SOURCE, night)
    notices = {n.department: n for n in returns.write_return_notices(SOURCE, night)}

    receipts = {r["file_name"]: r for r in file_receipts(outcome.batch_id)}
    bad = next(r for name, r in receipts.items() if name.startswith(BAD))
    assert receipts["hbsamr_good.csv"]["outcome"] == "landed"
    assert bad["outcome"] == kind.outcome, (bad["reason"], bad["notes"])
    assert outcome.status == "accepted", kind.name
    assert outcome.rows_quarantined == kind.quarantined, kind.name

    refused = bad["rows"] if bad["outcome"] == "rejected" else 0
    if bad["outcome"] == "rejected" and bad["rows"] is None:
        assert bad["rows_note"], "an uncounted refused file says why"
    rows_in = None if bad_rows is None else GOOD_ROWS + bad_rows
    accounted = outcome.rows_accepted + outcome.rows_quarantined + (refused or 0)
    if rows_in is not None:
        assert accounted == rows_in, kind.name
    else:
        assert outcome.rows_accepted + outcome.rows_quarantined == GOOD_ROWS
    TRIED.append((kind.name, bad["outcome"], rows_in, outcome.rows_accepted, outcome.rows_quarantined, refused))

    # What the department gets back; the good file's department gets nothing.
    assert "河北省市场监督管理局" not in notices
    if kind.notice is None:
        assert SENDER not in notices, kind.name
        return
    text = notices[SENDER].path.read_bytes().decode("utf-8-sig")
    # A check is named in the department's Chinese (the message catalogue), never by its suite name.
    expected = check_name_zh(kind.notice) if re.fullmatch(r"[a-z_]+", kind.notice) else kind.notice
    assert expected in text and (expected == kind.notice or kind.notice not in text), (kind.name, expected, text)
    assert bad["file_name"] in text
    assert "\\ufeff" not in text
    if bad["outcome"] == "rejected":
        assert (notices[SENDER].files, notices[SENDER].rows) == (1, 0)
    else:
        assert notices[SENDER].rows == kind.quarantined
