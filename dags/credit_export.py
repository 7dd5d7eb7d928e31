"""
# credit_export

Writes the night's files for downstream platforms from the curated marts, each with a manifest
(row count, sha256, logical date), atomically. Today: the national platform
(全国信用信息共享平台) file of subjects whose registration changed that night, under
`$CREDIT_DW_HOME/outbox/national/<date>/`.

Then writes the daily quality report for the province credit office
(`$CREDIT_DW_HOME/reports/quality/<date>/index.html` plus CSVs): what came in, what was
quarantined and why, per department and city, late / omission / concealment rates, trends.

Scheduled on the `credit_marts_built` Asset.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from credit_dw.config import settings
from credit_dw.orchestration.assets import MARTS_BUILT
from credit_dw.reports.alerts import alert_on_task_failure

DEFAULT_ARGS = {
    "owner": "credit-data-engineering",
    "retries": 2,
    "on_failure_callback": alert_on_task_failure,
    "retry_delay": timedelta(seconds=settings.retry_delay_seconds(120)),
}


@dag(
    dag_id="credit_export",
    schedule=[MARTS_BUILT],
    start_date=pendulum.datetime(2014, 1, 1, tz="Asia/Shanghai"),  # any night may be backfilled
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["credit", "export", "report"],
    doc_md=__doc__,
)
def credit_export():
    @task
    def export_national(**context) -> dict:
        from credit_dw.exports.run import export
        from credit_dw.orchestration import nights

        delivery = export("national", nights.night_of(context))
        return {"directory": str(delivery.directory), "rows": delivery.row_count,
                "files": {f.path: f.sha256 for f in delivery.files}, "newly_recorded": delivery.newly_recorded}

    @task
    def write_quality_report(**context) -> str:
        """The province credit office's morning report for the night (reports/quality/<date>/)."""
        from credit_dw.orchestration import nights
        from credit_dw.reports.quality.page import write_quality_report as write

        return str(write(nights.night_of(context)).index_html)

    export_national() >> write_quality_report()


credit_export()
