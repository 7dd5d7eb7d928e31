"""DAG integrity: the `dags/` folder parses into the three nightly DAGs and the backup DAG with the conventions of
`shared/style.md` (owner, approved tags, retries, docs, no catchup, explicit schedule) and the
task graphs and Asset links the nightly cycle relies on.

Parse only: no warehouse, no Airflow metadata database, no DAG runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from credit_dw.config import settings
from credit_dw.orchestration.assets import FEED_LANDED, MARTS_BUILT, RAW_LANDED

APPROVED_TAGS = {"credit", "ingest", "transform", "export", "quality", "report", "backup", "audit"}

REPO = Path(__file__).resolve().parents[1]
DAG_IDS = {"credit_ingest", "credit_transform", "credit_export", "credit_backup", "credit_audit", "credit_scorecard"}
UNREACHABLE_WAREHOUSE = "postgresql://nobody@127.0.0.1:1/none"


@pytest.fixture(scope="module")
def manifest() -> dict:
    """The dbt manifest Cosmos renders `credit_transform` from, (re)built by `dbt parse` if stale."""
    from credit_dw.transform import dbt as transform

    saved = dict(os.environ)
    try:
        # `dbt parse` never connects, but `transform.run_dbt` derives the profile's variables from
        # the warehouse URL and raises when none is configured (fresh test home, no WAREHOUSE_URL).
        # Give it an unreachable one; the environment is restored afterwards.
        if not os.environ.get("WAREHOUSE_URL"):
            os.environ["WAREHOUSE_URL"] = UNREACHABLE_WAREHOUSE
        path = transform.ensure_manifest()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dagbag(manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.DAGS_DIR))


@pytest.fixture(scope="module")
def dags(dagbag) -> dict:
    # `dagbag.dags`, not `get_dag()`: the latter reads Airflow's metadata database.
    return dagbag.dags


def _import_errors(errors: dict) -> str:
    return "\n".join(f"{path}:\n{err}" for path, err in errors.items())


def _assets(condition) -> set[tuple[str, str]]:
    """(name, uri) of every Asset in a schedule's asset condition (AssetAll/AssetAny nest)."""
    if hasattr(condition, "objects"):
        return set().union(*(_assets(obj) for obj in condition.objects))
    return {(condition.name, condition.uri)}


def _key(asset) -> tuple[str, str]:
    return (asset.name, getattr(asset, "uri", "alias"))


def _asset_schedule(dag) -> set[tuple[str, str]]:
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    assert isinstance(dag.timetable, AssetTriggeredTimetable), f"{dag.dag_id} is not asset-scheduled: {dag.timetable!r}"
    return _assets(dag.timetable.asset_condition)


def _is_mapped(task) -> bool:
    """Mapped itself (MappedOperator) or inside a mapped task group (`.expand()` on a group)."""
    return bool(getattr(task, "is_mapped", False)) or task.get_closest_mapped_task_group() is not None


# --- the bag ----------------------------------------------------------------------------------


def test_dagbag_imports_without_errors(dagbag):
    assert not dagbag.import_errors, "DAG import errors:\n" + _import_errors(dagbag.import_errors)


def test_dagbag_holds_exactly_the_four_dags(dagbag):
    assert set(dagbag.dag_ids) == DAG_IDS


def test_one_dag_per_file_named_after_its_dag_id(dags):
    files = Counter(Path(dag.fileloc).resolve() for dag in dags.values())
    assert all(n == 1 for n in files.values()), f"files defining several DAGs: {files}"
    for dag_id, dag in dags.items():
        assert Path(dag.fileloc).resolve() == settings.DAGS_DIR / f"{dag_id}.py", (dag_id, dag.fileloc)
    dag_files = {p.resolve() for p in settings.DAGS_DIR.glob("*.py") if not p.name.startswith("_")}
    assert dag_files == set(files), f"DAG files without a DAG: {sorted(dag_files - set(files))}"


