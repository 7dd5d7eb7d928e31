"""
# credit_scorecard

The province's monthly scorecard (城市信用监测指标月度评分卡; docs/scorecard.md), on the 1st of each
month at 06:30 Beijing time, after the last night of the month before, for that month:

- **write_scorecard**: each city-monitoring indicator for the 11 cities, 定州, 辛集 and 雄安新区
  against its target, each jurisdiction's published national rank against the ranking target, and
  the jurisdictions at risk, under `$CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/`: `index.html`,
  `scorecard.pdf`, the CSVs with a drill-down file per indicator and `reproducibility.json`.

A past month: trigger with conf `{"month": "2026-10"}`, or `credit-dw report scorecard --month 2026-10`.
No start_date (a scheduler that first sees it waits for the next 1st), no catchup.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from credit_dw.config import settings
from credit_dw.orchestration.dag_defaults import ON_DEMAND_OR_NIGHTLY, default_args

DEFAULT_ARGS = default_args(retry_delay_seconds=600)


@dag(
    dag_id="credit_scorecard",
    # As credit_audit: run_immediately=timedelta(0), so a scheduler that first sees the DAG on the
    # 1st after 06:30 does not write a scorecard nobody asked for.
    schedule=CronTriggerTimetable("30 6 1 * *", timezone=settings.TIMEZONE, run_immediately=timedelta(0)),
    **ON_DEMAND_OR_NIGHTLY,  # no start_date, no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "report"],
    doc_md=__doc__,
)
def credit_scorecard():
    @task
    def write_scorecard(**context) -> dict:
        from credit_dw.orchestration.nights import month_of
        from credit_dw.reports.scorecard import write_scorecard_report

        report = write_scorecard_report(month_of(context))
        return {"directory": str(report.directory), "files": len(report.files), "pdf_missing": report.pdf_missing}

    write_scorecard()


credit_scorecard()
