"""The file-drop connector on real files: GBK, UTF-8 (with and without BOM) and XLSX written here,
bad deliveries rejected with file, line and reason (a missing required column too: the file
alone is refused), a night whose every file is refused failing,
duplicate deliveries skipped, reruns idempotent, and a night without files accepted empty.

Runs the ingest steps directly (no Airflow) on feed `admin_penalty` against the embedded
PostgreSQL; logical dates January-June 2024 belong to this file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import shutil
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.connectors.files import connector
from credit_dw.connectors.files.errors import AllFilesRefusedError
from credit_dw.connectors.files.headers import aliases_path, header_aliases, normalize_header, required_columns
from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import ledger
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import identities

SOURCE = "admin_penalty"
SPEC = get_source(SOURCE)
TEMPLATE = SPEC.fields  # canonical -> national template header


def _legacy_headers() -> dict[str, str]:
    with aliases_path().open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source_id"] == SOURCE and r["alias_kind"] == "legacy_code"]
    legacy: dict[str, str] = {}
    for r in rows:
        legacy.setdefault(r["canonical_field"], r["alias"])
    return legacy


def _records(night: date, tag: str, n: int, **overrides) -> list[dict]:
    """n valid penalty records, unique to (night, tag) so no two tests deliver the same bytes."""
    rng = random.Random(f"{night}:{tag}")
    out = []
    for i in range(1, n + 1):
        record = {
            "subject_name": f"石家庄{tag}测试商贸有限公司{i}",
            "subject_category": "法人及非法人组织",
            "uscc": identities.make_uscc(rng, "130102", kind="1"),
            "legal_representative": identities.person_name(rng),
            "decision_document_number": f"冀测罚〔{night.year}〕{night:%m%d}{tag}{i:03d}号",
            "violation_type": "虚假宣传",
            "violation_facts": "经查，当事人在网店发布\"全网最低价\"等宣传，与事实不符。",
            "penalty_basis": "《中华人民共和国反不正当竞争法》第二十条",
            "penalty_category": "罚款",
            "penalty_content": "罚款人民币5,000元",
            "fine_amount_10k_yuan": "0.5",
            "decision_date": (night - timedelta(days=2)).isoformat(),
            "authority_name": "河北省市场监督管理局",
            "source_department": "河北省市场监督管理局",
        }
        record.update(overrides)
        out.append(record)
    return out


def _write_csv(path: Path, records: list[dict], *, encoding: str = "utf-8", headers: dict[str, str] | None = None,
               extra: dict[str, str] | None = None, newline: str = "\n") -> Path:
    headers = headers or TEMPLATE
    fields = list(TEMPLATE)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow([headers[f] for f in fields] + list(extra or {}))
    for record in records:
        writer.writerow([record.get(f) or "" for f in fields] + list((extra or {}).values()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _write_xlsx(path: Path, records: list[dict], *, title: str | None = None) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
    fields = list(TEMPLATE)
    sheet.append([TEMPLATE[f] for f in fields])
    for record in records:
        row = []
        for f in fields:
            value = record.get(f)
            if f == "decision_date" and value:
                value = date.fromisoformat(value)
            elif f == "fine_amount_10k_yuan" and value:
                value = float(value)
            row.append(value)
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


#: The national template's group header: the six subject codes sit under one merged cell.
_CODE_GROUP = ("uscc", "business_registration_number", "organisation_code", "tax_registration_number",
               "public_institution_certificate_number", "social_organisation_registration_number")
_CODE_SUBHEADERS = {"uscc": "统一社会信用代码", "business_registration_number": "工商注册号",
                    "organisation_code": "组织机构代码", "tax_registration_number": "税务登记号",
                    "public_institution_certificate_number": "事业单位证书号",
                    "social_organisation_registration_number": "社会组织登记证号"}


_LEGAL_GROUP = {"legal_representative": "姓名", "legal_representative_id_type": "证件类型",
                "legal_representative_id_number": "证件号码"}


def _write_merged_header_xlsx(path: Path, records: list[dict]) -> Path:
    """The template as departments fill it in Excel: a merged title row, then a two-row header where
    "行政相对人代码" is merged over the six code columns (their names in the row below), "法定代表人"
    over 姓名 / 证件类型 / 证件号码 (which alone would mean the subject's own ID columns), and every
    other header is merged down over both rows; one authority merged down over the data rows."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    fields = list(TEMPLATE)
    sheet.cell(1, 1, "行政处罚信息报送表")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(fields))
    for group, subheaders in (("行政相对人代码", _CODE_SUBHEADERS), ("法定代表人", _LEGAL_GROUP)):
        first = fields.index(next(iter(subheaders))) + 1
        sheet.cell(2, first, group)
        sheet.merge_cells(start_row=2, start_column=first, end_row=2, end_column=first + len(subheaders) - 1)
    for column, name in enumerate(fields, 1):
        if name in _CODE_SUBHEADERS or name in _LEGAL_GROUP:
            sheet.cell(3, column, _CODE_SUBHEADERS.get(name) or _LEGAL_GROUP[name])
        else:
            sheet.cell(2, column, TEMPLATE[name])
            sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    for index, record in enumerate(records):
        sheet.append([record.get(f) if f != "authority_name" or index == 0 else None for f in fields])
    authority = fields.index("authority_name") + 1
    if len(records) > 1:
        sheet.merge_cells(start_row=4, start_column=authority, end_row=3 + len(records), end_column=authority)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _inbox(night: date) -> Path:
    path = settings.inbox_dir(SOURCE, night.isoformat())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _extract_and_land(night: date) -> str:
    ingest.extract(SOURCE, night)
    ingest.land(SOURCE, night)
    return ledger.batch_id_for(SOURCE, night)


