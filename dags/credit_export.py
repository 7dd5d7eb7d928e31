"""
# credit_export

Writes the night's deliveries for downstream platforms from the curated marts: one
mapped task per target of the export catalog (`include/credit_dw/catalog/exports.yml`:
`national` for 全国信用信息共享平台, `publicity` for 信用中国（河北）, `lending` for 信易贷, `gsxt` for
国家企业信用信息公示系统（河北）, and `city/<code>` for each jurisdiction's platform), each into
`$CREDIT_DW_HOME/outbox/<target>/<date>/` (or, when the Airflow connection
`credit_export_sftp_<target>` exists, `<remote_root>/<target>/<date>/` on the receiver's
SFTP server, each file read back and checked before it is renamed into place) with its
files, a Frictionless Data Package manifest (`datapackage.json`) and `_SUCCESS` written
last, recorded once in `meta.export_deliveries` (docs/exports.md). Targets are
independent: one failing blocks no other (and leaves `_NOT_PRODUCED` with the reason
where its receiver looks); the run then fails so it is alerted. A target whose snapshot
files would be empty or shrink sharply against its last delivered night is held, not
sent (`_HELD` with the reason and both counts, no ledger row, the task fails and alerts)
until an operator releases it: `credit-dw export release --target T --date D`, or a run
triggered with conf `{"logical_date": "D", "release_held": ["T"]}` (docs/runbook.md).

Beside them, the daily quality report for the province credit office
(`$CREDIT_DW_HOME/reports/quality/<date>/index.html` plus CSVs): what came in, what was
quarantined and why, per department and city, late / omission / concealment rates, trends.

Scheduled on the `credit_marts_built` Asset.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

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
    def resolve_night(**context) -> str:
        from credit_dw.orchestration import nights

        return nights.night_of(context).isoformat()

    @task
    def list_export_targets() -> list[str]:
        """The targets of the export catalog (read when the run starts, not at parse time).

        The `city` entry arrives fanned out, one target per jurisdiction (city/130100 ...
        city/133100, city/130000), rather than as one task writing 15 deliveries: each
        jurisdiction is its own delivery and ledger row, so each is its own mapped task, retried
        and failing alone (one city's refused rerun or failure blocks no other city), and a
        city's night can be cleared and rerun by itself."""
        from credit_dw.catalog.exports import export_targets

        return export_targets()

    @task(map_index_template="{{ export_target }}")
    def export_target(target: str, night: str) -> dict:
        from datetime import date

        from credit_dw.exports.run import export

        context = get_current_context()
        context["export_target"] = target  # names the mapped task in the UI
        # An operator's deliberate release of a held night: conf {"release_held": ["publicity", ...]}.
        dag_run = context.get("dag_run")
        released = ((getattr(dag_run, "conf", None) or {}).get("release_held")) or []
        delivery = export(target, date.fromisoformat(night), release=target in released)
        return {"directory": str(delivery.directory), "location": delivery.location, "rows": delivery.row_count,
                "files": {f.path: f.sha256 for f in delivery.files}, "newly_recorded": delivery.newly_recorded}

    @task
    def write_quality_report(night: str) -> str:
        """The province credit office's morning report for the night (reports/quality/<date>/)."""
        from datetime import date

        from credit_dw.reports.quality.page import write_quality_report as write

        return str(write(date.fromisoformat(night)).index_html)

    night = resolve_night()
    export_target.partial(night=night).expand(target=list_export_targets())
    write_quality_report(night)


credit_export()
