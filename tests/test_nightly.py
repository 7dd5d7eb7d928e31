"""The whole night through Airflow (`dag.test()`), against the embedded PostgreSQL.

`credit_ingest` → `credit_transform` (Cosmos) → `credit_export`, as `credit-dw run` does; then the
same night again, which must leave every table with the same rows and the export byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from datetime import date

import pytest
from conftest import natural_person_names

from credit_dw.config import settings
from credit_dw.orchestration import nightly
from credit_dw.simulate import simulate_all
from credit_dw.transform import dbt as transform

pytestmark = pytest.mark.integration

NIGHT = date(2025, 9, 29)  # a Monday; the next night is checked too
NEXT_NIGHT = date(2025, 9, 30)
SCHEMAS = ("raw", "meta", "reference", "staging", "marts")


def _table_fingerprints(conn) -> dict[str, tuple[int, str]]:
    """Row count and a content hash (without load timestamps) of every table in the warehouse."""
    tables = conn.execute(
        """select table_schema || '.' || table_name from information_schema.tables
           where table_schema = any(%s) order by 1""",
        (list(SCHEMAS),),
    ).fetchall()
    volatile = {"_loaded_at", "started_at", "extracted_at", "landed_at", "validated_at", "written_at",
                "attempts", "result"}
    prints = {}
    for (table,) in tables:
        schema, name = table.split(".")
        cols = [c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position", (schema, name)).fetchall() if c not in volatile]
        row_expr = "row(" + ", ".join(f'"{c}"' for c in cols) + ")::text"
        count, digest = conn.execute(
            f"select count(*), coalesce(md5(string_agg({row_expr}, '|' order by {row_expr})), '') from {table}"
        ).fetchone()
        prints[table] = (count, digest)
    return prints


def _export_bytes(night: date) -> dict[str, str]:
    out = settings.outbox_dir("national", night.isoformat())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def first_night(warehouse_url):
    summaries = {s.source_id: s for s in simulate_all(NIGHT, scale=2)}
    results = nightly.run_cycle(NIGHT)
    summary = summaries["market_registry"]
    return summary, results


def test_the_three_dags_succeed_for_a_night(first_night, conn):
    summary, results = first_night
    assert [(r.dag_id, r.state, r.failed_tasks) for r in results] == [
        ("credit_ingest", "success", []),
        ("credit_transform", "success", []),
        ("credit_export", "success", []),
    ]
    received, accepted, quarantined, status = conn.execute(
        "select rows_received, rows_accepted, rows_quarantined, status from meta.load_batches where batch_id = %s",
        (f"market_registry/{NIGHT}",),
    ).fetchone()
    assert status == "accepted"
    assert received == summary.rows_written == accepted + quarantined
    assert quarantined >= sum(v for k, v in summary.defects.items() if k != "fullwidth_or_spaces")


def test_marts_hold_accepted_rows_only_and_the_export_matches(first_night, conn):
    staged = conn.execute(
        "select count(*) from staging.stg_market_registry__subjects where batch_id = %s",
        (f"market_registry/{NIGHT}",),
    ).fetchone()[0]
    accepted = conn.execute(
        "select rows_accepted from meta.load_batches where batch_id = %s", (f"market_registry/{NIGHT}",)
    ).fetchone()[0]
    assert staged == accepted
    leaked = conn.execute(
        """select count(*) from marts.dim_subject d
           join raw.market_registry__subjects r on credit.normalize_code(r.uscc) = d.uscc
           join meta.quarantine q on q.batch_id = r._batch_id and q.row_number = r._row_number
           where d.subject_name = credit.clean_text(r.subject_name) and d.last_batch_id = r._batch_id"""
    ).fetchone()[0]
    assert leaked == 0, "a quarantined row reached dim_subject"

    out = settings.outbox_dir("national", NIGHT.isoformat())
    manifest = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    entry = manifest["resources"][0]
    data = (out / entry["path"]).read_bytes()
    assert manifest["logical_date"] == NIGHT.isoformat()
    assert entry["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (out / "_SUCCESS").exists()
    assert entry["rows"] == data.decode("utf-8").count("\n") - 1
    changed = conn.execute(
        "select count(*) from marts.dim_subject where last_changed_on = %s", (NIGHT,)
    ).fetchone()[0]
    assert entry["rows"] == changed > 0
    assert not list(out.glob(".*.tmp")), "a temporary export file was left behind"


#: Where a natural person's full name may appear downstream: the legal representative of a
#: registered organisation is public registry information (docs/privacy.md).
NAME_ALLOWED_COLUMNS = {"legal_representative"}
SCANNED_SCHEMAS = ("marts", "archive", "quality")


def test_nothing_downstream_carries_a_clear_citizen_id_or_a_persons_full_name(first_night, conn):
    """Every text column of every table in marts, archive and quality, and every file under
    reports/ and outbox/ after a whole night (return notices excepted: a department gets its own
    rows back), holds no valid 18-digit resident ID in clear and no natural person's full name,
    but where docs/privacy.md allows it (NAME_ALLOWED_COLUMNS)."""
    import csv
    import io
    import re

    from stdnum.cn import ric, uscc

    from credit_dw.catalog.exports import load_exports

    names = natural_person_names(conn, [f"%/{NIGHT}", f"%/{NEXT_NIGHT}"])
    assert len(names) > 20

    def clear_ids(value: str) -> list[str]:
        return [t for t in re.findall(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])", value)
                if ric.is_valid(t) and not uscc.is_valid(t)]

    hits, values_scanned = [], 0
    columns = conn.execute(
        """select table_schema, table_name, column_name from information_schema.columns
           where table_schema = any(%s) and data_type in ('text', 'character varying')
           order by 1, 2, 3""", (list(SCANNED_SCHEMAS),)).fetchall()
    assert len({(s, t) for s, t, _ in columns}) > 20
    for schema, table, column in columns:
        query = f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null'
        for (value,) in conn.execute(query):
            values_scanned += 1
            if clear_ids(value):
                hits.append((f"{schema}.{table}.{column}", "resident ID", value))
            if column not in NAME_ALLOWED_COLUMNS and value.strip() in names:
                hits.append((f"{schema}.{table}.{column}", "full name", value))
    files = [p for root in (settings.reports_dir(), settings.home() / "outbox") for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix in (".csv", ".html", ".json") and "returns" not in p.parts]
    assert any(p.suffix == ".html" for p in files) and any("outbox" in p.parts for p in files)
    # The export catalog's declared exceptions (person_names_allowed: the registry's legal representative).
    allowed_headers = {c.header for spec in load_exports() for f in spec.files for c in f.columns
                       if c.key in spec.person_names_allowed}
    for path in files:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        hits += [(str(path), "resident ID", t) for t in clear_ids(text)]
        if path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text)))
            header = rows[0] if rows else []
            cells = [(header[i] if i < len(header) else "", v) for row in rows[1:] for i, v in enumerate(row)]
        else:  # HTML text between tags, JSON strings
            cells = [("", v) for v in re.split(r"[<>\"\n]", text)]
        for column, value in cells:
            values_scanned += 1
            if column not in allowed_headers and value.strip() in names:
                hits.append((str(path), column, value.strip()))
    assert values_scanned > 5000
    assert not hits, hits[:20]


def test_rerunning_the_night_changes_nothing(first_night, conn, warehouse_url):
    """The night again, by `credit-dw run` in a process of its own, and a second cycle started
    while it runs: with --no-wait the second is refused, naming the command's night (the night
    lock); waiting, it runs when the command's night has ended (a one-feed rerun, to keep the suite
    short): both end well, one after the other, and together they change no table and no export
    byte. The command's console stays short, has no colour codes when piped, and names the log file
    that holds the libraries' output."""
    import os
    import subprocess
    import sys
    import time

    from credit_dw.orchestration import run_lock

    before_tables = _table_fingerprints(conn)
    before_export = _export_bytes(NIGHT)
    started = time.monotonic()
    command = subprocess.Popen(
        [sys.executable, "-m", "credit_dw.cli", "run", "--date", NIGHT.isoformat()],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "160"})
    try:
        deadline = time.monotonic() + 120
        while run_lock.holder(conn) is None and command.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run_lock.holder(conn) is not None, "the command never took the night lock"
        with pytest.raises(run_lock.NightInProgress, match=f"credit-dw run --date {NIGHT}"):
            nightly.run_cycle(NIGHT, wait=False)
        # A second cycle started now waits for the command's night, then runs: both end well.
        waited: list[str] = []
        began: list[float] = []  # when the second cycle's first DAG started: the command's night had ended

        def on_stage(dag_id, result) -> None:
            if result is None and not began:
                began.append(time.monotonic())

        second = nightly.run_cycle(NIGHT, feeds=["tax_a_level"], on_wait=waited.append, on_stage=on_stage)
        out, _ = command.communicate(timeout=1200)
        RERUN_SECONDS["full"] = began[0] - started
    finally:
        command.kill()
    assert command.returncode == 0, out
    assert all(r.state == "success" for r in second), second
    assert len(waited) == 1 and f"credit-dw run --date {NIGHT}" in waited[0]

    lines = out.splitlines()
    assert len(lines) < 150, out
    assert "\x1b[" not in out
    assert "Traceback" not in out
    logs = [line for line in lines if line.startswith("full logs (Airflow, dbt, Great Expectations): ")]
    assert len(logs) == 1, out
    log_file = logs[0].split(": ", 1)[1].strip()
    assert log_file.startswith(str(settings.home() / "logs" / NIGHT.isoformat()))
    logged = open(log_file, encoding="utf-8", errors="replace").read()
    assert "credit_transform" in logged and len(logged.splitlines()) > len(lines)

    assert _table_fingerprints(conn) == before_tables
    assert _export_bytes(NIGHT) == before_export
    attempts = conn.execute(
        "select attempts from meta.load_batches where batch_id = %s", (f"market_registry/{NIGHT}",)
    ).fetchone()[0]
    assert attempts == 2  # the first night and the command's rerun; the one-feed cycle read tax_a_level only