def _receipts(batch_id: str) -> dict[str, dict]:
    return {r["file_name"]: r for r in file_receipts(batch_id)}


def _raw(conn, batch_id: str, columns: str = "_source_file, _source_row, subject_name") -> list[tuple]:
    return conn.execute(
        f"select {columns} from raw.admin_penalty__penalties where _batch_id = %s order by _row_number", (batch_id,)
    ).fetchall()


# --- without a database ------------------------------------------------------------------------

def test_headers_match_after_width_parenthesis_space_and_case_normalisation():
    fine = normalize_header("罚款金额（万元）")
    assert fine == normalize_header("罚款金额(万元)") == normalize_header(" 罚款金额 (万元) ")
    assert normalize_header("ＣＦ＿ＷＳＨ") == normalize_header(" cf_wsh ") == normalize_header("CF_WSH")
    assert normalize_header("\ufeff行政相对人名称*") == normalize_header("行政相对人名称")
    assert normalize_header("处罚机关") != normalize_header("处罚机关统一社会信用代码")


def test_alias_table_maps_template_legacy_and_canonical_names_of_both_feeds():
    for source_id in ("admin_licence", "admin_penalty"):
        spec = get_source(source_id)
        aliases = header_aliases(spec)
        for canonical, header in spec.fields.items():
            assert aliases[normalize_header(header)] == canonical
            assert aliases[normalize_header(canonical)] == canonical
        assert set(required_columns(spec)) <= set(spec.fields)
    penalty = header_aliases(get_source("admin_penalty"))
    licence = header_aliases(get_source("admin_licence"))
    for code, canonical in {"CF_WSH": "decision_document_number", "CF_XDR_MC": "subject_name",
                            "CF_XDR_SHXYM": "uscc", "CF_JDRQ": "decision_date", "CF_CFLB": "penalty_category",
                            "罚款金额(万元)": "fine_amount_10k_yuan"}.items():
        assert penalty[normalize_header(code)] == canonical, code
    for code, canonical in {"XK_WSH": "decision_document_number", "XK_XDR_MC": "subject_name",
                            "XK_XDR_SHXYM": "uscc", "XK_JDRQ": "decision_date", "XK_YXQZ": "valid_from",
                            "XK_YXQZI": "valid_to"}.items():
        assert licence[normalize_header(code)] == canonical, code
    # Legacy codes of one feed do not leak into the other.
    assert normalize_header("CF_WSH") not in licence and normalize_header("XK_WSH") not in penalty


def test_reading_is_streamed_in_constant_memory(tmp_path):
    path = _write_csv(tmp_path / "big.csv", _records(date(2024, 6, 28), "big", 20_000))
    size = path.stat().st_size
    aliases, required = header_aliases(SPEC), required_columns(SPEC)

    class CountingWriter:
        rows = 0

        def write_row(self, values, **kwargs):
            self.rows += 1

    tracemalloc.start()
    try:
        scan = connector._scan(path, path, "sha", size, aliases, required)
        writer = CountingWriter()
        connector._write(scan, writer, SPEC.canonical_fields)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.rows == writer.rows == 20_000
    assert size > 8_000_000
    assert peak < 2_000_000, f"peak {peak} bytes while reading a {size}-byte file"


# --- on the warehouse -----------------------------------------------------------------------------

