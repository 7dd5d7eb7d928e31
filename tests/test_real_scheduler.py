"""The nightly cycle under Airflow's real components, not `dag.test()` (issue 15).

A deployment of its own (tests/airflow_services.py: a data directory and embedded PostgreSQL of
its own), as a data engineer would start one after `make setup`: the scheduler (LocalExecutor),
the dag-processor, the api-server (on a free port on 127.0.0.1) and the triggerer as separate
processes; the DAGs folder is the checkout's `dags/`.

Then, as an operator would: the dag-processor loads the three DAGs without import errors, they are
unpaused through the REST API (public API v2, JWT from the simple auth manager's `/auth/token`),
no night is scheduled that nobody asked for, `credit_ingest` is triggered for one simulated night
and the Assets run `credit_transform` and `credit_export` to success.

Then workers beyond one process, on the same deployment and metadata database: the components are
restarted with the CeleryExecutor, Redis as the broker (Debian's `redis-server`, `make redis`) and
two `airflow celery worker` processes (two task slots each), the topology of docker-compose.yml's
`celery` profile. The same night is triggered again: it runs to success, both workers took tasks
of it, and every warehouse table and every export file is byte-identical to the first run's. One
night serves both checks (a rerun is a whole night: every task runs again), which keeps the
module near 10 minutes on 2 cores instead of 15.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from airflow_services import (
    DAG_IDS,
    airflow_running,
    load_and_unpause,
    own_deployment,
    redis_running,
    run_night,
    simulate_and_run,
    table_fingerprints,
)

pytestmark = pytest.mark.integration

#: Several scheduler loops: long enough for the scheduler to create a run it would create at once.
UNREQUESTED_RUN_GRACE_SECONDS = 30
NIGHT = "2025-10-13"  # a Monday
CELERY_WORKERS = 2
#: A Celery worker logs each task message it takes from the queue.
RECEIVED = re.compile(r"Task \S*execute_workload\S*\[[0-9a-f-]+\] received")


@pytest.fixture(scope="module")
def deployment():
    with own_deployment() as dep:
        yield dep


@pytest.fixture(scope="module")
def dags_loaded(deployment):
    with airflow_running(deployment, {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}) as airflow:
        yield load_and_unpause(airflow)


@pytest.fixture(scope="module")
def on_celery(deployment, first_cycle, dags_loaded):
    """The LocalExecutor components stopped; the same deployment under Celery with two workers."""
    dags_loaded.stop()
    executor = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        # Task states back into the metadata database, as the official compose file does.
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + deployment.metadata_url().replace("+psycopg2", ""),
    }
    with redis_running() as broker:
        executor["AIRFLOW__CELERY__BROKER_URL"] = broker
        with airflow_running(deployment, executor, workers=CELERY_WORKERS, name="airflow-celery") as airflow:
            yield load_and_unpause(airflow)


def test_the_dag_processor_loads_the_three_dags(dags_loaded):
    dags = {d["dag_id"]: d for d in dags_loaded.request("GET", "/api/v2/dags?limit=100")["dags"]}
    assert {dag_id: dags[dag_id]["is_paused"] for dag_id in DAG_IDS} == dict.fromkeys(DAG_IDS, False)


def test_no_night_is_scheduled_that_nobody_asked_for(dags_loaded):
    """Unpausing credit_ingest on a fresh deployment does not run the latest 01:30 at once."""
    # A start_date with catchup off made the scheduler create that run within its next loop.
    time.sleep(UNREQUESTED_RUN_GRACE_SECONDS)
    dags_loaded.check_alive()
    assert dags_loaded.runs("credit_ingest") == []
    dag = dags_loaded.request("GET", "/api/v2/dags/credit_ingest")
    assert dag["next_dagrun_run_after"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), dag


@pytest.fixture(scope="module")
def first_cycle(dags_loaded, deployment):
    # After the check that nothing runs unasked (module order), as an operator would go on.
    return simulate_and_run(dags_loaded, deployment, NIGHT)


@pytest.fixture()
def warehouse(deployment):
    import psycopg

    with psycopg.connect(deployment.warehouse_url, autocommit=True) as connection:
        yield connection


def test_a_triggered_night_runs_the_asset_chain_to_success(first_cycle, deployment, warehouse):
    assert [first_cycle[d]["state"] for d in DAG_IDS] == ["success"] * 3
    assert first_cycle["credit_transform"]["run_type"] == "asset_triggered"
    assert first_cycle["credit_export"]["run_type"] == "asset_triggered"
    status = warehouse.execute("select status from meta.load_batches where batch_id = %s",
                               (f"market_registry/{NIGHT}",)).fetchone()
    assert status == ("accepted",)
    package = json.loads((deployment.home / "outbox" / "national" / NIGHT / "datapackage.json").read_text())
    changed = warehouse.execute("select count(*) from marts.dim_subject where last_changed_on = %s",
                                (NIGHT,)).fetchone()[0]
    assert package["logical_date"] == NIGHT
    assert package["resources"][0]["rows"] == changed > 0
    assert (deployment.home / "reports" / "quality" / NIGHT / "index.html").exists()


def test_the_same_night_again_on_two_celery_workers_changes_nothing(on_celery, deployment, warehouse):
    before_tables = table_fingerprints(warehouse)
    before_export = deployment.outbox_bytes(NIGHT)
    runs = run_night(on_celery, NIGHT)
    assert [runs[d]["state"] for d in DAG_IDS] == ["success"] * 3
    taken = {n: len(RECEIVED.findall((on_celery.home / f"worker-{n}.log").read_text(errors="replace")))
             for n in range(1, CELERY_WORKERS + 1)}
    print(f"\ntask messages taken per Celery worker: {taken}")
    assert all(count > 0 for count in taken.values()), taken
    assert table_fingerprints(warehouse) == before_tables
    assert deployment.outbox_bytes(NIGHT) == before_export
    assert any(path.startswith("city/") for path in before_export)


# --- one night at a time through the chain (no Airflow needed) --------------------------------


class _FakeTaskInstance:
    """Answers `get_dr_count` from a script of {dag_id: count} per poll."""

    def __init__(self, polls: list[dict[str, int]]):
        self.polls, self.asked = polls, []

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        self.asked.append((dag_id, tuple(states)))
        poll = self.polls[0] if len(self.asked) % 2 else self.polls.pop(0)
        return poll.get(dag_id, 0)


def test_a_night_waits_while_an_earlier_one_is_transformed_or_exported(warehouse_url):
    from credit_dw.orchestration.one_night import wait_for_nights_in_flight

    ti = _FakeTaskInstance([{"credit_transform": 1}, {"credit_export": 1}, {}])
    slept = []
    wait_for_nights_in_flight({"ti": ti, "dag_run": None}, poll_seconds=30, sleep=slept.append)
    assert slept == [30, 30]
    assert {dag_id for dag_id, _ in ti.asked} == {"credit_transform", "credit_export"}
    assert {states for _, states in ti.asked} == {("queued", "running")}


def test_a_night_stuck_behind_an_earlier_one_fails_after_the_timeout(warehouse_url):
    from credit_dw.orchestration.one_night import wait_for_nights_in_flight

    ti = _FakeTaskInstance([{"credit_transform": 1}] * 10)
    with pytest.raises(RuntimeError, match="earlier night is still in flight"):
        wait_for_nights_in_flight({"ti": ti, "dag_run": None}, poll_seconds=60, timeout_seconds=180,
                                  sleep=lambda _: None)


def test_credit_dw_run_chains_the_nights_itself_and_does_not_wait():
    from types import SimpleNamespace

    from credit_dw.orchestration.one_night import CHAINED_IN_PROCESS, wait_for_nights_in_flight

    ti = _FakeTaskInstance([{"credit_transform": 1}])
    wait_for_nights_in_flight({"ti": ti, "dag_run": SimpleNamespace(conf={CHAINED_IN_PROCESS: True})},
                              sleep=lambda _: pytest.fail("waited"))
    assert ti.asked == []