# --- conventions (shared/style.md) ------------------------------------------------------------


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_dag_conventions(dags, dag_id):
    from airflow.sdk.definitions.timetables.simple import NullTimetable

    dag = dags[dag_id]
    assert dag.doc_md and dag.doc_md.strip(), f"{dag_id} has no doc_md"
    assert dag.catchup is False, f"{dag_id} has catchup on"
    assert dag.schedule is not None and not isinstance(dag.timetable, NullTimetable), (
        f"{dag_id} has no explicit schedule"
    )
    assert dag.tags, f"{dag_id} has no tags"
    assert set(dag.tags) <= APPROVED_TAGS, f"{dag_id} has unapproved tags {set(dag.tags) - APPROVED_TAGS}"


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_every_task_has_an_owner_and_retries(dags, dag_id):
    tasks = dags[dag_id].tasks
    assert tasks
    no_owner = [t.task_id for t in tasks if not t.owner or t.owner.strip().lower() == "airflow"]
    # The night's dbt build retries a transient error inside its task (issue 22); Cosmos would
    # skip an Airflow retry of it, hiding the failure (test_transform_build_retries_inside).
    few_retries = {t.task_id: t.retries for t in tasks if (t.retries or 0) < 2
                   and t.task_id != "dbt.dbt_producer_watcher"}
    assert not no_owner, f"{dag_id}: tasks without a real owner: {no_owner}"
    assert not few_retries, f"{dag_id}: tasks with retries < 2: {few_retries}"


# --- credit_ingest ----------------------------------------------------------------------------

FEED_STEPS = ("extract", "land", "validate", "return_to_sender")
FEED_GROUPS = ("ingest_registering_feed", "ingest_feed")
INGEST_TASKS = {
    "prepare_warehouse",
    "list_registering_sources",
    "list_other_sources",
    *(f"{group}.{step}" for group in FEED_GROUPS for step in FEED_STEPS),
    "publish_raw_landed",
    "fail_if_any_feed_failed",
}


def test_ingest_task_graph(dags):
    dag = dags["credit_ingest"]
    assert set(dag.task_ids) == INGEST_TASKS
    t = dag.task_dict

    feed_tasks = set()
    for group in FEED_GROUPS:
        assert t[f"{group}.land"].task_id in t[f"{group}.extract"].downstream_task_ids
        assert t[f"{group}.validate"].task_id in t[f"{group}.land"].downstream_task_ids
        assert t[f"{group}.return_to_sender"].task_id in t[f"{group}.validate"].downstream_task_ids
        # A feed whose every file was refused fails before validation; its notices still go out.
        assert t[f"{group}.return_to_sender"].trigger_rule == "all_done"
        feed_tasks |= {f"{group}.{step}" for step in FEED_STEPS}
        # Each feed's validate emits the feed's own Asset through the alias.
        assert [getattr(o, "name", None) for o in t[f"{group}.validate"].outlets] == [FEED_LANDED.name]
    for task_id in feed_tasks:
        assert _is_mapped(t[task_id]), f"{task_id} is not mapped over the catalog's feeds"
    for task_id in INGEST_TASKS - feed_tasks:
        assert not _is_mapped(t[task_id]), f"{task_id} should run once per night"

    # The registering feeds (the market registry) finish before any other feed starts, whatever
    # their outcome, so every gate sees the night's registrations (reruns warn alike).
    others = t["list_other_sources"]
    assert others.trigger_rule == "all_done"
    assert "ingest_registering_feed.return_to_sender" in others.upstream_task_ids
    assert "list_other_sources" in t["ingest_feed.extract"].upstream_task_ids
    # The two lists split the catalog: every feed once, the registry in the first.
    from credit_dw.catalog import ingest_order, non_registering_source_ids, registering_source_ids, source_ids

    assert registering_source_ids() == ["market_registry"]
    assert ingest_order() == registering_source_ids() + non_registering_source_ids()
    assert sorted(ingest_order()) == sorted(source_ids())

    publish = t["publish_raw_landed"]
    assert publish.trigger_rule == "all_done"
    assert [_key(a) for a in publish.outlets] == [_key(RAW_LANDED)]
    # Publishes once every feed is through, whatever the outcome.
    assert {f"{group}.return_to_sender" for group in FEED_GROUPS} <= publish.upstream_task_ids
    assert "fail_if_any_feed_failed" in publish.downstream_task_ids


