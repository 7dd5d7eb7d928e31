"""Exports (issue 20): the framework (catalog, atomic CSV, Data Package manifest, _SUCCESS, the
ledger) on a small declared target, then the real targets cut from a simulated warehouse.

Logical dates: 2031 belong to this file (the framework's synthetic target uses 2031-01-*).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

import pytest

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
    assert {"national", "publicity"} <= set(specs)
    assert [f.name for f in specs["publicity"].files] == ["licences", "penalties", "lists", "removals"]
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
    result = delivery.deliver(SPEC, night, ROWS)
    assert result.newly_recorded and _ledger_rows(conn, SPEC.target, night) == 1
    assert written[-1] == "_SUCCESS" and "datapackage.json" in written
    assert not list(directory.glob(".*.tmp"))
    expected = {f.file_name(night.isoformat()): writer.csv_bytes(f.headers, ROWS[f.name]) for f in SPEC.files}
    assert {name: data for name, data in _snapshot(night).items() if name.endswith(".csv")} == expected
