"""One night at a time through the whole chain, not only within each DAG.

Each DAG has `max_active_runs=1`, so two nights never run the same DAG at once. That is not
enough under a scheduler: the Assets chain three DAGs, so night D+1's `credit_ingest` can land
raw rows while night D's `credit_transform` is building the marts (seen under Airflow's real
components, issue 15), and an asset-scheduled DAG whose run is held back by `max_active_runs`
gets ONE run for every event queued meanwhile: two nights landed during one transform would be
transformed and exported as one (the later; `nights.night_of` takes the latest event), and the
earlier night would have no export of its own.

So `credit_ingest` starts a night only once no `credit_transform` or `credit_export` run is queued
or running (`wait_for_nights_in_flight`, in its first task), and no night started from the command
line holds the warehouse (`run_lock`). Nothing else is needed: the scheduler
creates the asset-triggered run in the same loop that sees the emitting task succeed, before the
emitting DAG's run ends, so the chain shows no gap in which a night looks finished.

`credit-dw run` chains the DAGs itself, one after another, in one process: it says so in the run's
conf (`CHAINED_IN_PROCESS`) and nothing waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

#: The DAGs downstream of `credit_ingest` through the Assets.
DOWNSTREAM_DAGS = ("credit_transform", "credit_export")
IN_FLIGHT_STATES = ["queued", "running"]
#: conf key set by `credit-dw run` (nightly.run_dag): the cycle is chained in-process.
CHAINED_IN_PROCESS = "chained_in_process"

log = logging.getLogger(__name__)


def nights_in_flight(count_runs: Callable[..., int]) -> dict[str, int]:
    """Queued or running runs of each downstream DAG (`count_runs` is the Task SDK's `get_dr_count`)."""
    counts = {dag_id: count_runs(dag_id=dag_id, states=IN_FLIGHT_STATES) for dag_id in DOWNSTREAM_DAGS}
    return {dag_id: n for dag_id, n in counts.items() if n}


def wait_for_nights_in_flight(context: dict[str, Any], *, poll_seconds: float = 30,
                              timeout_seconds: float = 6 * 3600,
                              sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once no earlier night is being transformed or exported; fail after the timeout."""
    dag_run = context.get("dag_run")
    if ((getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}).get(CHAINED_IN_PROCESS):
        return
    from credit_dw.orchestration import run_lock

    run_lock.wait_until_free(poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, sleep=sleep)
    count_runs = context["ti"].get_dr_count
    waited = 0.0
    while busy := nights_in_flight(count_runs):
        if waited >= timeout_seconds:
            raise RuntimeError(
                f"an earlier night is still in flight after {waited / 60:.0f} min ({busy} queued or running): "
                "finish it, or mark its stuck runs failed, then rerun this night")
        log.info("waiting for the earlier night to finish: %s queued or running", busy)
        sleep(poll_seconds)
        waited += poll_seconds