def test_gbk_utf8_bom_and_xlsx_files_land_with_file_and_row(warehouse_url, conn):
    night = date(2024, 1, 8)
    inbox = _inbox(night)
    gbk = _write_csv(inbox / "hbsamr_cf_1.csv", _records(night, "gbk", 3), encoding="gbk", newline="\r\n")
    halfwidth = {k: v.replace("（", "(").replace("）", ")") for k, v in TEMPLATE.items()}
    _write_csv(inbox / "hbjtt_cf.csv", _records(night, "utf8", 2), headers=halfwidth, extra={"经办人": "王芳"})
    _write_csv(inbox / "hbzjt_cf.csv", _records(night, "bom", 2), encoding="utf-8-sig", headers=_legacy_headers())
    _write_xlsx(inbox / "hbsthjt_cf.xlsx", _records(night, "xlsx", 2), title="河北省生态环境厅行政处罚信息表")

    batch_id = _extract_and_land(night)

    receipts = _receipts(batch_id)
    assert {name: (r["outcome"], r["encoding"], r["rows"]) for name, r in receipts.items()} == {
        "hbjtt_cf.csv": ("landed", "utf-8", 2),
        "hbsamr_cf_1.csv": ("landed", "gb18030", 3),
        "hbsthjt_cf.xlsx": ("landed", None, 2),
        "hbzjt_cf.csv": ("landed", "utf-8-sig", 2),
    }
    rows = _raw(conn, batch_id)
    # Files in name order, rows in file order, names decoded whatever the encoding.
    assert rows == (
        [("hbjtt_cf.csv", i, f"石家庄utf8测试商贸有限公司{i}") for i in (1, 2)]
        + [("hbsamr_cf_1.csv", i, f"石家庄gbk测试商贸有限公司{i}") for i in (1, 2, 3)]
        + [("hbsthjt_cf.xlsx", i, f"石家庄xlsx测试商贸有限公司{i}") for i in (1, 2)]
        + [("hbzjt_cf.csv", i, f"石家庄bom测试商贸有限公司{i}") for i in (1, 2)]
    )
    extra, fine, decided, facts = conn.execute(
        """select _extra, fine_amount_10k_yuan, decision_date, violation_facts from raw.admin_penalty__penalties
           where _batch_id = %s and _source_file = %s and _source_row = 1""", (batch_id, "hbjtt_cf.csv")
    ).fetchone()
    assert extra == {"经办人": "王芳"}
    assert facts.startswith("经查") and '"全网最低价"' in facts  # quoted commas and quotes survive
    xlsx_fine, xlsx_date = conn.execute(
        """select fine_amount_10k_yuan, decision_date from raw.admin_penalty__penalties
           where _batch_id = %s and _source_file = 'hbsthjt_cf.xlsx' and _source_row = 1""", (batch_id,)
    ).fetchone()
    assert (xlsx_fine, xlsx_date) == (fine, decided) == ("0.5", (night - timedelta(days=2)).isoformat())
    legacy_code = conn.execute(
        """select count(*) from raw.admin_penalty__penalties where _batch_id = %s and _source_file = 'hbzjt_cf.csv'
           and credit.is_valid_uscc(uscc) and decision_document_number like '冀测罚%%'""", (batch_id,)
    ).fetchone()[0]
    assert legacy_code == 2

    # Archived byte for byte, with the hash on record.
    archived = settings.landing_dir(SOURCE, night.isoformat()) / "delivered" / gbk.name
    assert archived.read_bytes() == gbk.read_bytes()
    assert receipts[gbk.name]["sha256"] == hashlib.sha256(gbk.read_bytes()).hexdigest()
    delivered = conn.execute(
        "select file_name, rows from meta.delivered_files where batch_id = %s order by file_name", (batch_id,)
    ).fetchall()
    assert delivered == [(n, r["rows"]) for n, r in sorted(receipts.items())]

    outcome = ingest.validate(SOURCE, night)
    assert outcome.status == "accepted"
    assert outcome.rows_received == 9 == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_quarantined == 0


def test_undecodable_bytes_reject_the_file_with_its_line_and_the_rest_lands(warehouse_url, conn):
    night = date(2024, 1, 15)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_ok.csv", _records(night, "ok", 2))
    bad = _write_csv(inbox / "hbjtt_bad.csv", _records(night, "bad", 3))
    lines = bad.read_bytes().split(b"\n")
    lines[2] = lines[2].replace("石家庄".encode(), b"\xff\xfe\x80", 1)  # line 3: neither UTF-8 nor GB18030
    bad.write_bytes(b"\n".join(lines))

    outcome = ingest.ingest(SOURCE, night)

    receipts = _receipts(outcome.batch_id)
    assert receipts["hbsamr_ok.csv"]["outcome"] == "landed"
    rejected = receipts["hbjtt_bad.csv"]
    # Its rows are estimated from its lines (header + 3), never a bare 0.
    assert (rejected["outcome"], rejected["line_number"], rejected["rows"]) == ("rejected", 3, 3)
    assert rejected["rows_note"].startswith("估计值") and "GBK/GB18030" in rejected["notice"]
    assert "undecodable bytes at line 3" in rejected["reason"] and "GB18030" in rejected["reason"]
    assert {r[0] for r in _raw(conn, outcome.batch_id)} == {"hbsamr_ok.csv"}
    assert outcome.status == "accepted" and outcome.rows_received == 2


