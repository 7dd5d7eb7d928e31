"""Which night (logical date, Beijing time) an Airflow run is about.

A run triggered by `credit-dw run --date D` (or `airflow dags trigger -c '{"logical_date": "D"}'`)
says so in its conf. An asset-triggered run reads the night from the triggering asset event's
extra. A scheduled run at 01:30 on day D+1 processes night D.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from credit_dw.config import settings


def night_of(context: dict[str, Any]) -> date:
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("logical_date"):
        return date.fromisoformat(str(conf["logical_date"]))
    events = context.get("triggering_asset_events") or {}
    nights = sorted(
        {ev.extra["logical_date"] for evs in events.values() for ev in evs if (ev.extra or {}).get("logical_date")}
    )
    if nights:
        return date.fromisoformat(nights[-1])
    logical = context.get("logical_date") or getattr(dag_run, "run_after", None)
    if logical is None:
        raise ValueError("cannot tell which night this run is for: no conf, asset event or logical date")
    return logical.astimezone(ZoneInfo(settings.TIMEZONE)).date() - timedelta(days=1)
