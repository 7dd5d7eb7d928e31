"""The night's one `dbt build` under Airflow, with one retry of a transient database error.

`credit_transform` runs Cosmos's watcher mode: a producer task runs one `dbt build` of the project
and every model task reads its model's result from it. Cosmos's producer never retries (an Airflow
retry of it is skipped, so as not to build the project twice), and the staging views have no task
of their own, so a deadlock or a dropped connection in one view would fail the night. This
producer retries such a failure once, inside the same task: it rebuilds the failed nodes and
everything downstream of them (the nodes dbt skipped because of them), with a log line naming
each. Any other failure (a failed test, a bad cast, a contract) is left as it was. The DAG turns
Cosmos's producer into this class (`use_for`).

A run limited to some feeds (`credit-dw run --feed F`: the DAG's `feeds_of(context)` names them)
for the night the marts hold builds only what depends on them (`selection.downstream_of_feeds`;
for another night, the whole project, `selection.marts_built_for`): the producer's build and the
test task select those nodes, and the model tasks of the other nodes are told "skipped" (Cosmos's
own pre-set node state, as for a stale source), so they end skipped, not failed or rebuilt alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from typing import Any

from cosmos.operators.watcher import DbtProducerWatcherOperator

from credit_dw.transform import dbt as transform
from credit_dw.transform import selection

#: The DAG's reader of the feeds a run is limited to (None: every feed).
FeedsOf = Callable[[dict], list[str] | None]

#: dbt flags that choose nodes; the retry replaces them with the failed nodes and their descendants.
_SELECTION_FLAGS = {"--select", "-s", "--models", "-m", "--exclude", "--selector"}


@contextmanager
def _selecting(operator: Any, context: dict, feeds_of: FeedsOf | None):
    """For the block, make `operator` (a dbt operator) select only what the run's feeds feed;
    yields the unique ids left out (empty for a whole night). The operator's own selection comes
    back afterwards: in-process runs (`dag.test()`) reuse the operator for the next night."""
    feeds = feeds_of(context) if feeds_of else None
    if not feeds:
        yield set()
        return
    night = date.fromisoformat(str((operator.env or {}).get("CREDIT_DW_AS_OF_DATE") or context["ds"]))
    if not selection.marts_built_for(night):
        operator.log.info("feeds %s: the marts hold another night than %s; building the whole project as of it",
                          ", ".join(feeds), night)
        yield set()
        return
    chosen = selection.downstream_of_feeds(feeds)
    before = operator.select
    operator.select = selection.dbt_select(chosen)
    operator.log.info("feeds %s: building the %d models and snapshots downstream of them: %s",
                      ", ".join(feeds), len(chosen), " ".join(operator.select))
    try:
        yield selection.built_nodes() - chosen
    finally:
        operator.select = before


class RetryingDbtProducer(DbtProducerWatcherOperator):
    """Cosmos's watcher producer, retrying a build that failed only on transient database errors,
    and building only what the run's feeds feed when the run names some."""

    feeds_of: FeedsOf | None = None

    def execute(self, context: Any, **kwargs: Any) -> Any:
        with _selecting(self, context, self.feeds_of) as left_out:
            for unique_id in sorted(left_out):
                self._push_node_state_xcom(context["ti"], unique_id, "skipped")
            return super().execute(context, **kwargs)

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        callbacks = list(self._dbt_runner_callbacks or [])
        result = super().run_dbt_runner(command, env, cwd, **kwargs)
        if result.success:
            return result
        transient_nodes = transform.transient_failures(result)
        if not transient_nodes:
            return result
        self.log.warning("%s; retrying once", transform.describe_transient(transient_nodes))
        # The first run's callback stays registered by Cosmos; start the retry from the callbacks
        # the first run started with, so every event is reported to the model tasks once.
        self._dbt_runner_callbacks = callbacks
        self._upstream_failure_skipped_ids.clear()
        if transient_nodes[0][0] != "(connection)":
            command = reselect(command, [unique_id for unique_id, _ in transient_nodes])
        result = super().run_dbt_runner(command, env, cwd, **kwargs)
        if result.success:
            self.log.warning("The retry succeeded: %s", ", ".join(uid for uid, _ in transient_nodes))
        else:
            self.log.error("The retry failed too: %s", transform.describe_nodes(transform.failed_nodes(result)))
        return result


def reselect(command: list[str], unique_ids: list[str]) -> list[str]:
    """The same dbt command selecting only the given nodes and their descendants."""
    kept: list[str] = []
    skipping = False
    for token in command:
        if token.split("=", 1)[0] in _SELECTION_FLAGS and "=" in token:
            continue
        if token in _SELECTION_FLAGS:
            skipping = True
            continue
        if skipping and not token.startswith("-"):
            continue
        skipping = False
        kept.append(token)
    selectors = [f"{unique_id.rsplit('.', 1)[-1]}+" for unique_id in unique_ids]
    return [*kept, "--select", *selectors]


def use_for(producer: DbtProducerWatcherOperator, feeds_of: FeedsOf | None = None) -> None:
    """Make the producer Cosmos built for the task group run as `RetryingDbtProducer`.

    Cosmos picks the producer's class from the execution mode and offers no setting for it; the
    subclass adds no state, so changing the instance's class is safe, and the task's type in the
    Airflow UI then says what runs. Its Airflow retries go to 0: the retry is inside, and Cosmos
    turns any later attempt of a producer into "skipped", which would hide a failed night.
    """
    producer.__class__ = RetryingDbtProducer
    producer.retries = 0
    producer.feeds_of = feeds_of


def scope_tests(test_task: Any, feeds_of: FeedsOf) -> None:
    """Make the night's `dbt test` task test only what a run limited to some feeds rebuilt (the
    same selection as the producer's); a whole night tests the whole project, as before."""
    base = type(test_task)

    class FeedScopedDbtTest(base):  # type: ignore[misc, valid-type]
        def execute(self, context: Any, **kwargs: Any) -> Any:
            with _selecting(self, context, feeds_of):
                return super().execute(context, **kwargs)

    FeedScopedDbtTest.__qualname__ = FeedScopedDbtTest.__name__ = f"FeedScoped{base.__name__}"
    test_task.__class__ = FeedScopedDbtTest