def _without_columns(path: Path, records: list[dict], dropped: tuple[str, ...]) -> Path:
    headers = {k: v for k, v in TEMPLATE.items() if k not in dropped}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers.values())
    for record in records:
        writer.writerow([record.get(k) or "" for k in headers])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_a_file_without_a_required_column_is_refused_alone_and_the_others_land(warehouse_url, conn):
    from credit_dw.ingest import returns

    night = date(2024, 1, 22)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_ok.csv", _records(night, "ok", 2))
    _write_xlsx(inbox / "hbjtt_ok.xlsx", _records(night, "okx", 3))
    _without_columns(inbox / "hbzjt_short.csv", _records(night, "short", 4), ("decision_date", "authority_name"))
    _write_merged_header_xlsx(inbox / "hbsthjt_merged.xlsx", _records(night, "merged", 2))

    outcome = ingest.ingest(SOURCE, night)

    assert outcome.status == "accepted" and ledger.batch_row(outcome.batch_id)["status"] == "accepted"
    receipts = _receipts(outcome.batch_id)
    assert {n: r["outcome"] for n, r in receipts.items()}["hbsamr_ok.csv"] == "landed"
    assert receipts["hbjtt_ok.xlsx"]["outcome"] == "landed"
    short = receipts["hbzjt_short.csv"]
    assert (short["outcome"], short["rows"], short["rows_note"]) == ("rejected", 4, None)
    for text in ("处罚决定日期 (decision_date)", "处罚机关 (authority_name)"):
        assert text in short["reason"]
    assert "处罚决定日期、处罚机关" in short["notice"]
    # The merged two-row header reads as the template's: "行政相对人代码" over its six codes.
    merged = receipts["hbsthjt_merged.xlsx"]
    assert (merged["outcome"], merged["rows"], merged["sheets"]) == ("landed", 2, "Sheet")
    columns = "_source_row, subject_name, uscc, legal_representative, decision_date, authority_name, id_number"
    assert _raw(conn, outcome.batch_id, columns)[-2:] == [
        (i, r["subject_name"], r["uscc"], r["legal_representative"], r["decision_date"], r["authority_name"], None)
        for i, r in enumerate(_records(night, "merged", 2), 1)]
    assert (outcome.rows_received, outcome.rows_quarantined) == (7, 0)
    landed_files = {r[0] for r in _raw(conn, outcome.batch_id)}
    assert landed_files == {"hbsamr_ok.csv", "hbjtt_ok.xlsx", "hbsthjt_merged.xlsx"}
    refused = sum(r["rows"] or 0 for r in receipts.values() if r["outcome"] == "rejected")
    delivered = sum(r["rows"] or 0 for r in receipts.values())
    assert delivered == outcome.rows_received + refused

    # The department gets its own file back, with the reason; the others get nothing.
    notices = {n.department: n for n in returns.write_return_notices(SOURCE, night)}
    notice = notices["河北省住房和城乡建设厅"]
    body = list(csv.reader(io.StringIO(notice.path.read_bytes().decode("utf-8-sig"))))[1:]
    # The check in Chinese, as the message catalogue writes it for the department.
    assert [(r[0], r[3], r[5]) for r in body] == [("hbzjt_short.csv", "（整个文件）", "整个文件退回")]
    assert "缺少必报列" in body[0][4] and "处罚决定日期" in body[0][4] and "共 4 行" in body[0][4]
    assert "河北省市场监督管理局" not in notices and "河北省交通运输厅" not in notices


def test_a_night_whose_every_file_is_refused_fails_the_feed(warehouse_url, conn):
    night = date(2024, 1, 23)
    inbox = _inbox(night)
    _without_columns(inbox / "hbzjt_short.csv", _records(night, "short", 2), ("decision_date", "authority_name"))
    (inbox / "hbjtt_notes.txt").write_text("说明", encoding="utf-8")

    with pytest.raises(AllFilesRefusedError) as raised:
        ingest.extract(SOURCE, night)

    batch = ledger.batch_row(ledger.batch_id_for(SOURCE, night))
    assert batch["status"] == "failed"
    for text in ("hbzjt_short.csv", "处罚决定日期 (decision_date)", "hbjtt_notes.txt", "every file"):
        assert text in str(raised.value) and text in batch["message"]
    assert _raw(conn, batch["batch_id"]) == []
    # The receipts stay, so the night's status and the return notices can name both files.
    assert {r["file_name"]: r["outcome"] for r in file_receipts(batch["batch_id"])} == {
        "hbzjt_short.csv": "rejected", "hbjtt_notes.txt": "rejected"}


def test_columns_only_some_rows_need_are_checked_per_row(warehouse_url, conn):
    """The national template for organisations has no 证件类型 / 证件号码 columns (none of its rows is
    a natural person): it lands. A natural person's row in a file without them is quarantined by the
    gate's row check (citizen_id_valid), and the organisations of that file load."""
    night = date(2024, 1, 24)
    inbox = _inbox(night)
    rng = random.Random(f"{night}:person")
    _without_columns(inbox / "hbsamr_org.csv", _records(night, "org", 3), ("id_type", "id_number"))
    person = _records(night, "mixed", 1, subject_name=identities.person_name(rng), subject_category="自然人",
                      uscc="", legal_representative="")
    _without_columns(inbox / "hbjtt_mixed.csv", _records(night, "mixed2", 2) + person, ("id_type", "id_number"))

    outcome = ingest.ingest(SOURCE, night)

    receipts = _receipts(outcome.batch_id)
    assert {n: (r["outcome"], r["rows"]) for n, r in receipts.items()} == {
        "hbsamr_org.csv": ("landed", 3), "hbjtt_mixed.csv": ("landed", 3)}
    assert (outcome.status, outcome.rows_received, outcome.rows_accepted, outcome.rows_quarantined) == (
        "accepted", 6, 5, 1)
    issues = conn.execute(
        """select r._source_file, r._source_row, i.check_name from meta.row_issues i
           join raw.admin_penalty__penalties r on r._batch_id = i.batch_id and r._row_number = i.row_number
           where i.batch_id = %s and i.severity = 'critical'""", (outcome.batch_id,)).fetchall()
    assert issues == [("hbjtt_mixed.csv", 3, "citizen_id_valid")]


