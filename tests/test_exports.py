"""Exports (issue 20): the framework (catalog, atomic CSV, Data Package manifest, _SUCCESS, the
ledger) on a small declared target, then the real targets cut from a simulated warehouse.

Logical dates: 2031 belong to this file (the framework's synthetic target uses 2031-01-*).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date, timedelta

import pytest
from conftest import natural_person_names

from credit_dw.catalog.exports import ColumnSpec, ExportSpec, FileSpec, load_exports
from credit_dw.config import settings
from credit_dw.exports import delivery, manifest, writer

SPEC = ExportSpec(
    target="framework_test", title="框架测试", module="unused", layout_version="7", schedule="nightly",
    scope="test", reads=(), as_of_checked=(), masking="none", person_names_allowed=(),
    files=(
        FileSpec(name="items", title="条目", operation_header="操作",
                 columns=(ColumnSpec("item_id", "编号"), ColumnSpec("decided_on", "决定日期", "date"),
                          ColumnSpec("operation", "操作"))),
        FileSpec(name="notes", title="备注", operation="current",
                 columns=(ColumnSpec("note", "备注"), ColumnSpec("amount", "金额", "integer"))),
    ),
)
ROWS = {
    "items": [("A-1", date(2031, 1, 2), "新增"), ("A-2", date(2031, 1, 3), "变更"), ("A-3", None, "新增")],
    "notes": [("含,逗号与\"引号\"", 3)],
}


def _directory(night: date):
    return settings.outbox_dir(SPEC.target, night.isoformat())


def _snapshot(night: date) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(_directory(night).iterdir())}


def _ledger_rows(conn, target: str, night: date) -> int:
    return conn.execute("select count(*) from meta.export_deliveries where target = %s and logical_date = %s",
                        (target, night)).fetchone()[0]


def test_the_catalog_declares_every_target_with_its_files():
    specs = {s.target: s for s in load_exports()}
    assert {"national", "publicity", "lending", "city/130100", "city/133100", "city/130000"} <= set(specs)
    assert [f.name for f in specs["publicity"].files] == ["licences", "penalties", "lists", "acts", "removals"]
    assert "行政处罚决定书文号" in specs["publicity"].files[1].headers


def test_a_rerun_is_byte_identical_and_recorded_once(warehouse_url, conn, monkeypatch):
    night = date(2031, 1, 5)
    monkeypatch.setenv("CREDIT_DW_GIT_REVISION", "rev-first")
    first = delivery.deliver(SPEC, night, ROWS)
    before = _snapshot(night)
    assert first.newly_recorded
    assert set(before) == {"items_2031-01-05.csv", "notes_2031-01-05.csv", "datapackage.json", "_SUCCESS"}
    # A rerun from a later revision restores the delivered manifest, revision included.
    monkeypatch.setenv("CREDIT_DW_GIT_REVISION", "rev-later")
    again = delivery.deliver(SPEC, night, ROWS)
    assert not again.newly_recorded and _snapshot(night) == before
    # Even from an emptied directory (a receiver's side lost it): the same bytes again.
    for path in _directory(night).iterdir():
        path.unlink()
    delivery.deliver(SPEC, night, ROWS)
    assert _snapshot(night) == before
    assert _ledger_rows(conn, SPEC.target, night) == 1
    assert json.loads(before["datapackage.json"])["git_revision"] == "rev-first"


def test_a_changed_rerun_of_a_delivered_night_is_refused(warehouse_url, conn):
    night = date(2031, 1, 6)
    delivery.deliver(SPEC, night, ROWS)
    before = _snapshot(night)
    changed = {**ROWS, "items": ROWS["items"][:1]}
    with pytest.raises(delivery.DeliveryConflict, match="items_2031-01-06.csv"):
        delivery.deliver(SPEC, night, changed)
    assert _snapshot(night) == before and _ledger_rows(conn, SPEC.target, night) == 1


def test_an_empty_night_is_delivered_with_its_manifest(warehouse_url, conn):
    from frictionless import validate

    night = date(2031, 1, 7)
    result = delivery.deliver(SPEC, night, {"items": [], "notes": []})
    directory = _directory(night)
    assert (directory / "items_2031-01-07.csv").read_text(encoding="utf-8") == "编号,决定日期,操作\n"
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    assert [(r["rows"], r["rows_by_operation"]) for r in package["resources"]] == [(0, {}), (0, {})]
    assert (directory / "_SUCCESS").exists() and result.newly_recorded
    assert validate(str(directory / "datapackage.json")).valid
    assert _ledger_rows(conn, SPEC.target, night) == 1


def test_the_manifest_describes_the_files_and_frictionless_checks_them(warehouse_url):
    from frictionless import validate

    night = date(2031, 1, 8)
    delivery.deliver(SPEC, night, ROWS)
    directory = _directory(night)
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    assert (package["profile"], package["target"], package["logical_date"], package["layout_version"]) == (
        "tabular-data-package", SPEC.target, "2031-01-08", "7")
    assert package["git_revision"] == settings.git_revision()
    for resource in package["resources"]:
        data = (directory / resource["path"]).read_bytes()
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert resource["bytes"] == len(data)
        assert resource["rows"] == len(list(csv.reader(io.StringIO(data.decode("utf-8"))))) - 1
    items = package["resources"][0]
    assert items["rows_by_operation"] == {"变更": 1, "新增": 2}
    assert [f["name"] for f in items["schema"]["fields"]] == ["编号", "决定日期", "操作"]
    assert package["resources"][1]["rows_by_operation"] == {"current": 1}
    report = validate(str(directory / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])
    # A receiver holding a damaged file sees it fail the hash check.
    damaged = directory / "items_2031-01-08.csv"
    damaged.write_bytes(damaged.read_bytes().replace(b"A-2", b"A-9"))
    assert "hash-count" in {e[0] for e in validate(str(directory / "datapackage.json")).flatten(["type"])}


def test_success_is_written_last_and_a_killed_run_delivers_once(warehouse_url, conn, monkeypatch):
    night = date(2031, 1, 9)
    written: list[str] = []
    real_write = writer.write_atomically

    def dies_at_the_manifest(path, payload):
        if path.name == manifest.MANIFEST_NAME:
            path.with_name(f".{path.name}.tmp").write_bytes(payload[:10])  # half a file, then killed
            raise KeyboardInterrupt("killed")
        written.append(path.name)
        real_write(path, payload)

    monkeypatch.setattr(writer, "write_atomically", dies_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        delivery.deliver(SPEC, night, ROWS)
    directory = _directory(night)
    assert not (directory / "_SUCCESS").exists() and not (directory / "datapackage.json").exists()
    assert _ledger_rows(conn, SPEC.target, night) == 0

    monkeypatch.setattr(writer, "write_atomically", lambda path, payload: (written.append(path.name),
                                                                            real_write(path, payload)))
    written.clear()
    (directory / manifest.NOT_PRODUCED_NAME).write_text("an earlier attempt failed\n", encoding="utf-8")
    result = delivery.deliver(SPEC, night, ROWS)
    assert result.newly_recorded and _ledger_rows(conn, SPEC.target, night) == 1
    assert written[-1] == "_SUCCESS" and "datapackage.json" in written
    assert not (directory / manifest.NOT_PRODUCED_NAME).exists()
    assert not list(directory.glob(".*.tmp"))
    expected = {f.file_name(night.isoformat()): writer.csv_bytes(f.headers, ROWS[f.name]) for f in SPEC.files}
    assert {name: data for name, data in _snapshot(night).items() if name.endswith(".csv")} == expected


# --- held, not sent: a snapshot that empties or shrinks sharply ---------------------------------

HOLD_SPEC = ExportSpec(
    target="hold_test", title="暂缓测试", module="unused", layout_version="1", schedule="nightly",
    scope="test", reads=(), as_of_checked=(), masking="none", person_names_allowed=(),
    files=(
        FileSpec(name="everything", title="全量", operation="current", kind="snapshot", hold_if_shrinks_below=0.5,
                 columns=(ColumnSpec("item_id", "编号"),)),
        FileSpec(name="changes", title="增量", operation="changed", columns=(ColumnSpec("item_id", "编号"),)),
    ),
)


def _hold_rows(snapshot: int, changes: int = 0) -> dict:
    return {"everything": [(f"S-{k:03d}",) for k in range(snapshot)],
            "changes": [(f"C-{k:03d}",) for k in range(changes)]}


def _hold_dir(night: date):
    return settings.outbox_dir(HOLD_SPEC.target, night.isoformat())


def test_the_catalog_holds_snapshots_only():
    specs = {s.target: s for s in load_exports()}
    assert [(f.name, f.kind, f.hold_if_shrinks_below) for f in specs["publicity"].files] == [
        ("licences", "snapshot", 0.5), ("penalties", "snapshot", 0.5), ("lists", "snapshot", 0.5),
        ("acts", "snapshot", 0.5), ("removals", "increment", None)]
    assert all(f.kind == "increment" and f.hold_if_shrinks_below is None for f in specs["national"].files)
    assert all(f.kind == "snapshot" for t in ("lending", "city/130100", "gsxt") for f in specs[t].files
               if f.name != "repairs")


def test_a_shrunk_snapshot_is_held_and_an_operator_releases_it(warehouse_url, conn):
    first, second = date(2031, 2, 1), date(2031, 2, 2)
    assert delivery.deliver(HOLD_SPEC, first, _hold_rows(10, 3)).newly_recorded
    # A normal night (a little smaller, an empty increment) is sent.
    normal = delivery.deliver(HOLD_SPEC, second, _hold_rows(8))
    assert normal.newly_recorded and (_hold_dir(second) / "_SUCCESS").exists()
    assert (_hold_dir(second) / "changes_2031-02-02.csv").read_text(encoding="utf-8") == "编号\n"
    # Shrunk below half of the last delivered night (8 on 2031-02-02): held, not sent.
    shrunk = date(2031, 2, 3)
    with pytest.raises(delivery.DeliveryHeld, match=r"everything has 3 rows against 8 on 2031-02-02"):
        delivery.deliver(HOLD_SPEC, shrunk, _hold_rows(3, 2))
    assert sorted(p.name for p in _hold_dir(shrunk).iterdir()) == ["_HELD"]
    note = (_hold_dir(shrunk) / "_HELD").read_text(encoding="utf-8")
    assert note.count("\n") == 1 and note.startswith("暂缓发送") and "HELD, not sent" in note
    assert "3 行" in note and "8 行" in note and "credit-dw export release --target hold_test --date 2031-02-03" in note
    assert _ledger_rows(conn, HOLD_SPEC.target, shrunk) == 0
    # Held again on a retry; then released deliberately: delivered, recorded once, note gone.
    with pytest.raises(delivery.DeliveryHeld):
        delivery.deliver(HOLD_SPEC, shrunk, _hold_rows(3, 2))
    released = delivery.deliver(HOLD_SPEC, shrunk, _hold_rows(3, 2), release=True)
    assert released.newly_recorded and _ledger_rows(conn, HOLD_SPEC.target, shrunk) == 1
    assert sorted(p.name for p in _hold_dir(shrunk).iterdir()) == [
        "_SUCCESS", "changes_2031-02-03.csv", "datapackage.json", "everything_2031-02-03.csv"]
    # A rerun of the released (delivered) night is never held again.
    assert not delivery.deliver(HOLD_SPEC, shrunk, _hold_rows(3, 2)).newly_recorded
    # Emptied against a night that had rows: held, whatever the threshold.
    emptied = date(2031, 2, 4)
    with pytest.raises(delivery.DeliveryHeld, match="everything is empty against 3 rows on 2031-02-03"):
        delivery.deliver(HOLD_SPEC, emptied, _hold_rows(0, 5))
    assert not (_hold_dir(emptied) / "_SUCCESS").exists() and _ledger_rows(conn, HOLD_SPEC.target, emptied) == 0


def test_a_held_export_fails_its_task_and_leaves_no_not_produced_note(warehouse_url, conn, monkeypatch):
    from credit_dw.exports import run

    night = date(2031, 2, 10)
    delivery.deliver(HOLD_SPEC, night - timedelta(days=1), _hold_rows(20))

    def cut(target, logical_date, *, release=False):  # the real target's cut, as run._export does
        return delivery.deliver(HOLD_SPEC, logical_date, _hold_rows(4), release=release)

    monkeypatch.setattr(run, "_export", cut)
    with pytest.raises(delivery.DeliveryHeld, match="4 rows against 20"):
        run.export(HOLD_SPEC.target, night)
    assert sorted(p.name for p in _hold_dir(night).iterdir()) == ["_HELD"]
    assert run.export(HOLD_SPEC.target, night, release=True).newly_recorded
    assert not (_hold_dir(night) / "_HELD").exists() and (_hold_dir(night) / "_SUCCESS").exists()


def test_an_empty_increment_is_never_held(warehouse_url, conn):
    spec = ExportSpec(**{**HOLD_SPEC.__dict__, "target": "hold_test_increment", "files": HOLD_SPEC.files[1:]})
    delivery.deliver(spec, date(2031, 2, 20), {"changes": [("C-1",), ("C-2",)]})
    empty = delivery.deliver(spec, date(2031, 2, 21), {"changes": []})
    assert empty.newly_recorded and (empty.directory / "_SUCCESS").exists()
    assert not (empty.directory / "_HELD").exists()


def test_credit_dw_export_release_delivers_a_held_night_once(warehouse_url, conn, monkeypatch):
    """The operator's command: a night held (snapshot shrank) is released by `credit-dw export
    release`, delivered and recorded once; released again, it says it was delivered already."""
    import os

    from typer.testing import CliRunner

    from credit_dw.cli import app
    from credit_dw.exports import run

    spec = ExportSpec(**{**HOLD_SPEC.__dict__, "target": "hold_test_cli"})
    night = date(2031, 2, 16)
    delivery.deliver(spec, night - timedelta(days=1), _hold_rows(20))

    def cut(target, logical_date, *, release=False):  # the real target's cut, as run._export does
        assert target == spec.target
        return delivery.deliver(spec, logical_date, _hold_rows(4, 1), release=release)

    monkeypatch.setattr(run, "_export", cut)
    with pytest.raises(delivery.DeliveryHeld):
        run.export(spec.target, night)
    directory = settings.outbox_dir(spec.target, night.isoformat())
    assert sorted(p.name for p in directory.iterdir()) == ["_HELD"] and _ledger_rows(conn, spec.target, night) == 0
    environ = dict(os.environ)
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["export", "release", "--target", spec.target, "--date", night.isoformat()])
        assert result.exit_code == 0, result.output
        assert "released and delivered" in result.output and "(5 rows)" in result.output
        assert _ledger_rows(conn, spec.target, night) == 1
        assert sorted(p.name for p in directory.iterdir()) == [
            "_SUCCESS", "changes_2031-02-16.csv", "datapackage.json", "everything_2031-02-16.csv"]
        again = runner.invoke(app, ["export", "release", "--target", spec.target, "--date", night.isoformat()])
        assert again.exit_code == 0 and "already delivered" in again.output, again.output
        assert _ledger_rows(conn, spec.target, night) == 1
    finally:  # the command sets Airflow defaults in the process environment: leave it as it was
        for key in set(os.environ) - set(environ):
            del os.environ[key]


# --- XLSX for receivers that want spreadsheets; formula injection; field-code headers ----------

XLSX_SPEC = ExportSpec(**{**SPEC.__dict__, "target": "xlsx_test", "formats": ("csv", "xlsx")})
#: Text a spreadsheet would evaluate, next to values that must stay as they are.
INJECTED = {
    "items": [("=HYPERLINK(\"http://x\",\"点击\")", date(2031, 3, 2), "新增"), ("+86-311", None, "变更"),
              ("@SUM(A1)", date(2031, 3, 3), "新增"), ("-1+2", None, "新增"), ("普通", None, "新增")],
    "notes": [("\t=1", -3), ("正常备注", 7)],
}


def test_xlsx_files_are_listed_deterministic_and_formula_safe(warehouse_url, conn):
    import time as clock

    import openpyxl
    from frictionless import validate

    night = date(2031, 3, 1)  # 2031-03 belongs to this test
    first = delivery.deliver(XLSX_SPEC, night, INJECTED)
    directory = settings.outbox_dir(XLSX_SPEC.target, night.isoformat())
    assert sorted(p.name for p in directory.iterdir()) == [
        "_SUCCESS", "datapackage.json", "items_2031-03-01.csv", "items_2031-03-01.xlsx", "notes_2031-03-01.csv",
        "notes_2031-03-01.xlsx"]
    package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in package["resources"]}
    for name in ("items_2031-03-01.xlsx", "notes_2031-03-01.xlsx"):
        data = (directory / name).read_bytes()
        assert resources[name]["hash"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
        assert resources[name]["bytes"] == len(data) and resources[name]["format"] == "xlsx"
    assert resources["items_2031-03-01.xlsx"]["rows_by_operation"] == {"变更": 1, "新增": 4}
    assert first.row_count == 7  # the XLSX repeats the CSV's rows: counted once
    assert conn.execute("select row_count, file_count from meta.export_deliveries where target = %s",
                        (XLSX_SPEC.target,)).fetchone() == (7, 4)
    report = validate(str(directory / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])
    # Every text cell a spreadsheet would evaluate starts with an apostrophe, in both formats;
    # a negative number stays a number.
    items = _read(directory / "items_2031-03-01.csv")
    assert [r["编号"] for r in items] == [
        "'=HYPERLINK(\"http://x\",\"点击\")", "'+86-311", "'@SUM(A1)", "'-1+2", "普通"]
    assert _read(directory / "notes_2031-03-01.csv") == [
        {"备注": "'\t=1", "金额": "-3"}, {"备注": "正常备注", "金额": "7"}]
    sheet = openpyxl.load_workbook(directory / "items_2031-03-01.xlsx").active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["编号", "决定日期", "操作"]
    assert [[v if v is not None else "" for v in row] for row in cells[1:]] == [list(r.values()) for r in items]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    notes = openpyxl.load_workbook(directory / "notes_2031-03-01.xlsx").active
    assert [[c.value for c in row] for row in notes.iter_rows()] == [["备注", "金额"], ["'\t=1", -3], ["正常备注", 7]]
    # A rerun later (another wall-clock second) reproduces every byte: the ledger would refuse otherwise.
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    clock.sleep(1.1)
    (directory / "items_2031-03-01.xlsx").unlink()
    assert not delivery.deliver(XLSX_SPEC, night, INJECTED).newly_recorded
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert delivery.verified_delivery(XLSX_SPEC, night) is not None


def test_query_csv_bytes_are_the_python_writers_bytes(conn):
    """The server-side cut (one COPY) renders every value as the Python writer does: nulls, empty
    text, quotes, commas, newlines, a bare carriage return (quoted, as a reader would otherwise end
    the line there), formula-looking text, dates, timestamps with and without microseconds,
    numerics, floats, booleans."""
    from psycopg.rows import tuple_row

    query = """
        select * from (values
            (1, 'A,"quoted"', '', date '2031-04-01', timestamptz '2031-04-01 08:00:00+08', 12.50::numeric(8, 2),
             true, 0.1::float8),
            (2, E'two\\nlines', null, null, timestamptz '2031-04-01 08:00:00.25+08', -3::numeric, false, null),
            (3, '=1+1', '-x', date '2031-04-02', null, null, null, -2.5::float8),
            (4, E'\\tTab', '@mention', date '2031-04-03', timestamptz '2031-04-01 23:59:59.000001+08', 0::numeric,
             null, 1e20::float8),
            (5, E'carriage\\rreturn', E'both\\r\\nends', null, null, null, null, null)
        ) as v(n, text_a, text_b, day, stamp, amount, flag, ratio)
        where n >= %(from)s order by n"""
    headers = ["序号", "文本", "文本二", "日期", "时间", "金额", "标志", "比率"]
    conn.execute("set time zone 'Asia/Shanghai'")
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(query, {"from": 1}).fetchall()
    payload, count = writer.query_csv_bytes(conn, query, {"from": 1}, headers)
    assert count == 5 and payload == writer.csv_bytes(headers, rows)
    assert b'5,"carriage\rreturn","both\r\nends"' in payload
    assert "'=1+1" in payload.decode("utf-8") and ",'-x," in payload.decode("utf-8")
    with pytest.raises(writer.NotCopyable):
        writer.query_csv_bytes(conn, "select interval '1 day' as span", None, ["span"])


def test_a_receiver_may_take_field_codes_and_never_a_half_coded_file():
    import yaml

    from credit_dw.catalog.exports import EXPORTS_FILE, specs_from

    catalog = yaml.safe_load(EXPORTS_FILE.read_text(encoding="utf-8"))
    national = next(e for e in catalog["exports"] if e["target"] == "national")
    assert national["header_style"] == "template"
    # The real national entry: the codes the project knows are declared, but not one for every
    # column, so asking for field codes is refused rather than delivering a mixed header row.
    with pytest.raises(ValueError, match=r"national/subjects: header_style field_codes, but no field code"):
        specs_from({"exports": [{**national, "header_style": "field_codes"}]})
    # A fully coded file is written with its codes, the operation counted by its code.
    licences = next(f for f in national["files"] if f["name"] == "licences")
    coded = {**licences, "columns": [{**c, "code": c.get("code") or f"X_{k}"} for k, c in
                                     enumerate(licences["columns"])]}
    (spec,) = specs_from({"exports": [{**national, "header_style": "field_codes", "files": [coded]}]})
    headers = spec.files[0].headers
    assert {"XK_XDR_MC", "XK_XDR_SHXYM", "XK_JDRQ", "SJC"} <= set(headers)
    assert "行政相对人名称" not in headers and spec.files[0].operation_header == "X_0"
    with pytest.raises(ValueError, match="header_style 'codes'"):
        specs_from({"exports": [{**national, "header_style": "codes"}]})
    with pytest.raises(ValueError, match="must start with csv"):
        specs_from({"exports": [{**national, "formats": ["xlsx"]}]})


# --- the real targets, cut from a simulated warehouse ------------------------------------------

NIGHTS = (date(2022, 5, 10), date(2022, 5, 11))  # simulated and ingested; the year 2022's May belongs to this file
FEEDS = ("market_registry", "admin_licence", "admin_penalty", "objections", "credit_lists", "court_debtors")
FACTS = ("fct_admin_penalty", "fct_admin_licence", "fct_list_membership", "fct_repair", "fct_court_debtor",
         "fct_admin_act")
INJECTED_FROM = 910_001  # _row_number of the hand-made applications


def _build_as_of(night: date, *, parents: bool = False) -> None:
    from credit_dw.transform import dbt as transform

    select = [f"+{m}" for m in (*FACTS, "dim_subject")] if parents else list(FACTS)
    transform.run_dbt(["run", "--select", *select, "--vars", f"{{as_of_date: '{night.isoformat()}'}}"])


def _inject(conn, batch_id: str, first_row: int, rows: list[tuple]) -> None:
    """Objection / repair applications about chosen penalties (columns as test_publicity_lifecycle)."""
    conn.cursor().executemany(
        """insert into raw.objections__applications
               (_batch_id, _source_id, _row_number, _source_file, _source_row, application_id,
                application_type_code, uscc, subject_name, applied_on, record_category, record_id,
                status_code, closed_on, notified_on, outcome, updated_at)
           values (%s, 'objections', %s, 'test_exports', 1, %s, %s, %s, %s, %s, '行政处罚', %s, %s, %s, %s, %s,
                   %s)""",
        [(batch_id, first_row + k, *row) for k, row in enumerate(rows)])


def _read(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def exported(warehouse_url: str) -> dict:
    """Two nights of the feeds ingested; national, publicity and gsxt exported for the second night;
    then the marts rebuilt as of the last public day of the earliest-ending public penalty P (the
    day before its window closes) and as of the closing day itself, with an objection open on
    penalty O, a repair of R and a revocation of V, both closed on the closing day; publicity and
    gsxt exported for both days."""
    import psycopg

    from credit_dw.catalog import get_source, source_ids
    from credit_dw.connectors import http as extract_http
    from credit_dw.db import privacy
    from credit_dw.exports.run import export
    from credit_dw.ingest import landing
    from credit_dw.ingest import pipeline as ingest
    from credit_dw.simulate import api_server, simulator_for
    from credit_dw.transform import dbt as transform

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        seeded = conn.execute("""select to_regclass('reference.publicity_rules') is not null
                                        and exists (select from credit.working_day_index)""").fetchone()[0]
    if not seeded:
        transform.seed_reference()
    privacy.install_hash_key()
    for source_id in source_ids():
        landing.ensure_raw_table(get_source(source_id))
    batches = {}
    with pytest.MonkeyPatch.context() as mp:
        for source_id in FEEDS:
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for night in NIGHTS:
            for source_id in FEEDS:
                simulator_for(source_id)(night, scale=1)
                outcome = ingest.ingest(source_id, night)
                assert outcome.status == "accepted", (source_id, night, outcome)
                batches[source_id] = outcome.batch_id
    night = NIGHTS[-1]
    _build_as_of(night, parents=True)
    deliveries = {(target, night): export(target, night) for target in ("national", "publicity", "gsxt")}

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        p_id, p_doc, closing = conn.execute(
            """select penalty_id, decision_document_number, latest_end_on from marts.fct_admin_penalty
               where is_public order by latest_end_on, penalty_id limit 1""").fetchone()
        picked = conn.execute(
            """select penalty_id, decision_document_number, uscc, subject_name, publicity_start_on
               from marts.fct_admin_penalty
               where is_public and uscc is not null and latest_end_on > %s + 1 and earliest_end_on < %s
                 and penalty_id <> %s
               order by penalty_id limit 3""", (closing, closing, p_id)).fetchall()
        assert len(picked) == 3, "not enough public penalties of organisations to drive the cases"
        (o_id, o_doc, o_uscc, o_name, _), (r_id, r_doc, r_uscc, r_name, _), (v_id, v_doc, v_uscc, v_name, _) = picked
        applied = closing - timedelta(days=20)
        opened, closed = f"{applied.isoformat()}T12:00:00+08:00", f"{closing.isoformat()}T12:00:00+08:00"
        # The feed's batch is an early night's: the closed applications are landed only before the
        # closing day's build, as if that night had delivered them.
        _inject(conn, batches["objections"], INJECTED_FROM, [
            ("YY-EXPORT-O", "1", o_uscc, o_name, applied, o_doc, "03", None, applied + timedelta(days=2), None,
             opened)])
        try:
            _build_as_of(closing - timedelta(days=1))
            # Years after the first night, records other modules left public then (test_admin_acts'
            # acts of November 2021, ...) have left publicity, and the shrink guard would hold the
            # night; that guard is tested on its own (test_a_shrunk_snapshot_is_held_and_an_operator_releases_it):
            # here the night is released, as an operator who checked the shrinkage would.
            for target in ("publicity", "gsxt"):
                deliveries[(target, closing - timedelta(days=1))] = export(
                    target, closing - timedelta(days=1), release=True)
            _inject(conn, batches["objections"], INJECTED_FROM + 1, [
                ("XF-EXPORT-R", "2", r_uscc, r_name, applied, r_doc, "04", closing, None, "修复成功", closed),
                ("YY-EXPORT-V", "1", v_uscc, v_name, applied, v_doc, "04", closing, applied + timedelta(days=2),
                 "撤销", closed)])
            _build_as_of(closing)
            deliveries[("publicity", closing)] = export("publicity", closing)
            deliveries[("national", closing)] = export("national", closing)
            deliveries[("gsxt", closing)] = export("gsxt", closing)
        finally:
            conn.execute("delete from raw.objections__applications where _row_number >= %s", (INJECTED_FROM,))
    return {"deliveries": deliveries, "closing": closing, "night": night,
            "P": (p_id, p_doc), "O": (o_id, o_doc), "R": (r_id, r_doc), "V": (v_id, v_doc)}


def _publicity(exported: dict, day: date, name: str) -> list[dict[str, str]]:
    return _read(settings.outbox_dir("publicity", day.isoformat()) / f"{name}_{day.isoformat()}.csv")


def test_national_subjects_are_the_subjects_changed_that_night(exported, conn):
    night = exported["night"]
    delivery_ = exported["deliveries"][("national", night)]
    rows = _read(delivery_.directory / f"subjects_{night.isoformat()}.csv")
    expected = conn.execute("select subject_id from marts.dim_subject where last_changed_on = %s order by 1",
                            (night,)).fetchall()
    assert [r["subject_id"] for r in rows] == [s for (s,) in expected] and rows
    assert (delivery_.directory / "_SUCCESS").exists()


def test_publicity_holds_penalties_inside_their_window_only(exported, conn):
    closing, (p_id, p_doc) = exported["closing"], exported["P"]
    last_day = closing - timedelta(days=1)
    before = {r["记录编号"]: r for r in _publicity(exported, last_day, "penalties")}
    after = {r["记录编号"]: r for r in _publicity(exported, closing, "penalties")}
    assert p_id in before and before[p_id]["公示截止日期"] == last_day.isoformat()
    assert p_id not in after
    removed = {r["记录编号"]: r for r in _publicity(exported, closing, "removals")}
    assert removed[p_id]["撤下原因"] == "公示期满" and removed[p_id]["文书号"] == p_doc
    for day, rows in ((last_day, before), (closing, after), (exported["night"], {
            r["记录编号"]: r for r in _publicity(exported, exported["night"], "penalties")})):
        for row in rows.values():
            assert row["处罚决定日期"] <= day.isoformat() <= row["公示截止日期"], row


def test_a_penalty_under_objection_stays_public_marked_objection(exported):
    o_id, _ = exported["O"]
    for day in (exported["closing"] - timedelta(days=1), exported["closing"]):
        rows = {r["记录编号"]: r for r in _publicity(exported, day, "penalties")}
        assert (rows[o_id]["信息状态"], rows[o_id]["状态码"]) == ("异议", "2"), day
    package = json.loads((settings.outbox_dir("publicity", exported["closing"].isoformat())
                          / "datapackage.json").read_text(encoding="utf-8"))
    penalties = next(r for r in package["resources"] if r["name"] == "penalties")
    assert penalties["rows_by_operation"].get("异议", 0) >= 1


def test_repaired_and_revoked_penalties_are_taken_down_that_night(exported):
    closing = exported["closing"]
    removed = {r["记录编号"]: r["撤下原因"] for r in _publicity(exported, closing, "removals")}
    public_after = {r["记录编号"] for r in _publicity(exported, closing, "penalties")}
    public_before = {r["记录编号"] for r in _publicity(exported, closing - timedelta(days=1), "penalties")}
    r_id, v_id = exported["R"][0], exported["V"][0]
    assert removed[r_id] == "信用修复" and removed[v_id] == "撤销"
    assert {r_id, v_id} <= public_before and not {r_id, v_id} & public_after
    # Every removal of the night was public the night before and is not any more.
    penalty_removals = {k for k, v in removed.items() if v in ("公示期满", "信用修复", "撤销", "更正")}
    assert penalty_removals <= public_before and not penalty_removals & public_after


def test_every_delivery_validates_against_its_manifest(exported):
    from frictionless import validate

    for (target, day), delivered in exported["deliveries"].items():
        report = validate(str(delivered.manifest_file))
        assert report.valid, (target, day, report.flatten(["type", "message"])[:5])
        assert (delivered.directory / "_SUCCESS").exists()


def test_a_rerun_of_the_night_is_identical_and_a_past_night_is_never_cut_from_later_marts(exported, conn):
    from credit_dw.exports.run import NotBuiltForNight, export

    closing = exported["closing"]
    directory = settings.outbox_dir("publicity", closing.isoformat())
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    again = export("publicity", closing)  # the marts still hold the closing day's state
    assert not again.newly_recorded and {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert _ledger_rows(conn, "publicity", closing) == 1
    # The night before was delivered; the marts now hold the closing day. A rerun verifies the
    # delivered files against the ledger instead of recutting them from the later state ...
    last_day = settings.outbox_dir("publicity", (closing - timedelta(days=1)).isoformat())
    delivered = {p.name: p.read_bytes() for p in last_day.iterdir()}
    kept = export("publicity", closing - timedelta(days=1))
    assert not kept.newly_recorded and {p.name: p.read_bytes() for p in last_day.iterdir()} == delivered
    assert [f.sha256 for f in kept.files] == [
        hashlib.sha256(delivered[f.path]).hexdigest() for f in kept.files]
    # ... and refuses once they are damaged, since it can no longer reproduce them.
    damaged = last_day / kept.files[0].path
    damaged.write_bytes(delivered[kept.files[0].path] + b"x")
    try:
        with pytest.raises(NotBuiltForNight, match="rebuild"):
            export("publicity", closing - timedelta(days=1))
        assert not (last_day / "_NOT_PRODUCED").exists()  # a delivered night is never marked so
    finally:
        damaged.write_bytes(delivered[kept.files[0].path])


def test_a_night_that_could_not_be_produced_says_so_where_the_receiver_looks(exported, conn):
    from credit_dw.exports.run import NotBuiltForNight, export

    never_built = exported["closing"] + timedelta(days=30)
    with pytest.raises(NotBuiltForNight):
        export("publicity", never_built)
    directory = settings.outbox_dir("publicity", never_built.isoformat())
    assert sorted(p.name for p in directory.iterdir()) == ["_NOT_PRODUCED"]
    assert "NotBuiltForNight" in (directory / "_NOT_PRODUCED").read_text(encoding="utf-8")
    assert _ledger_rows(conn, "publicity", never_built) == 0


def _gsxt(day: date, name: str) -> list[dict[str, str]]:
    return _read(settings.outbox_dir("gsxt", day.isoformat()) / f"{name}_{day.isoformat()}.csv")


def test_gsxt_holds_market_subjects_only_never_a_natural_person(exported, conn):
    from stdnum.cn import uscc

    persons = {table: {k for (k,) in conn.execute(
        f"select {key} from marts.{table} where subject_type = 'natural_person'")}
        for table, key in (("fct_admin_licence", "licence_id"), ("fct_admin_penalty", "penalty_id"))}
    assert persons["fct_admin_licence"] and persons["fct_admin_penalty"], "the simulator made no natural person"
    market = {k for (k,) in conn.execute(
        "select penalty_id from marts.fct_admin_penalty where is_public and subject_type <> 'natural_person'")}
    for day in (exported["night"], exported["closing"] - timedelta(days=1), exported["closing"]):
        files = {name: _gsxt(day, name) for name in ("licences", "penalties", "lists", "repairs")}
        assert files["licences"] and files["penalties"] and files["lists"], day
        for name, rows in files.items():
            for row in rows:
                assert row["主体类别"] in ("法人及非法人组织", "个体工商户"), (day, name, row)
                assert uscc.is_valid(row["统一社会信用代码"]), (day, name, row)
                assert not any("*" in v for v in row.values()), (day, name, row)  # no masked person
        assert not {r["记录编号"] for r in files["licences"]} & persons["fct_admin_licence"]
        assert not {r["记录编号"] for r in files["penalties"]} & persons["fct_admin_penalty"]
        assert [r["记录编号"] for r in files["penalties"]] == sorted(r["记录编号"] for r in files["penalties"])
    # The marts' states as they stand (built as of the closing day): the market subjects' public set.
    closing = {r["记录编号"]: r for r in _gsxt(exported["closing"], "penalties")}
    assert set(closing) == market
    o_id = exported["O"][0]
    assert (closing[o_id]["公示状态"], closing[o_id]["信息状态"], closing[o_id]["惩戒状态"]) == (
        "公示中（异议）", "2", "暂停（异议核实中）")


def test_gsxt_repair_results_carry_a_repaired_penalty_on_the_night_it_was_repaired(exported, conn):
    closing, (r_id, r_doc) = exported["closing"], exported["R"]
    repairs = _gsxt(closing, "repairs")
    row = next(r for r in repairs if r["处罚记录编号"] == r_id)
    assert (row["申请编号"], row["涉及信息编号"], row["修复结果"], row["办结日期"]) == (
        "XF-EXPORT-R", r_doc, "修复成功", closing.isoformat())
    (ends_on,) = conn.execute("select publicity_ends_on from marts.fct_admin_penalty where penalty_id = %s",
                              (r_id,)).fetchone()
    assert row["停止公示日期"] == ends_on.isoformat()
    assert all(r["办结日期"] == closing.isoformat() for r in repairs)
    assert not [r for r in _gsxt(closing - timedelta(days=1), "repairs") if r["处罚记录编号"] == r_id]
    # Repaired: out of the penalties snapshot from the night its publicity ends.
    if ends_on <= closing:
        assert r_id not in {r["记录编号"] for r in _gsxt(closing, "penalties")}
    package = json.loads((settings.outbox_dir("gsxt", closing.isoformat()) / "datapackage.json").read_text(
        encoding="utf-8"))
    assert {r["name"]: r["rows_by_operation"] for r in package["resources"]}["repairs"].get("修复成功", 0) >= 1


def test_a_gsxt_rerun_is_byte_identical_and_recorded_once(exported, conn):
    from credit_dw.catalog.exports import get_export
    from credit_dw.exports.run import export
    from credit_dw.exports.targets import gsxt

    closing = exported["closing"]
    # gsxt declares queries(): its files are cut by the server (one COPY each); they hold the very
    # bytes and counts the Python writer gives for the same rows.
    spec, directory = get_export("gsxt"), settings.outbox_dir("gsxt", closing.isoformat())
    conn.execute("set time zone 'Asia/Shanghai'")
    produced = gsxt.tables(conn, closing)
    resources = {r["name"]: r for r in json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))[
        "resources"]}
    for file_spec in spec.files:
        rows = [tuple(row[key] for key in file_spec.keys) for row in produced[file_spec.name]]
        assert (directory / file_spec.file_name(closing.isoformat())).read_bytes() == writer.csv_bytes(
            file_spec.headers, rows), file_spec.name
        assert resources[file_spec.name]["rows_by_operation"] == delivery._rows_by_operation(file_spec, rows)
    assert any(produced.values())
    for day in (closing, closing - timedelta(days=1)):  # recut from the marts; verified from the ledger
        directory = settings.outbox_dir("gsxt", day.isoformat())
        before = {p.name: p.read_bytes() for p in directory.iterdir()}
        assert sorted(before) == ["_SUCCESS", "datapackage.json", *sorted(
            f"{n}_{day.isoformat()}.csv" for n in ("licences", "lists", "penalties", "repairs"))]
        again = export("gsxt", day)
        assert not again.newly_recorded and {p.name: p.read_bytes() for p in directory.iterdir()} == before
        assert _ledger_rows(conn, "gsxt", day) == 1


def test_no_exported_file_holds_a_clear_citizen_id_or_a_persons_full_name(exported, targets_exported, conn):
    from stdnum.cn import ric, uscc

    names = natural_person_names(conn, ["%/2022-05-%"])  # this module's nights
    assert len(names) > 20  # the simulator's natural persons and legal representatives
    specs = {s.target: s for s in load_exports()}
    outbox = settings.home() / "outbox"
    scanned = 0
    targets_scanned = set()
    for target, spec in specs.items():
        allowed = {c.header for f in spec.files for c in f.columns if c.key in spec.person_names_allowed}
        for path in sorted((outbox / target).glob("*/*.csv")):
            targets_scanned.add(target)
            for row in _read(path):
                for header, value in row.items():
                    scanned += 1
                    for token in re.findall(r"[0-9]{17}[0-9Xx]", value):
                        assert not (ric.is_valid(token) and not uscc.is_valid(token)), (path.name, header)
                    if header not in allowed:
                        assert value.strip() not in names, (path.name, header, value)
    assert scanned > 1000
    assert targets_scanned == set(specs)  # every target of the catalog, lending and each city/<code> included


def _national(day: date, name: str) -> list[dict[str, str]]:
    return _read(settings.outbox_dir("national", day.isoformat()) / f"{name}_{day.isoformat()}.csv")


def test_national_increment_flags_new_changed_and_withdrawn_records_in_the_template_vocabulary(exported, conn):
    night, closing = exported["night"], exported["closing"]
    penalties = _national(night, "penalties")
    assert list(penalties[0])[:5] == ["操作标识", "行政相对人名称", "行政相对人类别", "统一社会信用代码",
                                      "行政处罚决定书文号"]
    first_delivered = {d for (d,) in conn.execute(
        "select decision_document_number from marts.fct_admin_penalty where first_reported_on = %s", (night,))}
    assert {r["行政处罚决定书文号"] for r in penalties if r["操作标识"] == "新增"} == first_delivered
    assert {r["操作标识"] for r in penalties} <= {"新增", "变更"}
    assert {r["信息状态"] for r in penalties} <= {"0", "1", "2"}
    assert {r["行政相对人类别"] for r in penalties} <= {"法人及非法人组织", "个体工商户", "自然人"}
    licences = _national(night, "licences")
    assert licences and {r["操作标识"] for r in licences} <= {"新增", "变更"}
    # The closing day: the revoked penalty V is withdrawn with status 1; nothing registered that day.
    withdrawn = [r for r in _national(closing, "penalties") if r["操作标识"] == "撤回"]
    assert [(r["行政处罚决定书文号"], r["信息状态"]) for r in withdrawn] == [(exported["V"][1], "1")]
    assert withdrawn[0]["更新时间"].startswith(closing.isoformat())
    assert _national(closing, "subjects") == []
    package = json.loads((settings.outbox_dir("national", closing.isoformat()) / "datapackage.json").read_text(
        encoding="utf-8"))
    assert package["layout_version"] == "3"
    assert {r["name"]: r["rows_by_operation"] for r in package["resources"]}["penalties"].get("撤回") == 1


def test_national_increment_carries_lists_debtors_and_repairs_in_the_national_vocabulary(exported, conn):
    night, closing = exported["night"], exported["closing"]
    operations, statuses = {"新增", "变更", "撤回"}, {"0", "1", "2"}
    lists = _national(night, "lists")
    first_listed = {d for (d,) in conn.execute(
        "select listing_document_number from marts.fct_list_membership where first_reported_on = %s", (night,))}
    assert lists and {r["认定文书号"] for r in lists if r["操作标识"] == "新增"} == first_listed
    assert {r["操作标识"] for r in lists} <= operations and {r["信息状态"] for r in lists} <= statuses
    assert list(lists[0])[0] == "操作标识" and list(lists[0])[-2:] == ["信息状态", "更新时间"]
    debtors = _national(night, "debtors")
    first_debtors = {d for (d,) in conn.execute(
        "select case_number from marts.fct_court_debtor where first_reported_on = %s", (night,))}
    assert debtors and {r["案号"] for r in debtors if r["操作标识"] == "新增"} == first_debtors
    assert {r["操作标识"] for r in debtors} <= operations and {r["信息状态"] for r in debtors} <= statuses
    # A natural person: no name, the ID masked (first 6 + ******** + last 4), never in clear.
    persons = [r for r in debtors if r["主体类别"] == "自然人"]
    assert persons, "the simulated debtors include natural persons"
    assert all(r["被执行人名称"] == "" and re.fullmatch(r"\d{6}\*{8}[\dX]{4}", r["证件号码"]) for r in persons)
    # The closing day: the repair of R decided that day is announced once, with its penalty's end of publicity.
    repairs = _national(closing, "repairs")
    repaired = [r for r in repairs if r["申请编号"] == "XF-EXPORT-R"]
    assert [(r["操作标识"], r["涉及信息编号"], r["修复结果"], r["信息状态"]) for r in repaired] == [
        ("新增", exported["R"][1], "修复成功", "0")]
    assert repaired[0]["停止公示日期"] and repaired[0]["更新时间"] == f"{closing.isoformat()} 00:00:00"
    assert all(r["办结日期"] == closing.isoformat() for r in repairs)
    assert not any(r["申请编号"] == "XF-EXPORT-R" for r in _national(night, "repairs"))


def test_every_target_is_a_dbt_exposure_over_the_marts_it_reads():
    import yaml

    path = settings.DBT_PROJECT_DIR / "models" / "exports" / "_exports__exposures.yml"
    exposures = {e["meta"]["export_target"]: e for e in yaml.safe_load(path.read_text(encoding="utf-8"))["exposures"]}
    specs = {s.family: s for s in load_exports()}  # a fanned-out entry (city/<code>) is one exposure
    assert set(exposures) == set(specs)
    for target, spec in specs.items():
        refs = sorted(re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for d in exposures[target]["depends_on"])
        assert refs == sorted(spec.reads), target


# --- lending (信易贷) and the city platforms -----------------------------------------------------

#: Feeds the lending indicators and the city files read besides FEEDS, with the night they deliver
#: on (utilities deliver on the 5th; the others on NIGHTS).
TARGET_FEEDS = {
    "utility_water": (date(2022, 5, 5),), "utility_power": (date(2022, 5, 5),),
    "tax_a_level": NIGHTS, "tax_arrears": NIGHTS, "social_insurance": NIGHTS, "housing_fund": NIGHTS,
    "national_pushdown": NIGHTS,  # court_debtors: in FEEDS (the national increment carries debtors)
}
CITY_FILES = ("subjects", "licences", "penalties", "lists", "debtors")


@pytest.fixture(scope="module")
def targets_exported(exported, warehouse_url) -> dict:
    """After the national and publicity cases: the other feeds the lending indicators and the city
    files read, ingested; the marts rebuilt as of the second night (profile and grade included);
    lending and every city/<code> exported for it."""
    from credit_dw.connectors import http as extract_http
    from credit_dw.exports.run import export
    from credit_dw.ingest import pipeline as ingest
    from credit_dw.simulate import api_server, simulator_for
    from credit_dw.transform import dbt as transform

    night = exported["night"]
    with pytest.MonkeyPatch.context() as mp:
        for source_id in TARGET_FEEDS:
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for source_id, nights in TARGET_FEEDS.items():
            for day in nights:
                simulator_for(source_id)(day, scale=1)
                outcome = ingest.ingest(source_id, day)
                assert outcome.status == "accepted", (source_id, day, outcome)
    transform.run_dbt(["run", "--select", "+prf_subject_credit_grade", "+fct_court_debtor", "+dim_jurisdiction",
                       "--vars", f"{{as_of_date: '{night.isoformat()}'}}"])
    cities = [s.target for s in load_exports() if s.family == "city"]
    deliveries = {target: export(target, night) for target in ["lending", *cities]}
    return {"night": night, "deliveries": deliveries, "cities": cities}


def _delivered(targets_exported: dict, target: str, name: str) -> list[dict[str, str]]:
    day = targets_exported["night"].isoformat()
    return _read(settings.outbox_dir(target, day) / f"{name}_{day}.csv")


def test_lending_holds_organisations_only(targets_exported, conn):
    rows = _delivered(targets_exported, "lending", "enterprises")
    organisations = {u for (u,) in conn.execute(
        "select uscc from marts.prf_subject_credit_profile where subject_type = 'organisation'")}
    assert rows and [r["统一社会信用代码"] for r in rows] == sorted(organisations)
    # No natural person and no individual business (个体工商户, 92…): every code a valid USCC of
    # an organisation, no resident ID, no masked ID.
    from stdnum.cn import uscc

    assert all(uscc.is_valid(r["统一社会信用代码"]) and not r["统一社会信用代码"].startswith("92") for r in rows)
    assert not any("*" in v for r in rows for v in r.values())
    persons = {n for (n,) in conn.execute(
        "select uscc from marts.dim_subject where subject_type <> 'organisation' and uscc is not null")}
    assert not persons & {r["统一社会信用代码"] for r in rows}
    assert {r["信用等级"] for r in rows} <= {"A", "B", "C", "D"}


def test_one_enterprises_lending_indicators_equal_the_marts(targets_exported, conn):
    night = targets_exported["night"]
    rows = {r["统一社会信用代码"]: r for r in _delivered(targets_exported, "lending", "enterprises")}
    # The enterprise with the most to say: utility bills, social insurance and a housing fund posting.
    (chosen,) = conn.execute(
        """select p.uscc from marts.prf_subject_credit_profile p
           where p.subject_type = 'organisation'
           order by (exists (select from marts.fct_utility_payment u where u.subject_id = p.subject_id))::int
                    + (exists (select from marts.fct_social_insurance s where s.subject_id = p.subject_id))::int
                    + (exists (select from marts.fct_housing_fund h where h.subject_id = p.subject_id))::int
                    + p.has_tax_arrears::int + p.is_tax_a_level::int + p.is_court_debtor::int desc,
                    p.uscc
           limit 1""").fetchone()
    row = rows[chosen]
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        p = cur.execute("""select g.credit_grade, g.score, p.* from marts.prf_subject_credit_profile p
                           join marts.prf_subject_credit_grade g using (subject_id) where p.uscc = %s""",
                        (chosen,)).fetchone()
        bills = cur.execute("""select billing_month, is_in_arrears, overdue_months from marts.fct_utility_payment
                               where uscc = %s and billing_month <= %s""", (chosen, night)).fetchall()
        si = cur.execute("""select contribution_month, insured_headcount from marts.fct_social_insurance
                            where uscc = %s and contribution_month <= %s order by contribution_month desc limit 1""",
                         (chosen, night)).fetchone()

    def yes(flag) -> str:
        return "是" if flag else "否"

    recent = [b for b in bills if b["billing_month"] > night.replace(year=night.year - 1)]
    clear = sum(not b["is_in_arrears"] for b in recent)
    expected = {
        "企业名称": p["subject_name"], "信用等级": p["credit_grade"], "信用评分": str(p["score"]),
        "纳税信用A级": yes(p["is_tax_a_level"]), "欠税": yes(p["has_tax_arrears"]),
        "社保欠缴": yes(p["has_social_insurance_arrears"]),
        "社保欠缴金额": str(p["social_insurance_arrears_amount"]),
        "社保最近缴费月份": si["contribution_month"].strftime("%Y-%m") if si else "",
        "参保人数": "" if si is None or si["insured_headcount"] is None else str(si["insured_headcount"]),
        "公积金欠缴": yes(p["has_housing_fund_arrears"]),
        "水电气欠费": yes(p["has_utility_arrears"]),
        "水电气欠费金额": "" if p["utility_arrears_amount"] is None else str(p["utility_arrears_amount"]),
        "近12个月水电气账期数": str(len(recent)), "近12个月无欠费账期数": str(clear),
        "水电气按期缴费率": f"{clear / len(recent):.4f}" if recent else "",
        "失信被执行人": yes(p["is_court_debtor"]), "失信黑名单": yes(p["is_on_black_list"]),
        "守信红名单": yes(p["is_on_red_list"]), "惩戒执行中的行政处罚数": str(p["penalty_in_force_count"]),
        "指标日期": night.isoformat(),
    }
    assert {k: row[k] for k in expected} == expected
    print("hand-checked", chosen, {k: row[k] for k in expected})


def _units(conn) -> set[str]:
    return {c for (c,) in conn.execute(
        "select division_code from marts.dim_jurisdiction where is_reporting_unit and division_level <> 'province'")}


def test_the_city_fan_out_is_the_seeds_jurisdictions(targets_exported, conn):
    cities = targets_exported["cities"]
    assert len(cities) == 15 and cities[-1] == "city/130000"
    assert {c.removeprefix("city/") for c in cities[:-1]} == _units(conn)
    for target in cities:
        delivered = targets_exported["deliveries"][target]
        assert delivered.directory == settings.outbox_dir(target, targets_exported["night"].isoformat())
        assert _ledger_rows(conn, target, targets_exported["night"]) == 1
        package = json.loads(delivered.manifest_file.read_text(encoding="utf-8"))
        assert package["target"] == target and package["name"].startswith("city-")


def test_each_city_holds_only_its_subjects_and_the_union_is_the_whole(targets_exported, conn):
    units = _units(conn)
    placed = dict(conn.execute(
        """select subject_id, case when jurisdiction_code = any(%s) then jurisdiction_code else '130000' end
           from marts.dim_subject""", (list(units),)).fetchall())
    facts = {"licences": ("fct_admin_licence", "licence_id"), "penalties": ("fct_admin_penalty", "penalty_id"),
             "lists": ("fct_list_membership", "list_membership_id"), "debtors": ("fct_court_debtor", "court_debtor_id")}
    owner = {name: dict(conn.execute(f"select {key}, subject_id from marts.{fact}").fetchall())
             for name, (fact, key) in facts.items()}
    county_unit = dict(conn.execute(
        "select division_code, reporting_unit_code from marts.dim_jurisdiction where division_level = 'county'"))
    subjects_delivered = 0
    seen: dict[str, list[str]] = {name: [] for name in facts}
    for target in targets_exported["cities"]:
        code = target.removeprefix("city/")
        subjects = _delivered(targets_exported, target, "subjects")
        subjects_delivered += len(subjects)
        for row in subjects:
            if code == "130000":
                assert row["属地代码"] not in units, row
            else:
                assert row["属地代码"] == code, row
                assert not row["区县代码"] or county_unit[row["区县代码"]] == code, row  # 雄安's counties are 1306xx
        for name in facts:
            for row in _delivered(targets_exported, target, name):
                assert placed.get(owner[name][row["记录编号"]], "130000") == code, (target, name, row["记录编号"])
                seen[name].append(row["记录编号"])
    # Nothing lost, nothing twice: the whole of each mart, across the 15 directories.
    assert subjects_delivered == conn.execute("select count(*) from marts.dim_subject").fetchone()[0]
    assert subjects_delivered == sum(
        targets_exported["deliveries"][t].files[0].rows for t in targets_exported["cities"])
    for name in facts:
        assert sorted(seen[name]) == sorted(owner[name]), name
    assert seen["penalties"] and seen["licences"]
    # Every jurisdiction has subjects; the province directory counts those no city holds.
    province = sum(1 for c in placed.values() if c == "130000")
    assert len(_delivered(targets_exported, "city/130000", "subjects")) == province


def test_city_files_carry_the_national_push_down_and_the_marts_states(targets_exported, conn):
    rows = [r for t in targets_exported["cities"] for r in _delivered(targets_exported, t, "licences")]
    pushed = {k for (k,) in conn.execute(
        "select licence_id from marts.fct_admin_licence where source_ids like '%%national_pushdown%%'")}
    assert pushed, "the push-down brought no licence"
    assert {r["记录编号"] for r in rows if r["国家推送"] == "是"} == pushed
    penalties = {r["记录编号"]: r for t in targets_exported["cities"]
                 for r in _delivered(targets_exported, t, "penalties")}
    states = dict(conn.execute("select penalty_id, publicity_status from marts.fct_admin_penalty").fetchall())
    names = {"public": "公示中", "public_under_objection": "公示中（异议）", "expired_archived": "公示期满",
             "repaired": "已修复", "revoked": "已撤销", "corrected": "已更正", "not_published": "不予公示"}
    assert {k: r["公示状态"] for k, r in penalties.items()} == {k: names[v] for k, v in states.items()}


def test_a_city_rerun_is_byte_identical_and_recorded_once(targets_exported, conn):
    from credit_dw.exports.run import export

    night = targets_exported["night"]
    for target in ("city/130100", "city/130000", "lending"):
        directory = settings.outbox_dir(target, night.isoformat())
        before = {p.name: p.read_bytes() for p in directory.iterdir()}
        again = export(target, night)
        assert not again.newly_recorded and {p.name: p.read_bytes() for p in directory.iterdir()} == before
        assert _ledger_rows(conn, target, night) == 1


def test_lending_is_cut_by_the_server_with_the_python_writers_bytes(targets_exported, conn):
    """lending declares queries(): its file is cut by the server (one COPY); the delivered bytes and
    counts are those the Python writer gives for the rows of lending.tables()."""
    from credit_dw.catalog.exports import get_export
    from credit_dw.exports import run
    from credit_dw.exports.targets import lending

    night = targets_exported["night"]
    spec, directory = get_export("lending"), settings.outbox_dir("lending", night.isoformat())
    conn.execute("set time zone 'Asia/Shanghai'")
    produced = lending.tables(conn, night)
    cuts = run._server_cuts(conn, spec, lending, night)  # None would mean the rows went through Python
    assert cuts is not None
    resources = {r["name"]: r for r in json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))[
        "resources"]}
    for file_spec in spec.files:
        rows = [tuple(row[key] for key in file_spec.keys) for row in produced[file_spec.name]]
        assert rows, file_spec.name
        assert (directory / file_spec.file_name(night.isoformat())).read_bytes() == writer.csv_bytes(
            file_spec.headers, rows) == cuts[file_spec.name].payload, file_spec.name
        assert resources[file_spec.name]["rows_by_operation"] == delivery._rows_by_operation(file_spec, rows)


def test_lending_and_city_deliveries_validate_against_their_manifests(targets_exported):
    from frictionless import validate

    for target, delivered in targets_exported["deliveries"].items():
        report = validate(str(delivered.manifest_file))
        assert report.valid, (target, report.flatten(["type", "message"])[:5])
