"""Summaries of a night from the ledger: what the CLI prints and what the ingest DAG returns."""

from __future__ import annotations

from credit_dw.db.connect import connect


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
    return {"logical_date": night, "batches": batches}
