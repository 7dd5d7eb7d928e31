"""The batch ledger (`meta.load_batches`): one row per feed and logical date.

A batch id is `<source_id>/<YYYY-MM-DD>`. Starting a batch for a night that already has one
replaces it (its raw rows, issues and validation results go), so rerunning a night is
idempotent; `attempts` counts how often the night ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.db.connect import connect

#: Watermarks of these batches count as read; a failed batch's rows will be read again next time.
_SETTLED = ("accepted", "rejected", "landed")


def batch_id_for(source_id: str, logical_date: date) -> str:
    return f"{source_id}/{logical_date.isoformat()}"


@dataclass(frozen=True)
class Window:
    """The slice of a source read for one night: low < watermark < high (low None: from the start)."""

    low: datetime | None
    high: datetime


def night_end(logical_date: date) -> datetime:
    """Midnight after the logical date, Beijing time: nothing changed later belongs to that night."""
    return datetime.combine(logical_date + timedelta(days=1), time(0), tzinfo=ZoneInfo(settings.TIMEZONE))


def start_batch(spec: SourceSpec, logical_date: date) -> tuple[str, Window]:
    """Open (or reopen) the night's batch and work out its extraction window."""
    batch_id = batch_id_for(spec.source_id, logical_date)
    with connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (batch_id,))
        low = conn.execute(
            """
            select watermark_high from meta.load_batches
            where source_id = %s and logical_date < %s and status = any(%s)
            order by logical_date desc limit 1
            """,
            (spec.source_id, logical_date, list(_SETTLED)),
        ).fetchone()
        window = Window(low=low[0] if low else None, high=night_end(logical_date))
        conn.execute(f"delete from {spec.raw_relation} where _batch_id = %s", (batch_id,))
        conn.execute("delete from meta.row_issues where batch_id = %s", (batch_id,))
        conn.execute("delete from meta.validation_results where batch_id = %s", (batch_id,))
        conn.execute(
            """
            insert into meta.load_batches as b
                (batch_id, source_id, logical_date, status, watermark_low, watermark_high, reject_threshold)
            values (%s, %s, %s, 'extracting', %s, %s, %s)
            on conflict (batch_id) do update set
                status = 'extracting', attempts = b.attempts + 1, started_at = now(),
                watermark_low = excluded.watermark_low, watermark_high = excluded.watermark_high,
                reject_threshold = excluded.reject_threshold,
                rows_received = null, rows_accepted = null, rows_quarantined = null, rows_warned = null,
                failure_share = null, landing_file = null, landing_sha256 = null, message = null,
                extracted_at = null, landed_at = null, validated_at = null
            """,
            (batch_id, spec.source_id, logical_date, window.low, window.high, spec.threshold),
        )
    return batch_id, window


def record_extracted(batch_id: str, rows: int, landing_file: str, sha256: str) -> None:
    with connect() as conn:
        conn.execute(
            """update meta.load_batches set rows_received = %s, landing_file = %s, landing_sha256 = %s,
               extracted_at = now() where batch_id = %s""",
            (rows, landing_file, sha256, batch_id),
        )


def record_landed(batch_id: str, rows: int) -> None:
    with connect() as conn:
        received = conn.execute(
            "select rows_received from meta.load_batches where batch_id = %s", (batch_id,)
        ).fetchone()
        if received is None or received[0] != rows:
            raise RuntimeError(
                f"batch {batch_id}: extracted {received and received[0]} rows but landed {rows}; "
                "the raw table does not hold what was read, so the batch is failed"
            )
        conn.execute(
            "update meta.load_batches set status = 'landed', landed_at = now() where batch_id = %s",
            (batch_id,),
        )


def record_failed(batch_id: str, message: str) -> None:
    with connect() as conn:
        conn.execute(
            "update meta.load_batches set status = 'failed', message = %s where batch_id = %s",
            (message[:4000], batch_id),
        )


def batch_row(batch_id: str) -> dict:
    with connect() as conn:
        cur = conn.execute("select * from meta.load_batches where batch_id = %s", (batch_id,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no batch {batch_id} in meta.load_batches")
        return dict(zip([c.name for c in cur.description], row, strict=True))
