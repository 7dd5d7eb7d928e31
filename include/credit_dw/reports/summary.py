"""Summaries of a night from the ledger: what the CLI prints and what the ingest DAG returns.

Beside the night's batches, the summary says how fresh every feed is: what `dbt source freshness`
says of the raw sources, computed the same way without a dbt run. Each raw source in the dbt
project declares its freshness (dbt_project/models/staging/<feed>/_<feed>__sources.yml): a
`loaded_at_query` over the ledger (when the feed last delivered rows) and warn / error thresholds
fitted to its cadence (docs/architecture.md, "Source freshness"). `feed_freshness` reads those
from dbt's manifest and runs the same queries, so the summary and dbt never disagree.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from credit_dw.db.connect import connect
from credit_dw.transform.dbt import ensure_manifest

#: dbt's freshness periods, as timedeltas.
_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def night_summary(night: str) -> dict:
    with connect() as conn:
        cur = conn.execute(
            """select source_id, status, rows_received, rows_accepted, rows_quarantined, rows_warned,
                      failure_share, attempts, message
               from meta.load_batches where logical_date = %s order by source_id""",
            (night,),
        )
        names = [c.name for c in cur.description]
        batches = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for b in batches:
        if b["failure_share"] is not None:
            b["failure_share"] = float(b["failure_share"])
    return {"logical_date": night, "batches": batches, "freshness": feed_freshness()}


def _threshold(freshness: dict, key: str) -> timedelta | None:
    rule = (freshness or {}).get(key) or {}
    if not rule.get("count") or not rule.get("period"):
        return None
    return rule["count"] * _PERIODS[rule["period"]]


def freshness_status(age: timedelta | None, warn_after: timedelta | None, error_after: timedelta | None) -> str:
    """dbt's verdict: `error` past error_after (or when the feed never delivered), `warn` past
    warn_after, else `pass`."""
    if age is None:
        return "error"
    if error_after is not None and age > error_after:
        return "error"
    if warn_after is not None and age > warn_after:
        return "warn"
    return "pass"


def feed_freshness(manifest_path: Path | None = None) -> list[dict]:
    """Per feed with a freshness rule in the dbt project: when it last delivered rows
    (`last_delivered_at`, None if never), how long ago (`age_hours`), its thresholds in hours and
    dbt's verdict (`status`: pass, warn or error), measured now, as `dbt source freshness` would."""
    manifest = json.loads((manifest_path or ensure_manifest()).read_text())
    rules = []
    for source in manifest["sources"].values():
        query = source.get("loaded_at_query") or source.get("config", {}).get("loaded_at_query")
        freshness = source.get("freshness") or source.get("config", {}).get("freshness") or {}
        warn_after, error_after = _threshold(freshness, "warn_after"), _threshold(freshness, "error_after")
        if query and (warn_after or error_after):
            rules.append((source["source_name"].removeprefix("raw_"), query, warn_after, error_after))
    feeds = []
    with connect() as conn:
        now: datetime = conn.execute("select now()").fetchone()[0]
        for source_id, query, warn_after, error_after in sorted(rules):
            loaded_at = conn.execute(query).fetchone()[0]
            age = now - loaded_at if loaded_at is not None else None
            feeds.append({
                "source_id": source_id,
                "last_delivered_at": loaded_at.isoformat() if loaded_at is not None else None,
                "age_hours": round(age.total_seconds() / 3600, 1) if age is not None else None,
                "warn_after_hours": warn_after.total_seconds() / 3600 if warn_after else None,
                "error_after_hours": error_after.total_seconds() / 3600 if error_after else None,
                "status": freshness_status(age, warn_after, error_after),
            })
    return feeds
