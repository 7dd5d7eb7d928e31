"""Alerts for the night's problems, sent from Airflow callbacks.

What is alerted [rules §5: the office chases late, missing and rejected submissions]:
- a rejected batch (its failure share exceeded the feed's threshold),
- a feed that did not arrive (缺报 by the catalog's `due` rule, `credit_dw.catalog.delivery_state`:
  a failed batch, or on a night it is due no batch or, for a file drop, no file),
- a late-report rate above `CREDIT_DW_ALERT_LATE_RATE` (default 0, the province's target [000 §2.2])
  when the dual-publicity timeliness view exists,
- any failed task (the DAGs' `on_failure_callback`).

Channels (`CREDIT_DW_ALERT_CHANNELS`, comma-separated, default `log`):
- `log`: a WARNING line in the task log (always available);
- `webhook`: JSON POSTed to `CREDIT_DW_ALERT_WEBHOOK_URL` (e.g. a WeCom/DingTalk robot relay);
- `email`: to `CREDIT_DW_ALERT_EMAIL_TO` through `CREDIT_DW_SMTP_HOST[:CREDIT_DW_SMTP_PORT]`.
A channel that fails to deliver is logged and does not fail the night.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage

log = logging.getLogger("credit_dw.reports.alerts")


@dataclass(frozen=True)
class Alert:
    kind: str  # batch_rejected | feed_missing | late_rate | task_failed
    logical_date: str
    source_id: str | None
    message: str


def channels() -> list[str]:
    return [c.strip() for c in os.environ.get("CREDIT_DW_ALERT_CHANNELS", "log").split(",") if c.strip()]


def _send_webhook(alerts: list[Alert]) -> None:
    url = os.environ["CREDIT_DW_ALERT_WEBHOOK_URL"]
    body = json.dumps({"alerts": [asdict(a) for a in alerts]}, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _send_email(alerts: list[Alert]) -> None:
    message = EmailMessage()
    message["Subject"] = f"[credit-warehouse] {len(alerts)} problem(s) for night {alerts[0].logical_date}"
    message["From"] = os.environ.get("CREDIT_DW_ALERT_EMAIL_FROM", "credit-warehouse@localhost")
    message["To"] = os.environ["CREDIT_DW_ALERT_EMAIL_TO"]
    message.set_content("\n".join(f"- [{a.kind}] {a.source_id or '-'}: {a.message}" for a in alerts))
    host = os.environ.get("CREDIT_DW_SMTP_HOST", "localhost")
    port = int(os.environ.get("CREDIT_DW_SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.send_message(message)


_SENDERS = {"webhook": _send_webhook, "email": _send_email}


def send(alerts: list[Alert]) -> list[Alert]:
    """Deliver alerts on every configured channel; returns them (empty list: nothing to say)."""
    if not alerts:
        return alerts
    for alert in alerts:
        log.warning("ALERT %s night=%s feed=%s: %s", alert.kind, alert.logical_date, alert.source_id, alert.message)
    for channel in channels():
        if channel == "log":
            continue
        sender = _SENDERS.get(channel)
        if sender is None:
            log.error("unknown alert channel %r in CREDIT_DW_ALERT_CHANNELS", channel)
            continue
        try:
            sender(alerts)
        except Exception:  # an unreachable channel must not fail the night
            log.exception("alert channel %s failed", channel)
    return alerts


def night_alerts(summary: dict) -> list[Alert]:
    """Alerts for a night from the ingest summary (`reporting.night_summary`)."""
    from datetime import date

    from credit_dw.catalog import MISSING, REJECTED, delivery_state, load_catalog

    night = summary["logical_date"]
    batches = {b["source_id"]: b for b in summary["batches"]}
    alerts = []
    for spec in load_catalog():
        batch = batches.get(spec.source_id)
        state = delivery_state(spec, date.fromisoformat(str(night)), batch["status"] if batch else None,
                               batch["rows_received"] if batch else None)
        if state == REJECTED:
            alerts.append(Alert("batch_rejected", night, spec.source_id, batch["message"] or "batch rejected"))
        elif state == MISSING:
            if batch is None or batch["status"] != "accepted":
                reason = (batch["message"] or batch["status"]) if batch else "no batch at all"
                alerts.append(Alert("feed_missing", night, spec.source_id, f"feed did not arrive: {reason}"))
            else:  # a file drop due that night without a file
                alerts.append(Alert("feed_missing", night, spec.source_id, "due tonight, no file delivered"))
    alerts.extend(_late_rate_alerts(night))
    return alerts


def _late_rate_alerts(night: str) -> list[Alert]:
    from credit_dw.db.connect import connect

    threshold = float(os.environ.get("CREDIT_DW_ALERT_LATE_RATE", "0"))
    with connect() as conn:
        exists = conn.execute("select to_regclass('quality.qa_dual_publicity_timeliness') is not null").fetchone()[0]
        if not exists:
            return []
        # The rate by the warehouse's one definition (quality.late_rate, docs/quality_rates.md).
        rows = conn.execute(
            """select source_id, department, sum(decisions_late), sum(decisions_reported),
                      quality.late_rate(sum(decisions_late), sum(decisions_reported))
               from quality.qa_dual_publicity_timeliness where logical_date = %s
               group by source_id, department having sum(decisions_reported) > 0""",
            (night,),
        ).fetchall()
    alerts = []
    for source_id, department, late, reported, rate in rows:
        if rate > threshold:
            message = f"{department}: late-report rate {rate:.1%} ({late} of {reported}) above {threshold:.0%}"
            alerts.append(Alert("late_rate", night, source_id, message))
    return alerts


def alert_on_night(context: dict) -> None:
    """`on_success_callback` of the ingest DAG's publish task: alert on the night's summary."""
    from credit_dw.reports.summary import night_summary

    night = context["ti"].xcom_pull(task_ids="prepare_warehouse")
    if night:
        send(night_alerts(night_summary(night)))


def alert_on_task_failure(context: dict) -> None:
    """Every DAG's `on_failure_callback` (through default_args)."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    night = ((getattr(dag_run, "conf", None) or {}).get("logical_date")) or str(context.get("logical_date"))
    exception = context.get("exception")
    task = f"{ti.dag_id}.{ti.task_id}" if ti else "?"
    send([Alert("task_failed", night, None, f"{task} failed: {exception}")])
