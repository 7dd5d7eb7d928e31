"""`credit-dw status`, `credit-dw run --feed` and `credit-dw sql`: the morning-after view from the
ledger, a rerun of one feed for one night that leaves the other feeds' batches as they were, and a
read-only query without psql.

A small night is ingested directly (no Airflow): `market_registry` from its simulated department
database and `admin_penalty` from two department files, one of them refused (undecodable bytes).
Logical dates 2025-05-31 to 2025-06-09 belong to this file.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import seed_reference_unless_seeded
from test_file_drop import _inbox, _records, _write_csv
from typer.testing import CliRunner

from credit_dw.cli import app
from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import simulate_market_registry

NIGHT = date(2025, 6, 2)
RERUN_NIGHT = date(2025, 6, 9)
EMPTY_NIGHT = date(2025, 5, 31)
FEEDS = ("market_registry", "admin_penalty")

runner = CliRunner()


def _ingest_small_night(night: date) -> None:
    simulate_market_registry(settings.source_url("market_registry"), night, scale=1, defect_share=0.1)
    inbox = _inbox(night)
    _write_csv(inbox / "hbsamr_ok.csv", _records(night, "ok", 3))
    bad = _write_csv(inbox / "hbjtt_bad.csv", _records(night, "bad", 2))
    lines = bad.read_bytes().split(b"\n")
    lines[2] = lines[2].replace("石家庄".encode(), b"\xff\xfe\x80", 1)  # line 3: neither UTF-8 nor GB18030
    bad.write_bytes(b"\n".join(lines))
    for source_id in FEEDS:
        ingest.ingest(source_id, night)


@pytest.fixture(scope="module")
def small_night(warehouse_url: str) -> date:
    seed_reference_unless_seeded(warehouse_url, "hebei_divisions")
    _ingest_small_night(NIGHT)
    return NIGHT


def _batches(conn, night: date) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in conn.execute(
        """select source_id, status, rows_received, rows_accepted, rows_quarantined, attempts, started_at
           from meta.load_batches where logical_date = %s""", (night,)).fetchall()}


def test_status_shows_the_ledger_counts_and_the_refused_file(small_night, conn):
    result = runner.invoke(app, ["status", "--date", small_night.isoformat()])
    # Feeds of the catalog that were not ingested this night need a run: exit code 1.
    assert result.exit_code == 1, result.output
    out = result.output
    ledger = _batches(conn, small_night)
    lines = {line.split()[1]: line for line in out.splitlines() if len(line.split()) > 1}
    for source_id in FEEDS:
        status, received, accepted, quarantined, _attempts, _started = ledger[source_id]
        row = lines[source_id]
        assert f" {received} " in row and f" {accepted} " in row and f" {quarantined} " in row
        assert "accepted" in row
    assert ledger["market_registry"][3] > 0  # defects were quarantined, and the share is shown
    assert "quarantined)" in lines["market_registry"]
    assert "河北省市场监督管理局" in out or "市场监督" in out  # the department as stored (Chinese)
    # The refused file with its line and reason, on one line (never cut when not on a terminal).
    refused = [line for line in out.splitlines() if "file refused: hbjtt_bad.csv" in line]
    assert len(refused) == 1 and "line 3" in refused[0] and "undecodable bytes at line 3" in refused[0]
    assert f"next: credit-dw run --date {small_night} --feed tax_a_level --feed tax_arrears" in out
    assert "Exports of night" in out


def test_status_json_parses_and_equals_the_ledger(small_night, conn):
    result = runner.invoke(app, ["status", "--date", small_night.isoformat(), "--json", "--no-freshness"])
    assert result.exit_code == 1, result.output
    st = json.loads(result.output)
    ledger = _batches(conn, small_night)
    feeds = {f["source_id"]: f for f in st["feeds"]}
    for source_id in FEEDS:
        status, received, accepted, quarantined, attempts, _started = ledger[source_id]
        f = feeds[source_id]
        assert (f["rows_received"], f["rows_accepted"], f["rows_quarantined"], f["attempts"]) == (
            received, accepted, quarantined, attempts)
        assert f["state"] == "accepted" and f["next"] is None
    assert feeds["admin_penalty"]["files_refused"] == 1
    assert [r["file_name"] for r in st["refused_files"]] == ["hbjtt_bad.csv"]
    assert "tax_arrears" in st["needs_attention"] and "admin_penalty" not in st["needs_attention"]
    assert {e["target"] for e in st["exports"]} >= {"national"}
    assert all(not e["delivered"] for e in st["exports"])


def test_status_limited_to_feeds_needs_no_attention(small_night):
    result = runner.invoke(app, ["status", "--date", small_night.isoformat(), "--no-freshness",
                                 "--feed", "admin_penalty", "--feed", "market_registry"])
    assert result.exit_code == 0, result.output
    assert "no feed needs a rerun" in result.output
    assert "tax_arrears" not in result.output


def test_status_of_a_night_with_nothing_says_so(small_night):
    result = runner.invoke(app, ["status", "--date", EMPTY_NIGHT.isoformat(), "--no-freshness"])
    assert result.exit_code == 2
    assert f"no batch for night {EMPTY_NIGHT}" in result.output


def test_an_unknown_feed_is_refused_with_the_catalog_named(warehouse_url):
    for command in (["status"], ["run", "--date", NIGHT.isoformat()]):
        result = runner.invoke(app, [*command, "--feed", "no_such_feed"])
        assert result.exit_code == 2
        assert "no_such_feed" in result.output and "market_registry" in result.output


@pytest.mark.integration
def test_a_rerun_of_one_feed_leaves_the_other_feeds_batches_untouched(small_night, conn):
    from credit_dw.orchestration import nightly

    _ingest_small_night(RERUN_NIGHT)
    before = _batches(conn, RERUN_NIGHT)
    registry_rows_before = conn.execute(
        "select count(*), md5(string_agg(_row_number::text, ',' order by _row_number)) "
        "from raw.market_registry__subjects where _batch_id = %s", (f"market_registry/{RERUN_NIGHT}",)).fetchone()

    nightly.ensure_airflow_db()
    result = nightly.run_dag("credit_ingest", RERUN_NIGHT, feeds=["admin_penalty"])

    assert (result.state, result.failed_tasks) == ("success", []), result
    after = _batches(conn, RERUN_NIGHT)
    assert after["market_registry"] == before["market_registry"]  # same counts, attempts, started_at
    assert conn.execute(
        "select count(*), md5(string_agg(_row_number::text, ',' order by _row_number)) "
        "from raw.market_registry__subjects where _batch_id = %s",
        (f"market_registry/{RERUN_NIGHT}",)).fetchone() == registry_rows_before
    assert set(after) == set(before)  # no other feed got a batch for the night
    status, received, accepted, quarantined, attempts, started = after["admin_penalty"]
    assert attempts == before["admin_penalty"][4] + 1 and started > before["admin_penalty"][5]
    assert (status, received, accepted, quarantined) == before["admin_penalty"][:4]

    shown = runner.invoke(app, ["status", "--date", RERUN_NIGHT.isoformat(), "--json", "--no-freshness"])
    feeds = {f["source_id"]: f for f in json.loads(shown.output)["feeds"]}
    assert feeds["admin_penalty"]["attempts"] == attempts and feeds["market_registry"]["attempts"] == 1


def test_a_backfill_goes_on_past_a_failed_night_and_lists_it(monkeypatch):
    from credit_dw.orchestration import nightly

    ran = []

    def fake_cycle(night, feeds=None, **_):
        ran.append((night, feeds))
        state = "failed" if night == date(2025, 6, 21) else "success"
        return [nightly.DagRunResult(dag_id, f"run_{night}", state, ["extract[3]"] if state == "failed" else [])
                for dag_id in nightly.CYCLE]

    monkeypatch.setattr(nightly, "run_cycle", fake_cycle)
    result = runner.invoke(app, ["backfill", "--from", "2025-06-20", "--to", "2025-06-22", "--feed", "tax_arrears"])

    assert result.exit_code == 1, result.output
    assert ran == [(date(2025, 6, d), ["tax_arrears"]) for d in (20, 21, 22)]
    assert "night 3 of 3: 2025-06-22" in result.output
    assert "failed nights (1 of 3): 2025-06-21" in result.output


def test_sql_queries_the_warehouse_without_psql_and_never_writes(warehouse_url):
    shown = runner.invoke(app, ["sql", "select n, n * 2 as twice from generate_series(1, 5) n", "--limit", "3"])
    assert shown.exit_code == 0, shown.output
    assert "twice" in shown.output and "3 rows shown, 2 more" in shown.output
    as_csv = runner.invoke(app, ["sql", "select n, 'a,b' as t from generate_series(1, 2) n", "--csv"])
    assert as_csv.output.splitlines() == ["n,t", '1,"a,b"', '2,"a,b"']
    refused = runner.invoke(app, ["sql", "create table meta.should_not_exist (x int)"])
    assert refused.exit_code == 1 and "read-only transaction" in refused.output
    assert runner.invoke(app, ["sql", "select to_regclass('meta.should_not_exist') is null as gone"]).output.count(
        "True") == 1