def test_a_legacy_file_without_the_subject_category_takes_it_from_the_code(warehouse_url, conn):
    """A legacy CF_* file has no CF_XDR_LB (行政相对人类别); its USCC says what the subject is
    (GB 32100: registration authority 9 工商 with kind 2 → 个体工商户, any other USCC → 法人及非法人组织).
    A row without a code says nothing: the gate quarantines it (subject_category_known)."""
    night = date(2024, 1, 25)
    inbox = _inbox(night)
    rng = random.Random(f"{night}:legacy")
    records = _records(night, "legacy", 6)  # one row of six returned: under the 20 % that rejects a batch
    records[1]["uscc"] = identities.make_uscc(rng, "130102", kind="2")
    records[2]["uscc"] = ""
    legacy = {k: v for k, v in _legacy_headers().items() if k != "subject_category"}
    assert "subject_category" not in legacy and legacy["uscc"].startswith("CF_")
    fields = [f for f in TEMPLATE if f in legacy]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([legacy[f] for f in fields])
    for record in records:
        writer.writerow([record.get(f) or "" for f in fields])
    (inbox / "hbzjt_cf_legacy.csv").write_bytes(buffer.getvalue().encode("gbk"))

    outcome = ingest.ingest(SOURCE, night)

    receipt = _receipts(outcome.batch_id)["hbzjt_cf_legacy.csv"]
    assert (receipt["outcome"], receipt["rows"]) == ("landed", 6)
    assert "行政相对人类别" in receipt["notes"] and "统一社会信用代码" in receipt["notes"]
    assert _raw(conn, outcome.batch_id, "_source_row, subject_category") == [
        (1, "法人及非法人组织"), (2, "个体工商户"), (3, None)] + [(i, "法人及非法人组织") for i in (4, 5, 6)]
    assert (outcome.status, outcome.rows_accepted, outcome.rows_quarantined) == ("accepted", 5, 1)
    checks = {r[0] for r in conn.execute(
        "select check_name from meta.row_issues where batch_id = %s and severity = 'critical'",
        (outcome.batch_id,)).fetchall()}
    assert "subject_category_known" in checks


def test_cut_off_csv_files_are_rejected_with_their_row(warehouse_url, conn):
    night = date(2024, 1, 29)
    inbox = _inbox(night)
    _write_csv(inbox / "a_ok.csv", _records(night, "ok", 1))
    quoted = _write_csv(inbox / "b_quote.csv", _records(night, "quote", 3))
    text = quoted.read_text(encoding="utf-8")
    quoted.write_text(text[: text.rindex("全网最低价")], encoding="utf-8")  # ends inside "经查…"
    cells = _write_csv(inbox / "c_cells.csv", _records(night, "cells", 4))
    text = cells.read_text(encoding="utf-8").rstrip("\n")
    cells.write_text(text[: text.rindex(",冀测罚")] + "\n", encoding="utf-8")  # last row loses its tail

    batch_id = _extract_and_land(night)

    receipts = _receipts(batch_id)
    quote, short = receipts["b_quote.csv"], receipts["c_cells.csv"]
    assert (quote["outcome"], quote["source_row"], quote["line_number"]) == ("rejected", 3, 4)
    assert "ends inside a quoted value" in quote["reason"]
    assert (short["outcome"], short["source_row"], short["line_number"]) == ("rejected", 4, 5)
    assert "data row 4 (line 5) has 13 cells, the header has 30" in short["reason"]
    assert [r[0] for r in _raw(conn, batch_id)] == ["a_ok.csv"]


def test_a_malformed_workbook_is_rejected_and_a_good_one_lands(warehouse_url, conn):
    night = date(2024, 2, 5)
    inbox = _inbox(night)
    _write_xlsx(inbox / "hbsthjt_ok.xlsx", _records(night, "ok", 2))
    (inbox / "hbyjglt_bad.xlsx").write_bytes("行政相对人名称,处罚机关\n某公司,某局\n".encode())
    good = _write_xlsx(inbox / "hbyjglt_cut.xlsx", _records(night, "cut", 2))
    (inbox / "hbyjglt_cut.xlsx").write_bytes(good.read_bytes()[:1500])  # a workbook cut off in transfer
    (inbox / "hbsamr_notes.txt").write_text("说明", encoding="utf-8")

    batch_id = _extract_and_land(night)

    receipts = _receipts(batch_id)
    assert receipts["hbsthjt_ok.xlsx"]["outcome"] == "landed" and receipts["hbsthjt_ok.xlsx"]["rows"] == 2
    for name in ("hbyjglt_bad.xlsx", "hbyjglt_cut.xlsx"):
        assert receipts[name]["outcome"] == "rejected"
        assert "not a readable XLSX workbook" in receipts[name]["reason"], receipts[name]["reason"]
    assert "unsupported file type '.txt'" in receipts["hbsamr_notes.txt"]["reason"]
    assert len(_raw(conn, batch_id)) == 2