def test_ingest_runs_nightly_at_0130_beijing(dags):
    from airflow.sdk import CronTriggerTimetable

    dag = dags["credit_ingest"]
    assert isinstance(dag.timetable, CronTriggerTimetable), repr(dag.timetable)
    assert dag.schedule.expression == "30 1 * * *"
    assert dag.timezone.name == settings.TIMEZONE


@pytest.mark.parametrize("now_utc", ["2026-12-07T17:44:00+00:00", "2026-12-07T09:00:00+00:00"])
def test_ingest_schedules_no_night_when_first_seen(dags, monkeypatch, now_utc):
    """A scheduler that sees the DAG for the first time (or after it is unpaused) waits for the next
    01:30; it does not run the most recent one at once, a night nobody asked for (issue 15) - also
    when it is first seen 14 minutes after an 01:30 (17:44 UTC), where Airflow's default
    (run_immediately=False) takes the past 01:30."""
    from datetime import datetime

    import airflow.timetables.trigger as trigger
    from airflow.serialization.serialized_objects import DagSerialization

    now = datetime.fromisoformat(now_utc)
    monkeypatch.setattr(trigger, "utcnow", lambda: now)
    dag = dags["credit_ingest"]
    assert dag.start_date is None, "a start_date makes catchup=False still run the latest 01:30 at once"
    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    first = serialized.next_dagrun_info(last_automated_run_info=None)
    assert first is not None and first.run_after > now, first


# --- credit_transform -------------------------------------------------------------------------


def test_transform_without_a_manifest_is_a_stand_in_saying_what_to_run(monkeypatch, tmp_path):
    """No manifest (a checkout before `make setup`): the file still loads, as a one-task DAG whose
    doc and task failure name `make manifest`, not Cosmos's CosmosValueError as an import error."""
    from airflow.dag_processing.dagbag import DagBag

    from credit_dw.transform import dbt as transform

    monkeypatch.setattr(transform, "MANIFEST", tmp_path / "target" / "manifest.json")
    bag = DagBag(dag_folder=str(settings.DAGS_DIR / "credit_transform.py"))
    assert not bag.import_errors, _import_errors(bag.import_errors)
    dag = bag.dags["credit_transform"]
    assert dag.task_ids == ["manifest_missing"]
    assert "make manifest" in dag.doc_md and str(tmp_path) in dag.doc_md
    assert _asset_schedule(dag) == {_key(RAW_LANDED)}
    assert not dag.task_dict["manifest_missing"].outlets, "a missing manifest must not announce marts"
    with pytest.raises(RuntimeError, match="run `make manifest`"):
        dag.task_dict["manifest_missing"].python_callable()



def test_transform_is_scheduled_on_raw_landed(dags):
    assert _asset_schedule(dags["credit_transform"]) == {_key(RAW_LANDED)}


