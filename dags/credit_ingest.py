"""
# credit_ingest

Nightly intake of every feed in the source catalog (`include/credit_dw/catalog/*.yml`):
for each feed, **extract** the night's rows (by watermark), **land** them into `raw` with COPY,
and **validate** the batch with its Great Expectations suite (rows failing critical checks are
quarantined in `meta.row_issues`; a batch over its threshold is rejected whole), emitting the
feed's own Asset `credit_raw_<source_id>` (through the alias `credit_feed_landed`); then
**return_to_sender** writes the department's return notice (信息退回) and links corrected
re-submissions (补报).

Feeds are mapped from the catalog, so one failing feed does not stop the others. The feeds that
register codes (the market registry, `ingest_registering_feed`) go first; the others
(`ingest_feed`) start when they are done, whatever their outcome, so each gate that looks codes up
(`credit.is_registered_code`) sees the night's registrations and a rerun warns alike. When all feeds
are done, `publish_raw_landed` emits the `credit_raw_landed` Asset that schedules
`credit_transform`; `fail_if_any_feed_failed` then makes a failed feed visible on the run.

Runs at 01:30 Beijing time for the night before; `credit-dw run --date D` runs it for night D.
A run whose conf names `feeds` (`{"logical_date": "D", "feeds": ["tax_arrears"]}`, `credit-dw run
--date D --feed tax_arrears`) ingests only those feeds; the other feeds' batches of the night stay
as they are. An unknown feed fails `prepare_warehouse` with the catalog's feeds named.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, dag, task, task_group

from credit_dw.config import settings
from credit_dw.orchestration.assets import FEED_LANDED, RAW_LANDED, feed_asset
from credit_dw.orchestration.dag_defaults import ON_DEMAND_OR_NIGHTLY, default_args
from credit_dw.reports.alerts import alert_on_night

DEFAULT_ARGS = default_args(retry_delay_seconds=300)


@dag(
    dag_id="credit_ingest",
    # No start_date: with one (and catchup off), Airflow's CronTriggerTimetable runs the most
    # recent 01:30 at once when the scheduler first sees the DAG or it is unpaused, a night nobody
    # asked for; without one the first scheduled run is the next 01:30. run_immediately must be a
    # zero timedelta, not False: with False, Airflow 3.3 still takes the past 01:30 when the DAG
    # is first seen within max(a tenth of a day, 5 min) of it (airflow/timetables/trigger.py,
    # _calc_first_run), i.e. unpaused between 01:30 and 03:54 Beijing time.
    # Any night can still be run on demand (conf {"logical_date": …}, `credit-dw run`).
    schedule=CronTriggerTimetable("30 1 * * *", timezone=settings.TIMEZONE, run_immediately=timedelta(0)),
    **ON_DEMAND_OR_NIGHTLY,  # no catchup, one run at a time
    default_args=DEFAULT_ARGS,
    tags=["credit", "ingest"],
    doc_md=__doc__,
)
def credit_ingest():
    @task
    def prepare_warehouse(**context) -> str:
        """Once no earlier night is being transformed or exported (`one_night`): schemas,
        functions, ledger and reference seeds in place (idempotent); returns the night."""
        from credit_dw.db.bootstrap import bootstrap
        from credit_dw.orchestration import nights
        from credit_dw.orchestration.one_night import wait_for_nights_in_flight
        from credit_dw.transform.dbt import seed_reference

        nights.feeds_of(context)  # an unknown feed fails here, before anything ran
        wait_for_nights_in_flight(context)
        bootstrap()
        seed_reference()
        return nights.night_of(context).isoformat()

    @task
    def list_registering_sources(**context) -> list[str]:
        """Feeds whose accepted codes other feeds' gates look up (catalog `registers_codes`)
        (those of them named in conf `feeds`, when it names any)."""
        from credit_dw.catalog import registering_source_ids
        from credit_dw.orchestration import nights

        chosen = nights.feeds_of(context)
        return [s for s in registering_source_ids() if chosen is None or s in chosen]

    # Runs once the registering feeds are done, whatever their outcome, so every other feed's gate
    # sees the night's registrations (the dual-publicity "USCC known to the registry" warning) and
    # a rerun of the night gives the same warnings; a failed registry holds no other feed back.
    @task(trigger_rule="all_done")
    def list_other_sources(**context) -> list[str]:
        from credit_dw.catalog import non_registering_source_ids
        from credit_dw.orchestration import nights

        chosen = nights.feeds_of(context)
        return [s for s in non_registering_source_ids() if chosen is None or s in chosen]

    @task_group
    def ingest_feed(source_id: str, night: str):
        @task
        def extract(source_id: str, night: str) -> dict:
            from datetime import date

            from credit_dw.ingest import pipeline as ingest

            return ingest.extract(source_id, date.fromisoformat(night))

        @task
        def land(source_id: str, night: str, extracted: dict) -> dict:
            from datetime import date

            from credit_dw.ingest import pipeline as ingest

            return ingest.land(source_id, date.fromisoformat(night))

        @task(outlets=[FEED_LANDED])
        def validate(source_id: str, night: str, landed: dict, **context) -> dict:
            from dataclasses import asdict
            from datetime import date

            from credit_dw.ingest import pipeline as ingest

            outcome = ingest.validate(source_id, date.fromisoformat(night))
            summary = {k: v for k, v in asdict(outcome).items() if k != "checks"}
            context["outlet_events"][FEED_LANDED].add(feed_asset(source_id), extra={"logical_date": night, **summary})
            return summary

        # all_done: a night whose every file was refused fails the feed before validation, and its
        # departments still get their return notices (the refused files' receipts are kept).
        @task(trigger_rule="all_done")
        def return_to_sender(source_id: str, night: str) -> dict:
            """Return notices to the department (信息退回) and links of corrected rows (补报)."""
            from datetime import date

            from credit_dw.ingest import returns

            notices = returns.write_return_notices(source_id, date.fromisoformat(night))
            relinked = returns.link_resubmissions(source_id, date.fromisoformat(night))
            return {"notices": [str(n.path) for n in notices], "resubmissions": relinked}

        validated = validate(source_id, night, land(source_id, night, extract(source_id, night)))
        validated >> return_to_sender(source_id, night)

    @task(outlets=[RAW_LANDED], trigger_rule="all_done", on_success_callback=alert_on_night)
    def publish_raw_landed(night: str, **context) -> dict:
        from credit_dw.reports.summary import night_summary

        summary = night_summary(night)
        from credit_dw.orchestration import nights

        extra = {"logical_date": night}
        chosen = nights.feeds_of(context)
        if chosen:  # a rerun of some feeds: the transform builds only what they feed
            extra[nights.FEEDS_CONF] = chosen
        context["outlet_events"][RAW_LANDED].extra = extra
        return summary

    @task
    def fail_if_any_feed_failed(summary: dict) -> None:
        failed = [b["source_id"] for b in summary["batches"] if b["status"] == "failed"]
        if failed:
            raise RuntimeError(f"feeds failed this night: {failed}; see meta.load_batches.message")

    night = prepare_warehouse()
    registering = ingest_feed.override(group_id="ingest_registering_feed").partial(night=night).expand(
        source_id=list_registering_sources())
    other_sources = list_other_sources()
    registering >> other_sources
    feeds = ingest_feed.partial(night=night).expand(source_id=other_sources)
    summary = publish_raw_landed(night)
    [registering, feeds] >> summary
    fail_if_any_feed_failed(summary)


credit_ingest()
