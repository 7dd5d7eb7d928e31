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


#: conf key naming the feeds a run of `credit_ingest` ingests (`credit-dw run --feed F`); absent or
#: empty: every feed in the catalog.
FEEDS_CONF = "feeds"


def feeds_of(context: dict[str, Any]) -> list[str] | None:
    """The feeds the run is limited to (conf `feeds`: a list of catalog source ids, or one id; for
    an asset-triggered run, the triggering events' extra `feeds`), in ingest order; None for every
    feed. An unknown feed raises ValueError naming the catalog's feeds."""
    from credit_dw.catalog import checked_source_ids

    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    feeds = conf.get(FEEDS_CONF)
    if not feeds and not conf.get("logical_date"):
        events = [ev for evs in (context.get("triggering_asset_events") or {}).values() for ev in evs]
        # Every triggering event must name feeds: one whole night among them means the whole project.
        if events and all((ev.extra or {}).get(FEEDS_CONF) for ev in events):
            feeds = sorted({f for ev in events for f in ev.extra[FEEDS_CONF]})
    if not feeds:
        return None
    if isinstance(feeds, str):
        feeds = [feeds]
    return checked_source_ids(str(f) for f in feeds)


def month_of(context: dict[str, Any]) -> date:
    """The month (its first day) a monthly run reports on (credit_audit): conf `month` ("YYYY-MM"),
    else the month before the run's logical date in Beijing time (the run on the 1st reports the
    month that just ended)."""
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("month"):
        return date.fromisoformat(f"{conf['month']}-01")
    logical = context.get("logical_date") or getattr(dag_run, "run_after", None)
    if logical is None:
        raise ValueError("cannot tell which month this run is for: no conf `month` and no logical date")
    first_of_this_month = logical.astimezone(ZoneInfo(settings.TIMEZONE)).date().replace(day=1)
    return (first_of_this_month - timedelta(days=1)).replace(day=1)