def test_transform_has_a_task_for_every_model_past_staging(dags, manifest):
    """Intermediate models, marts and the archive snapshot each have a task; staging views and seeds
    are built by the producer's one `dbt build` and tested by the one `dbt test`, which run the whole
    project (no --exclude), so a night never skips them."""
    project = manifest["metadata"]["project_name"]
    nodes = [n for n in manifest["nodes"].values() if n["package_name"] == project]
    models = {n["name"] for n in nodes if n["resource_type"] == "model" and "staging" not in n["fqn"]}
    staging = {n["name"] for n in nodes if n["resource_type"] == "model" and "staging" in n["fqn"]}
    snapshots = {n["name"] for n in nodes if n["resource_type"] == "snapshot"}
    assert {"dim_subject", "prf_subject_credit_grade"} <= models and "stg_market_registry__subjects" in staging
    dag = dags["credit_transform"]
    task_ids = set(dag.task_ids)
    # `dbt.<model>.run` (a task group per model and its tests) or `dbt.<model>_run` (tests after all).
    missing = {m for m in models if not {f"dbt.{m}.run", f"dbt.{m}_run"} & task_ids}
    missing |= {s for s in snapshots if f"dbt.{s}_snapshot" not in task_ids}
    assert not missing, f"dbt models without a task: {sorted(missing)}"
    assert not {m for m in staging if f"dbt.{m}_run" in task_ids}
    producer, tests = dag.task_dict["dbt.dbt_producer_watcher"], dag.task_dict["dbt.dbt_project_test"]
    assert not producer.exclude and not producer.select and not tests.exclude and not tests.select
    assert producer.env["CREDIT_DW_AS_OF_DATE"] == tests.env["CREDIT_DW_AS_OF_DATE"] == (
        "{{ ti.xcom_pull(task_ids='resolve_night') }}")


def test_transform_build_retries_inside_and_its_failure_fails_the_night(dags):
    from credit_dw.transform.producer import RetryingDbtProducer

    dag = dags["credit_transform"]
    producer = dag.task_dict["dbt.dbt_producer_watcher"]
    assert isinstance(producer, RetryingDbtProducer)
    assert producer.retries == 0
    assert "publish_marts_built" in producer.downstream_task_ids


def test_transform_ends_with_publish_marts_built(dags):
    dag = dags["credit_transform"]
    publish = dag.task_dict["publish_marts_built"]
    assert [_key(a) for a in publish.outlets] == [_key(MARTS_BUILT)]
    assert not publish.downstream_task_ids
    dbt_tasks = {task_id for task_id in dag.task_ids if task_id.startswith("dbt.")}
    assert dbt_tasks
    not_before = dbt_tasks - publish.get_flat_relative_ids(upstream=True)
    assert not not_before, f"dbt tasks not upstream of publish_marts_built: {sorted(not_before)}"


# --- credit_export ----------------------------------------------------------------------------


def test_export_is_scheduled_on_marts_built(dags):
    dag = dags["credit_export"]
    assert _asset_schedule(dag) == {_key(MARTS_BUILT)}
    # One mapped task per target of the export catalog; targets and the quality report are
    # independent of each other, so one failing blocks none of the others.
    export = dag.task_dict["export_target"]
    assert export.is_mapped and not export.downstream_task_ids
    assert "list_export_targets" in export.upstream_task_ids
    assert "export_target" not in dag.task_dict["write_quality_report"].get_flat_relative_ids(upstream=True)


def test_assets_chain_the_three_dags(dags):
    """What one DAG emits is what the next is scheduled on."""
    outlets = {dag_id: {_key(a) for task in dag.tasks for a in task.outlets} for dag_id, dag in dags.items()}
    # Besides the per-feed alias, ingest emits exactly what transform waits for.
    assert outlets["credit_ingest"] - {_key(FEED_LANDED)} == _asset_schedule(dags["credit_transform"])
    assert outlets["credit_transform"] == _asset_schedule(dags["credit_export"])


# --- credit_backup ----------------------------------------------------------------------------


def test_backup_runs_daily_at_0500_with_its_restore_drill_after(dags):
    """A backup a day after the night's export, the drill restoring it after; no night caught up."""
    dag = dags["credit_backup"]
    assert dag.schedule == "0 5 * * *"
    assert dag.start_date is None and dag.catchup is False
    assert dag.task_dict["take_backup"].downstream_task_ids == {"restore_drill"}


