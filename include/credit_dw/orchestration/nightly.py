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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from credit_dw.config import airflow_env, settings
from credit_dw.orchestration import nights, one_night, run_lock

CYCLE = ("credit_ingest", "credit_transform", "credit_export")
#: The DAGs a run limited to some feeds limits too: ingest reads only those feeds, the transform
#: builds only what they feed. The exports are cut whole (a file holds every feed's records).
FEED_SCOPED = ("credit_ingest", "credit_transform")


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    failed_tasks: list[str]
    #: names of the Assets the run's successful tasks emitted (what schedules the next DAG)
    emitted: tuple[str, ...] = ()


def _schedules_next(previous: DagRunResult, dag) -> bool:
    """Whether the next DAG of the cycle would run after `previous` under a scheduler: it did
    succeed, or it emitted an Asset the next DAG is scheduled on. `credit_ingest` emits
    `credit_raw_landed` once every feed is done, whatever their outcome (trigger rule all_done),
    and fails afterwards when a feed failed: the scheduler then still transforms and exports what
    landed, and so does `credit-dw run` [issue 13: one night, one behaviour]."""
    if previous.state == "success":
        return True
    condition = getattr(dag.timetable, "asset_condition", None)
    scheduled_on = {asset.name for asset in _assets_of(condition)} if condition is not None else set()
    return bool(scheduled_on & set(previous.emitted))


def _assets_of(condition) -> list:
    """The Assets of a DAG's asset condition (a single Asset, or an AssetAll / AssetAny of them)."""
    inner = getattr(condition, "objects", None)
    if inner is None:
        return [condition]
    return [asset for part in inner for asset in _assets_of(part)]


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
    """One DAG run for the night; `feeds` (conf `feeds`): credit_ingest ingests just those feeds,
    credit_transform builds just what depends on them."""
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
    emitted = sorted({
        outlet.name
        for ti in instances if ti.state == "success" and dag.has_task(ti.task_id)
        for outlet in dag.get_task(ti.task_id).outlets if getattr(outlet, "name", None)
    })
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
    return DagRunResult(dag_id, dag_run.run_id, state, failed, tuple(emitted))


def run_cycle(night: date, feeds: list[str] | None = None, *, wait: bool = True,
              on_wait: Callable[[str], None] | None = None,
              on_stage: Callable[[str, DagRunResult | None], None] | None = None) -> list[DagRunResult]:
    """Run ingest, transform and export for the night, each DAG when the scheduler would run it
    (`_schedules_next`): after a failed feed the transform and the exports still run for what
    landed; after a failed transform nothing is exported.

    `feeds`: re-ingest only these catalog feeds (the others' batches of the night stay as they
    are), rebuild only the models downstream of them, then export as usual. The cycle holds the
    warehouse's night lock (`run_lock`): another cycle on the same warehouse waits for it
    (`on_wait` is told whose it is once), or raises `run_lock.NightInProgress` when `wait` is
    False. `on_stage(dag_id, None)` is called as each DAG starts and `on_stage(dag_id, result)` as
    it ends."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.transform import dbt as transform

    airflow_env.configure(os.environ)
    url = embedded_db.ensure_warehouse()
    os.environ.update(settings.dbt_env(url))
    only = f" --feed {' --feed '.join(feeds)}" if feeds else ""
    with run_lock.night_lock(f"credit-dw run --date {night}{only}", url=url, wait=wait, on_wait=on_wait):
        bootstrap(url)
        transform.ensure_manifest()
        ensure_airflow_db()
        results: list[DagRunResult] = []
        bag = _dagbag()
        for dag_id in CYCLE:
            if results and not _schedules_next(results[-1], bag.get_dag(dag_id)):
                break
            if on_stage:
                on_stage(dag_id, None)
            result = run_dag(dag_id, night, feeds if dag_id in FEED_SCOPED else None)
            results.append(result)
            if on_stage:
                on_stage(dag_id, result)
    return results
