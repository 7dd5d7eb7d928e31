"""
# credit_transform

Builds the dbt project (`dbt_project/`) once the night's feeds are landed: staging views over
accepted rows, then the contracted marts (`dim_subject`, …; the big facts incremental). Rendered
by astronomer-cosmos from the prebuilt `dbt_project/target/manifest.json`, so parsing this file
never runs dbt.

Cosmos's watcher execution mode: ONE `dbt build` of the project's seeds, models and snapshot (the
`dbt.dbt_producer_watcher` task, dbt's own threads), one light task per intermediate model, mart
and the archive snapshot that reads that node's result from the producer and succeeds or fails with
it (on a retry it runs that model alone; staging views and seeds have no task of their own: a
failure there fails the producer), then ONE `dbt test` of every data and unit test
(`dbt.dbt_project_test`). Two dbt start-ups a night instead of ~7 s per model and per test task
in local mode; the watcher streams every node's events to the model tasks through XCom, so the
~600 tests run outside it, where that per-node cost would dominate (docs/benchmarks.md,
"Transform"). The night being built reaches dbt as the environment variable
`CREDIT_DW_AS_OF_DATE` (macro `as_of_on`).

Scheduled on the `credit_raw_landed` Asset; emits `credit_marts_built` for `credit_export`.

A night ingested for some feeds only (`credit-dw run --date D --feed F`; conf or the Asset event's
extra `feeds`) builds and tests only the models and snapshots downstream of them
(`credit_dw.transform.selection`); the other model tasks end skipped.

Without the manifest (a checkout where `make setup` / `make manifest` has not run) this file still
loads: `credit_transform` is then one task, `manifest_missing`, that fails the night with the
command to run, instead of an import error that hides the DAG and breaks the Asset chain.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from credit_dw.config import settings
from credit_dw.orchestration import nights
from credit_dw.orchestration.assets import MARTS_BUILT, RAW_LANDED
from credit_dw.orchestration.dag_defaults import NIGHTLY, default_args
from credit_dw.transform import dbt as transform_dbt
from credit_dw.transform.producer import scope_tests
from credit_dw.transform.producer import use_for as retry_transient_errors_in

#: Built and tested by the night's two dbt commands without an Airflow task each (dbt selectors).
UNTASKED_NODES = ["path:models/staging", "resource_type:seed"]

DEFAULT_ARGS = default_args(retry_delay_seconds=120)


@dag(
    dag_id="credit_transform",
    schedule=[RAW_LANDED],
    **NIGHTLY,  # any night may be backfilled, no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "transform"],
    doc_md=__doc__,
)
def credit_transform():
    @task
    def resolve_night(**context) -> str:
        from credit_dw.orchestration import nights

        return nights.night_of(context).isoformat()

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=settings.DBT_PROJECT_DIR,
            manifest_path=transform_dbt.MANIFEST,
        ),
        profile_config=ProfileConfig(
            profile_name="credit_warehouse",
            target_name="warehouse",
            profiles_yml_filepath=settings.DBT_PROJECT_DIR / "profiles.yml",
        ),
        # One dbt process for the night (watcher), in this process (dbtRunner: no interpreter
        # start-up either).
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER, invocation_mode=InvocationMode.DBT_RUNNER
        ),
        # AFTER_ALL: the tests in one `dbt test` after the models (watcher mode has no per-model
        # `build` task, and per-model test tasks would each wait on the producer's events).
        # A task per intermediate model, mart and the archive snapshot; the staging views and the
        # seeds are built (and tested) by the same two dbt commands, without tasks of their own
        # (see below): ~24 fewer tasks, each ~0.2 s of Airflow bookkeeping a night.
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_ALL,
            exclude=UNTASKED_NODES,
        ),
        operator_args={
            "install_deps": False,
            # Date-dependent marts are built as of the night (macro as_of_on): an environment
            # variable rather than a dbt var, so a new night does not re-parse the whole project.
            "env": {
                **settings.dbt_env_if_configured(),
                "CREDIT_DW_AS_OF_DATE": "{{ ti.xcom_pull(task_ids='resolve_night') }}",
            },
            # credit_transform announces the night's marts with its own Asset (MARTS_BUILT); an
            # Airflow Asset event per model would be ~25 metadata writes a night nobody schedules on.
            "emit_datasets": False,
        },
        default_args=DEFAULT_ARGS,
    )

    @task(outlets=[MARTS_BUILT], trigger_rule="none_failed")
    def publish_marts_built(night: str, **context) -> str:
        context["outlet_events"][MARTS_BUILT].extra = {"logical_date": night}
        return night

    # The model tasks read their results from the producer's build. Cosmos leaves a task group's
    # first models beside the producer, polling while it runs; put them after it instead, so a
    # model's task never waits for a producer that has not started (`dag.test()` runs one task at
    # a time), and let them report their own model's outcome even when the build as a whole failed.
    producer = dbt.get_child_by_label("dbt_producer_watcher")
    # A deadlock or a lost connection in the night's build is retried once, inside the producer
    # (Cosmos's producer does not retry, and the staging views have no task of their own); a
    # build that still fails fails the night (below), naming the models.
    retry_transient_errors_in(producer, feeds_of=nights.feeds_of)
    # A run limited to some feeds (`credit-dw run --feed F`) builds and tests only what they feed;
    # the other model tasks are told "skipped" by the producer, so the tasks after them still run
    # (none_failed), and the marts are announced when nothing failed.
    scope_tests(dbt.get_child_by_label("dbt_project_test"), feeds_of=nights.feeds_of)
    # Cosmos gives the producer and the test task the render exclusions as dbt `--exclude`; the
    # untasked nodes must still be built and tested, so both run the whole project.
    for whole_project in (producer, dbt.get_child_by_label("dbt_project_test")):
        whole_project.exclude = None
    roots = [first for first in dbt.roots if first is not producer]
    for child in dbt.children.values():
        if child is not producer and child not in roots:
            child.trigger_rule = "none_failed"
    for first in roots:
        producer >> first
        first.trigger_rule = "all_done"

    night = resolve_night()
    published = publish_marts_built(night)
    night >> dbt >> published
    # The marts are announced only when the night's build succeeded: a model task's own retry
    # (which rebuilds that model alone) must not turn a failed build into a published night.
    producer >> published


MANIFEST_MISSING = f"""# credit_transform: the dbt manifest is missing

`{transform_dbt.MANIFEST}` does not exist, so Cosmos cannot render the night's dbt task group
and this DAG is a stand-in whose one task fails the night with this message. Build the manifest
(`dbt parse`, no database needed) from the checkout:

    make manifest

(`make setup` does it too; the image build does it in the Dockerfile). The dag-processor parses
this file again within `[dag_processor] min_file_process_interval` (30 s by default) and the real
DAG replaces this one; then clear the failed `credit_transform` run or trigger the night again.
"""


@dag(
    dag_id="credit_transform",
    schedule=[RAW_LANDED],
    **NIGHTLY,
    default_args={**DEFAULT_ARGS, "retries": 0},
    tags=["credit", "transform"],
    doc_md=MANIFEST_MISSING,
)
def credit_transform_without_manifest():
    @task
    def manifest_missing() -> None:
        raise RuntimeError(
            f"dbt manifest not found at {transform_dbt.MANIFEST}: run `make manifest` in the checkout "
            "(dbt parse, no database needed), then rerun the night"
        )

    manifest_missing()


# Cosmos raises CosmosValueError at parse time when the manifest is missing (before any load mode
# is considered): Airflow would record an import error and hide the DAG.
if transform_dbt.MANIFEST.exists():
    credit_transform()
else:
    credit_transform_without_manifest()
