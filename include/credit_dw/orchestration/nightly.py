"""Run the whole nightly cycle for one logical date through Airflow (`dag.test()`), in-process.

`credit_ingest` → `credit_transform` → `credit_export`, each as a real Airflow DAG run with its
task graph, mapped tasks, retries and Asset events, recorded in Airflow's metadata database
(SQLite under `$AIRFLOW_HOME` locally). Asset scheduling chains the DAGs under a scheduler;
`dag.test()` runs one DAG, so this module chains them itself and stops at the first failed run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from credit_dw.config import airflow_env, settings
from credit_dw.orchestration import nights, one_night

CYCLE = ("credit_ingest", "credit_transform", "credit_export")


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    failed_tasks: list[str]


def ensure_airflow_db() -> None:
    """Create or upgrade Airflow's metadata database (once; `airflow db migrate` is idempotent)."""
    airflow_env.configure(os.environ)
    marker = settings.airflow_home() / ".migrated"
    if marker.exists():
        return
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, env=os.environ.copy())
    marker.write_text("airflow db migrate done\n")


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.DAGS_DIR))
    if bag.import_errors:
        details = "\n".join(f"{path}: {err}" for path, err in bag.import_errors.items())
        raise RuntimeError(f"DAG files failed to import:\n{details}")
    return bag


def _forget_previous_run(dag_id: str, logical: datetime) -> None:
    """Drop Airflow's record of an earlier run of this DAG for the same night.

    `dag.test()` would pick that run up again (Airflow allows one run per DAG and logical date)
    and fails when the DAG changed since. The night's own history stays in `meta.load_batches`
    (`attempts`).
    """
    from airflow import settings as airflow_settings
    from airflow.models.dagrun import DagRun
    from sqlalchemy import delete

    with airflow_settings.Session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == logical))
        session.commit()


def run_dag(dag_id: str, night: date, feeds: list[str] | None = None) -> DagRunResult:
    """One DAG run for the night; `feeds` (credit_ingest only): ingest just those feeds (conf `feeds`)."""
    bag = _dagbag()
    dag = bag.get_dag(dag_id)
    # The run's logical date is the night itself at 01:30 Beijing time; conf names the night so
    # every task (including asset-scheduled DAGs run here directly) agrees on it.
    logical = datetime.combine(night, time(1, 30), tzinfo=ZoneInfo(settings.TIMEZONE))
    _forget_previous_run(dag_id, logical)
    # The cycle is chained here, one DAG after another: credit_ingest has no earlier night in
    # flight to wait for (one_night).
    conf = {"logical_date": night.isoformat(), one_night.CHAINED_IN_PROCESS: True}
    if feeds:
        conf[nights.FEEDS_CONF] = list(feeds)
    dag_run = dag.test(logical_date=logical, run_conf=conf)
    instances = dag_run.get_task_instances()
    failed = sorted(
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
        for ti in instances
        if ti.state in ("failed", "upstream_failed")
    )
    state = str(dag_run.state)
    if not any(ti.state == "success" for ti in instances):
        # Airflow marks a run with nothing to do (e.g. a night before the DAG's start_date) as a
        # success; for a night that was asked for, that is a failure to report.
        state, failed = "failed", ["(no task ran)"]
    return DagRunResult(dag_id, dag_run.run_id, state, failed)


def run_cycle(night: date, feeds: list[str] | None = None) -> list[DagRunResult]:
    """Run ingest, transform and export for the night; stop after a DAG run that failed.

    `feeds`: re-ingest only these catalog feeds (the others' batches of the night stay as they
    are), then transform and export as usual."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.transform import dbt as transform

    airflow_env.configure(os.environ)
    url = embedded_db.ensure_warehouse()
    os.environ.update(settings.dbt_env(url))
    bootstrap(url)
    transform.ensure_manifest()
    ensure_airflow_db()
    results = []
    for dag_id in CYCLE:
        result = run_dag(dag_id, night, feeds if dag_id == "credit_ingest" else None)
        results.append(result)
        if result.state != "success":
            break
    return results