def _relations(conn) -> dict[str, tuple[int, str]]:
    """Each dbt model's and snapshot's relation: its oid (a rebuilt table is a new relation) and its
    materialization."""
    import json as _json

    nodes = _json.loads(transform.MANIFEST.read_text(encoding="utf-8"))["nodes"]
    out = {}
    for unique_id, node in nodes.items():
        if node["resource_type"] in ("model", "snapshot"):
            relation = f'"{node["schema"]}"."{node["alias"]}"'
            oid = conn.execute("select to_regclass(%s)::oid", (relation,)).fetchone()[0]
            out[unique_id] = (oid, node["config"]["materialized"])
    return out


def test_a_rerun_of_one_feed_rebuilds_only_what_depends_on_it(first_night, conn):
    """`credit-dw run --date D --feed tax_a_level` (run_cycle with feeds): the feed's batch is read
    again, only the models downstream of it are rebuilt (every other model's relation is the one it
    was), the exports are cut again, and the night is the same night: no table and no export byte
    changes. Prints the time against the whole night's rerun (docs/benchmarks.md, "Rerun")."""
    import time

    from credit_dw.transform import selection

    feed = "tax_a_level"
    rebuilt = selection.downstream_of_feeds([feed])
    before_tables = _table_fingerprints(conn)
    before_export = _export_bytes(NIGHT)
    before_relations = _relations(conn)
    batches = "select source_id, attempts, started_at from meta.load_batches where logical_date = %s order by 1"
    before_batches = conn.execute(batches, (NIGHT,)).fetchall()

    started = time.monotonic()
    results = nightly.run_cycle(NIGHT, feeds=[feed])
    took = time.monotonic() - started

    assert [(r.dag_id, r.state, r.failed_tasks) for r in results] == [
        (dag_id, "success", []) for dag_id in nightly.CYCLE], results
    after_relations = _relations(conn)
    kept = {u for u, (oid, _) in after_relations.items() if before_relations[u][0] == oid}
    assert kept >= set(after_relations) - rebuilt  # nothing outside the selection was touched
    # dbt replaces a table with a new one (a view is replaced in place, an incremental model and
    # the snapshot are merged into): the selection's tables were rebuilt.
    replaced = {u for u in rebuilt if after_relations[u][1] == "table"}
    assert replaced and not (replaced & kept), sorted(replaced & kept)
    assert len(rebuilt) < len(after_relations) / 2
    after_batches = conn.execute(batches, (NIGHT,)).fetchall()
    changed = {b[0] for b in set(after_batches) ^ set(before_batches)}
    assert changed == {feed}
    assert _table_fingerprints(conn) == before_tables
    assert _export_bytes(NIGHT) == before_export
    full = RERUN_SECONDS.get("full")
    print(f"\nrerun of {feed} for {NIGHT}: {took:.0f} s, {len(rebuilt)} of {len(after_relations)} models and "
          f"snapshots rebuilt" + (f"; the whole night's rerun took {full:.0f} s ({took / full:.2f}×)" if full else ""))


