"""The morning-after view of a night, from the warehouse ledger alone (`credit-dw status`).

Reads `meta.load_batches` (one row per feed and night), `meta.file_receipts` (the files of the
file-drop feeds: landed, duplicate, refused with line and reason) and `meta.export_deliveries`
(one row per export target and night); no Airflow is needed. Per catalog feed it says the night's
state:

- `accepted`            the batch passed its gate (`quarantined` > 0: that share held out);
- `not delivered`       the batch ran but the department delivered nothing (zero rows);
- `not due`             the same on a night the catalog's `due` does not expect a delivery (a
                        periodic form: utilities on the 5th, customs on the 1st and 15th);
- `refused`             the batch was over its reject threshold and was rejected whole;
- `failed`              extraction, landing or validation failed (`message` says why);
- `incomplete`          the batch stopped half-way (`extracting`, `landed`): the run was killed;
- `not run`             the catalog has the feed but the ledger has no batch for the night;

plus `files refused` (file-drop files rejected whole: the department corrects and re-sends) and,
when the dbt manifest is at hand, `stale` (the feed's freshness, measured now, is past its warn or
error threshold: `credit_dw.reports.summary.feed_freshness`). A feed needs attention (exit code 1
of `credit-dw status`) when it failed, was refused, is incomplete or did not run: the line to run
next is `credit-dw run --date D --feed F`. `delivery` is the office's reading of the same night
(`credit_dw.catalog.delivery_state`: delivered, missing = 缺报, not_due, rejected), as the quality
report and the alerts count it.
"""

from __future__ import annotations

from datetime import date

from credit_dw.catalog import NOT_DUE, delivery_state, get_source, source_ids
from credit_dw.catalog.exports import export_targets
from credit_dw.db.connect import connect

#: Feed states that a rerun of the feed may mend.
NEEDS_RERUN = ("failed", "refused", "incomplete", "not run")


def latest_night() -> date | None:
    """The latest logical date in the ledger (None when the ledger is empty)."""
    with connect() as conn:
        return conn.execute("select max(logical_date) from meta.load_batches").fetchone()[0]


def _rows(conn, query: str, params: tuple) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _state(batch: dict | None) -> str:
    if batch is None:
        return "not run"
    status = batch["status"]
    if status == "accepted":
        return "not delivered" if not batch["rows_received"] else "accepted"
    if status == "rejected":
        return "refused"
    if status == "failed":
        return "failed"
    if status == "skipped":
        return "skipped"
    return "incomplete"


def _freshness() -> dict[str, dict]:
    """Feed -> its freshness verdict (measured now), or {} when the dbt manifest is not at hand."""
    from credit_dw.reports.summary import feed_freshness

    try:
        return {f["source_id"]: f for f in feed_freshness()}
    except Exception:  # no manifest and no dbt to parse one: the ledger's view stands alone
        return {}


def night_status(night: date | None = None, feeds: list[str] | None = None, *, freshness: bool = True) -> dict:
    """The night's state per feed, its refused files and its export deliveries, as a JSON-ready dict.

    `night` None: the latest night in the ledger. `feeds`: limit to these catalog feeds (an unknown
    one raises KeyError). `found` is False when the ledger holds no batch for the night.
    """
    wanted = list(feeds) if feeds else source_ids()
    for source_id in wanted:
        get_source(source_id)  # KeyError naming the catalog's feeds
    if night is None:
        night = latest_night()
        if night is None:
            return {"logical_date": None, "found": False, "feeds": [], "refused_files": [], "exports": [],
                    "needs_attention": []}
    with connect() as conn:
        batches = {b["source_id"]: b for b in _rows(
            conn,
            """select batch_id, source_id, status, rows_received, rows_accepted, rows_quarantined, rows_warned,
                      failure_share, reject_threshold, attempts, message, landing_file,
                      started_at, validated_at
               from meta.load_batches where logical_date = %s order by source_id""",
            (night,),
        )}
        has_receipts = conn.execute("select to_regclass('meta.file_receipts') is not null").fetchone()[0]
        receipts = _rows(
            conn,
            """select source_id, batch_id, file_name, outcome, rows, line_number, source_row, reason,
                      duplicate_of_file, archived_as
               from meta.file_receipts where logical_date = %s and source_id = any(%s)
               order by source_id, file_name""",
            (night, wanted),
        ) if has_receipts else []
        deliveries = {d["target"]: d for d in _rows(
            conn,
            """select target, file_count, row_count, delivered_at, git_revision
               from meta.export_deliveries where logical_date = %s""",
            (night,),
        )}
    fresh = _freshness() if freshness else {}
    by_feed_files: dict[str, list[dict]] = {}
    for r in receipts:
        by_feed_files.setdefault(r["source_id"], []).append(r)

    rows = []
    for source_id in wanted:
        spec = get_source(source_id)
        batch = batches.get(source_id)
        state = _state(batch)
        delivery = delivery_state(spec, night, batch["status"] if batch else None,
                                  batch["rows_received"] if batch else None)
        if state == "not delivered" and delivery == NOT_DUE:
            state = "not due"  # a periodic form on one of its off nights: nothing was expected
        files = by_feed_files.get(source_id, [])
        refused = [f for f in files if f["outcome"] == "rejected"]
        received = batch["rows_received"] if batch else None
        quarantined = batch["rows_quarantined"] if batch else None
        share = (quarantined / received) if received and quarantined is not None else None
        f = fresh.get(source_id)
        rows.append({
            "source_id": source_id,
            "department": spec.department,
            "connector": spec.connector,
            "state": state,
            "delivery": delivery,
            "batch_status": batch["status"] if batch else None,
            "rows_received": received,
            "rows_accepted": batch["rows_accepted"] if batch else None,
            "rows_quarantined": quarantined,
            "quarantined_share": round(share, 4) if share is not None else None,
            "attempts": batch["attempts"] if batch else 0,
            "files_delivered": len(files),
            "files_refused": len(refused),
            "message": batch["message"] if batch else None,
            "landing_file": batch["landing_file"] if batch else None,
            "freshness": f["status"] if f else None,
            "stale": bool(f and f["status"] != "pass"),
            "last_delivered_at": f["last_delivered_at"] if f else None,
            "next": f"credit-dw run --date {night} --feed {source_id}" if state in NEEDS_RERUN else None,
        })

    exports = []
    for target in export_targets():
        d = deliveries.get(target)
        exports.append({
            "target": target,
            "delivered": d is not None,
            "file_count": d["file_count"] if d else None,
            "row_count": d["row_count"] if d else None,
            "delivered_at": d["delivered_at"].isoformat() if d else None,
        })
    return {
        "logical_date": night.isoformat(),
        "found": bool(batches),
        "feeds": rows,
        "refused_files": [
            {k: r[k] for k in ("source_id", "file_name", "line_number", "source_row", "reason", "archived_as")}
            for r in receipts if r["outcome"] == "rejected"
        ],
        "exports": exports,
        "needs_attention": [r["source_id"] for r in rows if r["state"] in NEEDS_RERUN],
    }