def test_odd_files_are_read_or_refused_by_name(warehouse_url, conn):
    """CR-only line endings (old Excel for Mac) are read; every worksheet carrying the template's
    header is read and the receipt names them; a password-protected workbook and a duplicated
    header are refused with a reason a person can read."""
    import openpyxl

    from credit_dw.ingest import returns

    night = date(2024, 2, 6)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_mac.csv", _records(night, "mac", 3), newline="\r")
    assert b"\n" not in (inbox / "hbsamr_mac.csv").read_bytes()

    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "填报说明"
    notes.append(["请按模板填写，每行一条处罚决定。"])
    for title, tag in (("一月", "jan"), ("二月", "feb")):
        sheet = workbook.create_sheet(title)
        sheet.append([TEMPLATE[f] for f in TEMPLATE])
        for record in _records(night, tag, 2):
            sheet.append([record.get(f) for f in TEMPLATE])
    workbook.save(inbox / "hbjtt_sheets.xlsx")

    # An encrypted workbook is an OLE compound file whose EncryptedPackage stream holds the .xlsx;
    # written here by hand (no encryption tool in the environment): the signature and stream name.
    (inbox / "hbzjt_locked.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
                                              + "EncryptedPackage".encode("utf-16-le") + bytes(512))
    doubled = _write_csv(inbox / "hbyjglt_dup.csv", _records(night, "dup", 2),
                         extra={"\ufeff行政相对人名称": "重复"})
    assert "\ufeff" in doubled.read_text(encoding="utf-8")

    outcome = ingest.ingest(SOURCE, night)

    receipts = _receipts(outcome.batch_id)
    assert (receipts["hbsamr_mac.csv"]["outcome"], receipts["hbsamr_mac.csv"]["rows"]) == ("landed", 3)
    sheets = receipts["hbjtt_sheets.xlsx"]
    assert (sheets["outcome"], sheets["rows"], sheets["sheets"]) == ("landed", 4, "一月、二月")
    assert "“一月”（2 行）" in sheets["notes"] and "填报说明" in sheets["notes"]
    assert [r[:2] for r in _raw(conn, outcome.batch_id) if r[0] == "hbjtt_sheets.xlsx"] == [
        ("hbjtt_sheets.xlsx", i) for i in (1, 2, 3, 4)]
    locked = receipts["hbzjt_locked.xlsx"]
    assert locked["outcome"] == "rejected" and "password-protected" in locked["reason"]
    assert "设置了打开密码" in locked["notice"]
    dup = receipts["hbyjglt_dup.csv"]
    assert dup["outcome"] == "rejected" and dup["rows"] == 2
    assert "\\ufeff" not in dup["reason"] and "\ufeff" not in dup["reason"] + dup["notice"]
    assert '"行政相对人名称" and "行政相对人名称" both mean subject_name' in dup["reason"], dup["reason"]
    assert outcome.status == "accepted" and outcome.rows_received == 7 == outcome.rows_accepted

    notices = {n.department: n for n in returns.write_return_notices(SOURCE, night)}
    text = notices["河北省住房和城乡建设厅"].path.read_bytes().decode("utf-8-sig")
    assert "hbzjt_locked.xlsx" in text and "设置了打开密码" in text


def test_a_file_delivered_again_is_skipped_and_a_rerun_does_not_count_its_own(warehouse_url, conn):
    first, second = date(2024, 2, 12), date(2024, 2, 13)
    inbox = _inbox(first)
    original = _write_csv(inbox / "hbsamr_0212.csv", _records(first, "dup", 3))
    first_batch = _extract_and_land(first)
    ingest.validate(SOURCE, first)
    delivered_at = conn.execute(
        "select delivered_at from meta.delivered_files where batch_id = %s", (first_batch,)
    ).fetchone()[0]

    inbox2 = _inbox(second)
    shutil.copy(original, inbox2 / "hbsamr_0213_resend.csv")
    _write_csv(inbox2 / "hbsamr_0213.csv", _records(second, "new", 2))
    shutil.copy(inbox2 / "hbsamr_0213.csv", inbox2 / "hbsamr_0213_copy.csv")  # twice in one night too
    outcome = ingest.ingest(SOURCE, second)

    receipts = _receipts(outcome.batch_id)
    resend = receipts["hbsamr_0213_resend.csv"]
    assert (resend["outcome"], resend["duplicate_of_batch_id"], resend["duplicate_of_file"]) == (
        "duplicate", first_batch, "hbsamr_0212.csv")
    copy = receipts["hbsamr_0213_copy.csv"]
    assert (copy["outcome"], copy["duplicate_of_batch_id"], copy["duplicate_of_file"]) == (
        "duplicate", outcome.batch_id, "hbsamr_0213.csv")
    assert outcome.rows_received == 2
    assert {r[0] for r in _raw(conn, outcome.batch_id)} == {"hbsamr_0213.csv"}

    # Rerunning both nights: the first still lands its file, the second still skips the resend.
    for night in (first, second):
        rerun = ingest.ingest(SOURCE, night)
        assert ledger.batch_row(rerun.batch_id)["attempts"] == 2
    assert _receipts(first_batch)["hbsamr_0212.csv"]["outcome"] == "landed"
    assert len(_raw(conn, first_batch)) == 3
    assert _receipts(outcome.batch_id)["hbsamr_0213_resend.csv"]["outcome"] == "duplicate"
    entries = conn.execute(
        "select batch_id, delivered_at from meta.delivered_files where sha256 = %s",
        (hashlib.sha256(original.read_bytes()).hexdigest(),),
    ).fetchall()
    assert entries == [(first_batch, delivered_at)]


