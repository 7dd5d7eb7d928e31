"""
# credit_audit

The month's reports, on the 1st of each month at 06:00 Beijing time, after the last night of the
month before has been exported, for that month:

- **write_report**: the auditors' monthly report (信用信息归集审计月报; docs/audit.md) under
  `$CREDIT_DW_HOME/reports/audit/<YYYY-MM>/`: the audit CSVs as of the month's last day with a
  drill-down file per headline number, the page `index.html`, its PDF `audit.pdf` and
  `reproducibility.json` (the batches, git revision and rule hashes the figures come from);
- **write_monthly_notice**: the office's monthly notice of dual-publicity timeliness (月度通报;
  docs/quality_report.md) under `$CREDIT_DW_HOME/reports/notice/<YYYY-MM>/`.

A past month: trigger with conf `{"month": "2026-10"}`, or `credit-dw report audit --month 2026-10`
and `credit-dw report monthly --month 2026-10`.
No start_date (a scheduler that first sees it waits for the next 1st), no catchup.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task

from credit_dw.config import settings
from credit_dw.orchestration.dag_defaults import ON_DEMAND_OR_NIGHTLY, default_args

DEFAULT_ARGS = default_args(retry_delay_seconds=600)


@dag(
    dag_id="credit_audit",
    # As credit_ingest: run_immediately=timedelta(0), so a scheduler that first sees the DAG on
    # the 1st after 06:00 does not write a report nobody asked for.
    schedule=CronTriggerTimetable("0 6 1 * *", timezone=settings.TIMEZONE, run_immediately=timedelta(0)),
    **ON_DEMAND_OR_NIGHTLY,  # no start_date, no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "audit"],
    doc_md=__doc__,
)
def credit_audit():
    @task
    def write_report(**context) -> dict:
        from credit_dw.orchestration.nights import month_of
        from credit_dw.reports.audit import write_monthly_audit_report

        report = write_monthly_audit_report(month_of(context))
        return {"directory": str(report.directory), "files": len(report.files), "pdf_missing": report.pdf_missing}

    @task
    def write_monthly_notice(**context) -> dict:
        from credit_dw.orchestration.nights import month_of
        from credit_dw.reports.quality.monthly import write_monthly_notice

        notice = write_monthly_notice(month_of(context))
        return {"directory": str(notice.directory), "pdf": str(notice.pdf) if notice.pdf else None}

    write_report()
    write_monthly_notice()


credit_audit()
