"""The gate on real batches: quarantine names check and field, thresholds reject whole batches,
counts are conserved, and a failed extraction does not move the watermark.

Runs the ingest steps directly (no Airflow) against the embedded PostgreSQL; each test owns its
own logical dates so the watermark chain of one does not reach into another.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
import sqlalchemy.exc

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.ingest import ledger
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import simulate_market_registry
from credit_dw.simulate.market_registry import TABLE
from credit_dw.transform import dbt as transform

SOURCE = "market_registry"

# What each injected defect must trip (simulator kind -> gate check, field).
DEFECT_CHECKS = {
    "bad_check_character": ("uscc_check_character", "uscc"),
    "missing_name": ("subject_name_required", "subject_name"),
    "unknown_division": ("division_code_known", "division_code"),
    "future_registration": ("registration_date_sane", "registered_on"),
}


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> str:
    transform.seed_reference()
    return warehouse_url


def _simulate(night: date, **kwargs):
    return simulate_market_registry(settings.source_url(SOURCE), night, **kwargs)


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    rows = conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name",
        (batch_id,),
    ).fetchall()
    return dict(rows)


def test_each_injected_defect_is_quarantined_by_its_check(seeded, conn):
    night = date(2025, 3, 3)
    summary = _simulate(night, scale=2, defect_share=0.1)
    outcome = ingest.ingest(SOURCE, night)

    by_check = _quarantined_by_check(conn, outcome.batch_id)
    for kind, (check, _field) in DEFECT_CHECKS.items():
        assert summary.defects[kind] > 0
        assert by_check.get(check) == summary.defects[kind], (kind, by_check)
    # A duplicated code holds back both rows that carry it: neither name can be trusted.
    assert by_check.get("uscc_one_name") == 2 * summary.defects["duplicate_uscc_other_name"]
    assert outcome.status == "accepted"
    assert outcome.rows_received == summary.rows_written


def test_a_bad_row_names_file_row_check_and_field(seeded, conn):
    night = date(2025, 3, 10)
    _simulate(night, scale=1, defect_share=0.0)
    with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
        src.execute(
            f"""insert into {TABLE} (id, tyshxydm, ztmc, ztlx, fddbr, djjg_xzqh, clrq, djzt, gxsj)
                values (1, '91130102MA0000000X', '测试有限公司', '企业', '张三', '130102',
                        '2020-01-01', '存续', '2025-03-10 23:59:00+08')"""
        )
    try:
        outcome = ingest.ingest(SOURCE, night)
    finally:
        with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
            src.execute(f"delete from {TABLE} where id = 1")

    row = conn.execute(
        """select q.row_number, q.failed_checks, q.failed_fields, q.reasons, r.uscc, b.landing_file
           from meta.quarantine q
           join raw.market_registry__subjects r on r._batch_id = q.batch_id and r._row_number = q.row_number
           join meta.load_batches b on b.batch_id = q.batch_id
           where q.batch_id = %s and r.uscc = '91130102MA0000000X'""",
        (outcome.batch_id,),
    ).fetchone()
    assert row is not None, "the bad row is not in quarantine"
    row_number, checks, fields, reasons, uscc, landing_file = row
    assert checks == ["uscc_check_character"]
    assert fields == ["uscc"]
    assert "GB 32100" in reasons
    # The row number points at the same line of the landed file (header is line 1).
    with open(landing_file, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert "91130102MA0000000X" in lines[row_number]
    # Every other row passed: a clean simulated night plus one bad row.
    assert outcome.rows_quarantined == 1


def test_fullwidth_and_padded_codes_are_accepted(seeded, conn):
    night = date(2025, 3, 17)
    summary = _simulate(night, scale=5, defect_share=0.0)
    assert summary.defects["fullwidth_or_spaces"] > 0
    outcome = ingest.ingest(SOURCE, night)
    reshaped, held = conn.execute(
        """select count(*), count(*) filter (where exists (
                  select 1 from meta.quarantine q where q.batch_id = r._batch_id and q.row_number = r._row_number))
           from raw.market_registry__subjects r where r._batch_id = %s and r.uscc !~ '^[0-9A-Z]{18}$'""",
        (outcome.batch_id,),
    ).fetchone()
    assert reshaped == summary.defects["fullwidth_or_spaces"]
    assert held == 0


def test_counts_are_conserved_for_every_batch(seeded, conn):
    night = date(2025, 3, 24)
    _simulate(night, scale=1)
    ingest.ingest(SOURCE, night)
    batches = conn.execute(
        "select batch_id, rows_received, rows_accepted, rows_quarantined from meta.load_batches "
        "where status in ('accepted', 'rejected') and source_id = 'market_registry'"
    ).fetchall()
    assert batches
    for batch_id, received, accepted, quarantined in batches:
        landed = conn.execute(
            "select count(*) from raw.market_registry__subjects where _batch_id = %s", (batch_id,)
        ).fetchone()[0]
        held = conn.execute(
            "select count(*) from meta.quarantine where batch_id = %s", (batch_id,)
        ).fetchone()[0]
        assert received == landed == accepted + quarantined, batch_id
        assert quarantined == held, batch_id


def test_batch_over_threshold_is_rejected_whole_and_never_reaches_marts(seeded, conn, monkeypatch):
    night = date(2025, 4, 7)
    _simulate(night, scale=2, defect_share=0.1)
    monkeypatch.setenv("CREDIT_DW_REJECT_SHARE", "0.05")
    outcome = ingest.ingest(SOURCE, night)
    assert outcome.status == "rejected"
    assert outcome.rows_accepted == 0
    assert outcome.rows_quarantined == outcome.rows_received > 0
    batch = ledger.batch_row(outcome.batch_id)
    assert batch["status"] == "rejected" and "threshold 5%" in batch["message"]
    rejected_rows = conn.execute(
        "select count(*) from meta.row_issues where batch_id = %s and check_name = 'batch_rejected'",
        (outcome.batch_id,),
    ).fetchone()[0]
    assert rejected_rows == outcome.rows_received

    # dim_subject reads every feed's staging view: their raw tables must exist (empty is fine).
    from credit_dw.catalog import load_catalog
    from credit_dw.ingest.landing import ensure_raw_table

    for spec in load_catalog():
        ensure_raw_table(spec)
    transform.run_dbt(["run", "--select", "+dim_subject"])
    leaked = conn.execute(
        "select count(*) from marts.dim_subject where last_batch_id = %s", (outcome.batch_id,)
    ).fetchone()[0]
    staged = conn.execute(
        "select count(*) from staging.stg_market_registry__subjects where batch_id = %s", (outcome.batch_id,)
    ).fetchone()[0]
    assert leaked == 0 and staged == 0


def test_failed_extraction_keeps_the_watermark(seeded, conn, monkeypatch):
    first, failed, retry = date(2025, 5, 5), date(2025, 5, 6), date(2025, 5, 7)
    for night in (first, failed, retry):
        _simulate(night, scale=1)
    ingest.ingest(SOURCE, first)

    monkeypatch.setenv("SOURCE_MARKET_REGISTRY_URL", "postgresql://nobody@127.0.0.1:1/unreachable")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="127.0.0.1"):
        ingest.extract(SOURCE, failed)
    batch = ledger.batch_row(ledger.batch_id_for(SOURCE, failed))
    assert batch["status"] == "failed" and "extract failed" in batch["message"]
    monkeypatch.delenv("SOURCE_MARKET_REGISTRY_URL")

    # The next night reads from where the last settled night stopped: the failed night's rows too.
    outcome = ingest.ingest(SOURCE, retry)
    retry_batch = ledger.batch_row(outcome.batch_id)
    assert retry_batch["watermark_low"] == ledger.batch_row(ledger.batch_id_for(SOURCE, first))["watermark_high"]
    nights = conn.execute(
        """select distinct (credit.try_timestamptz(updated_at) at time zone 'Asia/Shanghai')::date
           from raw.market_registry__subjects where _batch_id = %s order by 1""",
        (outcome.batch_id,),
    ).fetchall()
    assert [n[0] for n in nights] == [failed, retry]


def test_suite_files_are_valid_for_every_catalog_source():
    from credit_dw.catalog import load_catalog
    from credit_dw.ingest.gate import load_suite_definition

    for spec in load_catalog():
        definition = load_suite_definition(get_source(spec.source_id))
        assert definition["expectations"], spec.source_id


def test_a_check_whose_sql_fails_stops_the_gate(seeded, monkeypatch, tmp_path):
    """A broken query must fail the batch loudly, never count as '0 unexpected rows'."""
    import json

    from credit_dw.ingest import gate

    night = date(2025, 5, 19)
    _simulate(night, scale=1)
    ingest.extract(SOURCE, night)
    ingest.land(SOURCE, night)
    spec = get_source(SOURCE)
    broken = json.loads(gate.suite_path(spec).read_text(encoding="utf-8"))
    broken["expectations"][0]["kwargs"]["unexpected_rows_query"] = (
        "select _row_number from {batch} where no_such_column is null"
    )
    suite_file = tmp_path / "market_registry.json"
    suite_file.write_text(json.dumps(broken), encoding="utf-8")
    monkeypatch.setattr(settings, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="could not run"):
        ingest.validate(SOURCE, night)
    assert ledger.batch_row(ledger.batch_id_for(SOURCE, night))["status"] == "failed"

    # With the real suite the same batch validates: the night settles (and no later night of
    # another test reads its rows again as a catch-up).
    monkeypatch.undo()
    assert ingest.validate(SOURCE, night).status == "accepted"