def test_files_of_a_batch_that_never_landed_are_not_duplicates(warehouse_url, conn):
    stuck, next_night = date(2024, 2, 19), date(2024, 2, 20)
    inbox = _inbox(stuck)
    original = _write_csv(inbox / "hbsamr_stuck.csv", _records(stuck, "stuck", 2))
    ingest.extract(SOURCE, stuck)  # extracted, never landed (the land step died)
    shutil.copy(original, _inbox(next_night) / "hbsamr_again.csv")

    outcome = ingest.ingest(SOURCE, next_night)

    assert _receipts(outcome.batch_id)["hbsamr_again.csv"]["outcome"] == "landed"
    assert outcome.rows_received == 2
    assert conn.execute(
        "select batch_id from meta.delivered_files where sha256 = %s",
        (hashlib.sha256(original.read_bytes()).hexdigest(),),
    ).fetchall() == [(outcome.batch_id,)]


def test_a_night_without_files_is_accepted_with_zero_rows(warehouse_url, conn):
    night = date(2024, 2, 26)
    shutil.rmtree(settings.inbox_dir(SOURCE, night.isoformat()), ignore_errors=True)

    outcome = ingest.ingest(SOURCE, night)

    assert (outcome.status, outcome.rows_received, outcome.rows_accepted) == ("accepted", 0, 0)
    assert ledger.batch_row(outcome.batch_id)["status"] == "accepted"
    assert file_receipts(outcome.batch_id) == []


# --- values the database cannot store -----------------------------------------------------------

def test_a_nul_byte_in_one_field_quarantines_that_row_and_the_rest_lands(warehouse_url, conn):
    from credit_dw.ingest import returns

    night = date(2024, 3, 4)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_ok.csv", _records(night, "ok", 3))
    nul = _write_csv(inbox / "hbjtt_nul.csv", _records(night, "nul", 3))
    name = "石家庄nul测试商贸有限公司2"
    nul.write_bytes(nul.read_bytes().replace(name.encode(), "石家庄nul测试\x00商贸有限公司2".encode()))
    assert nul.read_bytes().count(b"\x00") == 1

    outcome = ingest.ingest(SOURCE, night)  # COPY no longer fails the feed

    receipts = _receipts(outcome.batch_id)
    assert {n: r["outcome"] for n, r in receipts.items()} == {"hbjtt_nul.csv": "landed", "hbsamr_ok.csv": "landed"}
    assert outcome.status == "accepted"
    assert (outcome.rows_received, outcome.rows_accepted, outcome.rows_quarantined) == (6, 5, 1)
    refused = sum(r["rows"] or 0 for r in receipts.values() if r["outcome"] == "rejected")
    assert outcome.rows_received == outcome.rows_accepted + outcome.rows_quarantined + refused
    assert sum(r["rows"] for r in receipts.values() if r["outcome"] == "landed") == outcome.rows_received
    issues = conn.execute(
        """select r._source_file, r._source_row, r.subject_name, i.check_name, i.field, i.reason
           from meta.row_issues i join raw.admin_penalty__penalties r
             on r._batch_id = i.batch_id and r._row_number = i.row_number
           where i.batch_id = %s and i.severity = 'critical'""",
        (outcome.batch_id,),
    ).fetchall()
    header = TEMPLATE["subject_name"]
    reason = (f"文件 hbjtt_nul.csv 第 2 行：字段 {header} 含有 NUL 字符 (0x00)，数据库无法保存；"
              "已替换为 \ufffd 留存，本行退回，请更正后重报")
    assert issues == [("hbjtt_nul.csv", 2, "石家庄nul测试\ufffd商贸有限公司2", "unstorable_value:subject_name",
                       "subject_name", reason)]
    # Every other row landed as delivered.
    others = [f"石家庄ok测试商贸有限公司{i}" for i in (1, 2, 3)] + [f"石家庄nul测试商贸有限公司{i}" for i in (1, 3)]
    assert sorted(r[2] for r in _raw(conn, outcome.batch_id) if r[2] != issues[0][2]) == sorted(others)

    notices = returns.write_return_notices(SOURCE, night)
    text = notices[0].path.read_bytes().decode("utf-8-sig")
    assert notices[0].rows == 1 and f"字段 {header} 含有 NUL 字符 (0x00)" in text and "hbjtt_nul.csv,2," in text


