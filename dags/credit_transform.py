"""
# credit_transform

Builds the dbt project (`dbt_project/`) once the night's feeds are landed: staging views over
accepted rows, then the contracted marts (`dim_subject`, …). Rendered by astronomer-cosmos from the
prebuilt `dbt_project/target/manifest.json`, so parsing this file never runs dbt.

Scheduled on the `credit_raw_landed` Asset; emits `credit_marts_built` for `credit_export`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode

from credit_dw import settings
from credit_dw.alerts import alert_on_task_failure
from credit_dw.assets import MARTS_BUILT, RAW_LANDED

DEFAULT_ARGS = {
    "owner": "credit-data-engineering",
    "retries": 2,
    "on_failure_callback": alert_on_task_failure,
    "retry_delay": timedelta(seconds=settings.retry_delay_seconds(120)),
}


@dag(
    dag_id="credit_transform",
    schedule=[RAW_LANDED],
    start_date=pendulum.datetime(2014, 1, 1, tz="Asia/Shanghai"),  # any night may be backfilled
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["credit", "transform"],
    doc_md=__doc__,
)
def credit_transform():
    @task
    def resolve_night(**context) -> str:
        from credit_dw import nights

        return nights.night_of(context).isoformat()

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=settings.DBT_PROJECT_DIR,
            manifest_path=settings.DBT_PROJECT_DIR / "target" / "manifest.json",
        ),
        profile_config=ProfileConfig(
            profile_name="credit_warehouse",
            target_name="warehouse",
            profiles_yml_filepath=settings.DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
        ),
        # Tests spanning two models (relationships) run after both, not inside the seed's test task.
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, should_detach_multiple_parents_tests=True),
        operator_args={"install_deps": False, "env": settings.dbt_env_if_configured()},
        default_args=DEFAULT_ARGS,
    )

    @task(outlets=[MARTS_BUILT])
    def publish_marts_built(night: str, **context) -> str:
        context["outlet_events"][MARTS_BUILT].extra = {"logical_date": night}
        return night

    night = resolve_night()
    night >> dbt >> publish_marts_built(night)


credit_transform()