#: Wall time of the whole night's rerun (test_rerunning_the_night_changes_nothing), for the one-feed
#: rerun's comparison printed above.
RERUN_SECONDS: dict[str, float] = {}


def test_the_next_night_reads_only_what_changed_since(first_night, conn, monkeypatch):
    """The next night, with one feed failed: the courts' database cannot be reached, so
    court_debtors' extract fails and so does credit_ingest, but the transform and the exports
    still run for what landed, as under the scheduler (credit_raw_landed is emitted once every
    feed is done, whatever their outcome). The night is run for the two feeds the test reads
    (`--feed`: the market registry's watermark and the failing court feed), which keeps the suite
    minutes shorter; the marts hold the night before, so the transform builds the whole project as
    of this night (selection.marts_built_for), and the exports find every mart at this night."""
    simulate_all(NEXT_NIGHT, scale=1)
    monkeypatch.setenv("SOURCE_COURT_DEBTORS_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("CREDIT_DW_RETRY_DELAY_SECONDS", "1")
    results = nightly.run_cycle(NEXT_NIGHT, feeds=["market_registry", "court_debtors"])
    assert [(r.dag_id, r.state) for r in results] == [
        ("credit_ingest", "failed"), ("credit_transform", "success"), ("credit_export", "success")], results
    assert any(t.startswith("ingest_feed.extract") for t in results[0].failed_tasks), results[0]
    statuses = dict(conn.execute("select source_id, status from meta.load_batches where logical_date = %s",
                                 (NEXT_NIGHT,)).fetchall())
    assert statuses.get("court_debtors") != "accepted" and statuses["market_registry"] == "accepted"
    low, high = conn.execute(
        "select watermark_low, watermark_high from meta.load_batches where batch_id = %s",
        (f"market_registry/{NEXT_NIGHT}",),
    ).fetchone()
    first_high = conn.execute(
        "select watermark_high from meta.load_batches where batch_id = %s", (f"market_registry/{NIGHT}",)
    ).fetchone()[0]
    assert low == first_high
    outside = conn.execute(
        """select count(*) from raw.market_registry__subjects where _batch_id = %s
           and not (credit.try_timestamptz(updated_at) > %s and credit.try_timestamptz(updated_at) < %s)""",
        (f"market_registry/{NEXT_NIGHT}", low, high),
    ).fetchone()[0]
    assert outside == 0
    assert (settings.outbox_dir("national", NEXT_NIGHT.isoformat()) / "datapackage.json").exists()


# --------------------------------------------------------------------------------------------
# Transient database errors (issue 22): retried once, naming the model; a second failure fails.


#: The transform runs of the error tests build what a rerun of the penalties feed builds for the
#: night the marts hold (NEXT_NIGHT, after the test above): half the project, the failing views and
#: all they feed. The producer and its retry are the whole night's.
SCOPED_FEEDS = ["admin_penalty"]


@contextmanager
def failing_view_builds(conn, view: str, times: int, message: str = "deadlock detected", errcode: str = "40P01",
                        schema: str = "staging"):
    """Make PostgreSQL itself fail the next `times` statements that create `schema.view` (or its
    `__dbt_tmp`), as a deadlock victim's statement fails; yields a callable counting the failures
    injected so far.

    An event trigger on CREATE VIEW, counting with a sequence (nextval survives the rollback of the
    failed statement's transaction): nothing in the project is changed for the test.
    """
    conn.execute("create sequence if not exists public.test_injected_failures")
    conn.execute("select setval('public.test_injected_failures', 1, false)")
    conn.execute(f"""
        create or replace function public.test_fail_view_builds() returns event_trigger
        language plpgsql as $$
        declare
            injected bigint;
        begin
            if current_query() ~* 'create (or replace )?view "[^"]+"\\."{schema}"\\."{view}(__dbt_tmp)?"' then
                select case when is_called then last_value else 0 end into injected
                from public.test_injected_failures;
                if injected < {times} then
                    perform nextval('public.test_injected_failures');
                    raise exception '{message}' using errcode = '{errcode}',
                        detail = 'injected by tests/test_nightly.py';
                end if;
            end if;
        end $$""")
    conn.execute("""create event trigger test_fail_view_builds on ddl_command_start
                    when tag in ('CREATE VIEW') execute function public.test_fail_view_builds()""")
    try:
        yield lambda: conn.execute(
            "select case when is_called then last_value else 0 end from public.test_injected_failures").fetchone()[0]
    finally:
        conn.execute("drop event trigger if exists test_fail_view_builds")
        conn.execute("drop function if exists public.test_fail_view_builds()")
        conn.execute("drop sequence if exists public.test_injected_failures")


def test_a_persistent_database_error_fails_the_night_naming_the_model(first_night, conn, caplog, monkeypatch):
    # A view only its own model task reads from (every staging view feeds ~30 model tasks, and
    # each would then try its model alone: minutes of fallback runs that prove nothing more here).
    # The model task's own Airflow retries rebuild it alone; not 120 s apart here.
    monkeypatch.setenv("CREDIT_DW_RETRY_DELAY_SECONDS", "1")
    with failing_view_builds(conn, "qa_dual_publicity_timeliness", times=1000, schema="quality"):
        result = nightly.run_dag("credit_transform", NEXT_NIGHT, feeds=SCOPED_FEEDS)
    log = caplog.text  # the task's log records (the producer logs through Airflow's task logger)
    assert result.state == "failed"
    assert {"dbt.dbt_producer_watcher", "dbt.qa_dual_publicity_timeliness_run"} <= set(result.failed_tasks)
    # The night's build is retried once, not again and again.
    assert log.count("transient database error in model qa_dual_publicity_timeliness (deadlock detected") == 1
    assert log.count("The retry failed too: model qa_dual_publicity_timeliness (deadlock detected") == 1
    assert "publish_marts_built" in result.failed_tasks  # nothing announced: no export of this night


def test_a_deadlock_in_a_night_is_retried_once_and_the_night_succeeds(first_night, conn, caplog):
    with failing_view_builds(conn, "stg_admin_penalty__penalties", times=1) as attempts:
        result = nightly.run_dag("credit_transform", NEXT_NIGHT, feeds=SCOPED_FEEDS)
        tried = attempts()
    log = caplog.text  # the task's log records (the producer logs through Airflow's task logger)
    assert (result.state, result.failed_tasks) == ("success", [])
    assert tried == 1
    assert "transient database error in model stg_admin_penalty__penalties (deadlock detected" in log
    assert "The retry succeeded: model.credit_warehouse.stg_admin_penalty__penalties" in log
    # What the failed view held back was rebuilt by the retry: the penalty mart is this night's.
    assert conn.execute("select count(*) from marts.fct_admin_penalty").fetchone()[0] > 0


def test_run_dbt_retries_a_transient_error_once(first_night, conn, caplog):
    caplog.set_level(logging.WARNING, logger="credit_dw.transform")
    with failing_view_builds(conn, "stg_admin_penalty__penalties", times=1,
                             message="could not serialize access due to concurrent update",
                             errcode="40001") as attempts:
        transform.run_dbt(["run", "--select", "stg_admin_penalty__penalties+1"])
        assert attempts() == 1
    assert "transient database error in model stg_admin_penalty__penalties (could not serialize access" in caplog.text
    assert "retrying once" in caplog.text


def test_run_dbt_fails_on_the_second_transient_error_and_never_retries_a_real_one(first_night, conn, caplog):
    caplog.set_level(logging.WARNING, logger="credit_dw.transform")
    with failing_view_builds(conn, "stg_admin_penalty__penalties", times=1000) as attempts:
        with pytest.raises(RuntimeError, match=r"model\.credit_warehouse\.stg_admin_penalty__penalties error: "
                                               r".*deadlock detected"):
            transform.run_dbt(["run", "--select", "stg_admin_penalty__penalties"])
        assert attempts() == 2
    caplog.clear()
    # Not transient (a division by zero is the same on every try): no retry, the error as it is.
    with failing_view_builds(conn, "stg_admin_penalty__penalties", times=1000, message="division by zero",
                             errcode="22012") as attempts:
        with pytest.raises(RuntimeError, match="division by zero"):
            transform.run_dbt(["run", "--select", "stg_admin_penalty__penalties"])
        assert attempts() == 1
    assert "retrying" not in caplog.text
