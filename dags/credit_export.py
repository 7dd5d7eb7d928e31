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

from airflow.sdk import dag, task

from credit_dw.orchestration.assets import MARTS_BUILT
from credit_dw.orchestration.dag_defaults import NIGHTLY, default_args

DEFAULT_ARGS = default_args(retry_delay_seconds=120)


@dag(
    dag_id="credit_export",
    schedule=[MARTS_BUILT],
    **NIGHTLY,  # any night may be backfilled, no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "export", "report"],
    doc_md=__doc__,
)
def credit_export():
    @task
    def export_national(**context) -> dict:
        from credit_dw.exports.national import export_national as write_national
        from credit_dw.orchestration import nights

        result = write_national(nights.night_of(context))
        return {"file": str(result.data_file), "manifest": str(result.manifest_file),
                "rows": result.row_count, "sha256": result.sha256}

    @task
    def write_quality_report(**context) -> str:
        """The province credit office's morning report for the night (reports/quality/<date>/)."""
        from credit_dw.orchestration import nights
        from credit_dw.reports.quality.page import write_quality_report as write

        return str(write(nights.night_of(context)).index_html)

    export_national() >> write_quality_report()


credit_export()