def test_landing_replaces_what_copy_refuses_and_names_file_row_and_field(tmp_path):
    from credit_dw.ingest.landing import UNSTORABLE_KEY, LandingWriter

    spec = get_source("tax_a_level")
    with LandingWriter(spec, "tax_a_level/2024-03-05", date(2024, 3, 5)) as writer:
        values = [None] * len(spec.fields)
        values[1] = "某\x00公司"
        writer.write_row(values, source_file="/api/x?page=1", source_row=7,
                         extra={"sjly": "税务\ud800局", "ok": {"nested": ["a\x00"]}})
        writer.write_row(["91130102MA0000000X"] + [None] * (len(spec.fields) - 1))
        landed = writer.finish()
    with open(landed.path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert landed.rows == 2 and writer.unstorable_rows == 1
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["subject_name"] == "某\ufffd公司" and "\x00" not in landed.path.read_text(encoding="utf-8")
    import json

    problems = json.loads(first["_extra"])[UNSTORABLE_KEY]
    assert [p["field"] for p in problems] == ["subject_name", "sjly", "ok"]
    assert problems[0]["reason"].startswith("文件 /api/x?page=1 第 7 行：字段 nsrmc 含有 NUL 字符 (0x00)")
    assert "U+D800" in problems[1]["reason"]
    assert json.loads(first["_extra"])["ok"] == {"nested": ["a\ufffd"]}
    assert dict(zip(rows[0], rows[2], strict=True))["_extra"] == ""


# --- refused files are reported back ------------------------------------------------------------

def test_refused_files_keep_their_row_counts_and_reach_their_departments_return_notice(warehouse_url, conn):
    from credit_dw.ingest import returns

    night = date(2024, 3, 11)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_ok.csv", _records(night, "ok", 2))
    cut = _write_csv(inbox / "hbjtt_cut.csv", _records(night, "cut", 4))
    text = cut.read_text(encoding="utf-8").rstrip("\n")
    cut.write_text(text[: text.rindex(",冀测罚")] + "\n", encoding="utf-8")  # the last row loses its tail
    bad = _write_csv(inbox / "hbzjt_bad.csv", _records(night, "bad", 3))
    lines = bad.read_bytes().split(b"\n")
    lines[2] = lines[2].replace("石家庄".encode(), b"\xff\xfe\x80", 1)
    bad.write_bytes(b"\n".join(lines))
    (inbox / "hbsthjt_notes.txt").write_text("说明", encoding="utf-8")

    outcome = ingest.ingest(SOURCE, night)
    notices = {n.department: n for n in returns.write_return_notices(SOURCE, night)}

    receipts = _receipts(outcome.batch_id)
    got = {n: (r["outcome"], r["rows"], r["rows_note"]) for n, r in receipts.items()}
    assert got["hbsamr_ok.csv"] == ("landed", 2, None)
    assert got["hbjtt_cut.csv"] == ("rejected", 4, None)  # counted: the file reads as rows
    assert got["hbzjt_bad.csv"][:2] == ("rejected", 3) and got["hbzjt_bad.csv"][2].startswith("估计值")
    assert got["hbsthjt_notes.txt"][:2] == ("rejected", None) and "无法统计" in got["hbsthjt_notes.txt"][2]
    refused = sum(r["rows"] or 0 for r in receipts.values() if r["outcome"] == "rejected")
    assert outcome.rows_received == 2 == outcome.rows_accepted + outcome.rows_quarantined
    assert refused == 7

    # Each refused file is in its own department's notice, with its reason in Chinese.
    expected = {
        "河北省交通运输厅": ("hbjtt_cut.csv", "5", "第 4 条数据（第 5 行）只有 13 列，表头有 30 列", "共 4 行"),
        "河北省住房和城乡建设厅": ("hbzjt_bad.csv", "3", "第 3 行含无法识别的字节", "共 3 行（估计值"),
        "河北省生态环境厅": ("hbsthjt_notes.txt", "", "不支持的文件类型 .txt", "行数无法统计"),
    }
    assert set(notices) == set(expected)  # 河北省市场监督管理局 had nothing returned
    for department, (file_name, line, reason, held) in expected.items():
        notice = notices[department]
        assert (notice.files, notice.rows) == (1, 0)
        body = list(csv.reader(io.StringIO(notice.path.read_bytes().decode("utf-8-sig"))))[1:]
        assert len(body) == 1
        row = body[0]
        assert row[:4] == [file_name, line, "", "（整个文件）"] and row[5] == "整个文件退回"  # the check in Chinese
        assert row[4].startswith("整个文件被退回，未入库") and reason in row[4] and held in row[4], row[4]
    recorded = dict(conn.execute(
        "select department, files_refused from meta.return_notices where source_id = %s and logical_date = %s",
        (SOURCE, night)).fetchall())
    assert recorded == dict.fromkeys(expected, 1)