# --- credit_audit -----------------------------------------------------------------------------


@pytest.mark.parametrize("now_utc", ["2026-11-30T22:30:00+00:00", "2026-12-01T09:00:00+00:00"])
def test_audit_runs_on_the_1st_at_0600_and_never_when_first_seen(dags, monkeypatch, now_utc):
    """The month's report on the 1st at 06:00 Beijing time (22:00 UTC the day before); a scheduler
    that first sees the DAG half an hour or a few hours later waits for the next 1st."""
    from datetime import datetime

    import airflow.timetables.trigger as trigger
    from airflow.sdk import CronTriggerTimetable
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dags["credit_audit"]
    assert isinstance(dag.timetable, CronTriggerTimetable) and dag.schedule.expression == "0 6 1 * *"
    assert dag.start_date is None and dag.catchup is False
    now = datetime.fromisoformat(now_utc)
    monkeypatch.setattr(trigger, "utcnow", lambda: now)
    first = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).next_dagrun_info(
        last_automated_run_info=None)
    assert first is not None and first.run_after > now and first.run_after.day in (31, 1), first


def test_the_monthly_run_writes_the_audit_report_and_the_offices_notice(dags):
    assert set(dags["credit_audit"].task_ids) == {"write_report", "write_monthly_notice"}


def test_the_scorecard_runs_monthly_after_the_audit_and_writes_the_scorecard(dags):
    dag = dags["credit_scorecard"]
    assert dag.schedule.expression == "30 6 1 * *" and dag.start_date is None and dag.catchup is False
    assert set(dag.task_ids) == {"write_scorecard"}


def test_the_audit_run_on_the_1st_reports_the_month_before():
    from datetime import date, datetime
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from credit_dw.orchestration.nights import month_of

    first_of_december = datetime(2026, 12, 1, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert month_of({"logical_date": first_of_december, "dag_run": None}) == date(2026, 11, 1)
    assert month_of({"logical_date": datetime(2027, 1, 1, 6, tzinfo=ZoneInfo("Asia/Shanghai"))}) == date(2026, 12, 1)
    assert month_of({"dag_run": SimpleNamespace(conf={"month": "2026-07"})}) == date(2026, 7, 1)


# --- parse-time hygiene -----------------------------------------------------------------------

_LOAD_IN_FRESH_PROCESS = textwrap.dedent(
    """
    import json, os, socket, time

    from credit_dw.config import airflow_env
    from credit_dw.config import settings

    airflow_env.configure(os.environ)

    connects = []
    _connect = socket.socket.connect

    def _recording_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            connects.append(repr(address))
        return _connect(sock, address)

    socket.socket.connect = _recording_connect

    start = time.monotonic()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_DIR))
    print(json.dumps({
        "seconds": time.monotonic() - start,
        "dag_ids": sorted(bag.dag_ids),
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "connects": connects,
    }))
    """
)


@pytest.mark.parametrize(
    "warehouse_url",
    [UNREACHABLE_WAREHOUSE, None],
    ids=["unreachable-warehouse", "embedded-never-started"],
)
def test_parsing_dags_does_not_touch_a_database(manifest, tmp_path, warehouse_url):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CREDIT_DW_", "SOURCE_", "DBT_")) and k != "WAREHOUSE_URL"
    }
    env["CREDIT_DW_HOME"] = str(home)
    if warehouse_url:
        env["WAREHOUSE_URL"] = warehouse_url
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_IN_FRESH_PROCESS],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"loading the DagBag did not finish in {exc.timeout} s (hung on a connection?)")
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["import_errors"], "DAG import errors:\n" + _import_errors(result["import_errors"])
    assert set(result["dag_ids"]) == DAG_IDS
    assert not result["connects"], f"parsing opened network connections: {result['connects']}"
    assert not (home / "pg").exists(), "parsing started the embedded PostgreSQL"
