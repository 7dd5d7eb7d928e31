"""One feed's night: extract → land → validate, as three steps the ingest DAG runs in order.

Each step reads what the previous one left in the ledger, so a step can be retried alone. Any
error marks the batch `failed` with its message (the watermark does not advance: the next run
reads the same rows again) and is re-raised so Airflow retries and reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from credit_dw.catalog import SourceSpec, get_source
from credit_dw.ingest import ledger
from credit_dw.ingest.gate import GateOutcome, validate_batch
from credit_dw.ingest.landing import copy_into_raw, ensure_raw_table

T = TypeVar("T")


def _recording_failure(batch_id: str, step: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except Exception as exc:
        ledger.record_failed(batch_id, f"{step} failed: {type(exc).__name__}: {exc}")
        raise


#: Connector kind (catalog `connector:`) -> "module:function" with the signature
#: (spec, batch_id, logical_date, window) -> LandingFile. Imported on use.
CONNECTORS = {
    "sql": "credit_dw.connectors.sql:extract_window",
    "file_drop": "credit_dw.connectors.files.connector:extract_files",
    "http_api": "credit_dw.connectors.http:extract_api",
}


def _extractor(spec: SourceSpec):
    import importlib

    target = CONNECTORS.get(spec.connector)
    if target is None:
        raise ValueError(f"catalog entry {spec.source_id}: unknown connector {spec.connector!r}; "
                         f"known: {sorted(CONNECTORS)}")
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def extract(source_id: str, logical_date: date) -> dict:
    spec = get_source(source_id)
    ensure_raw_table(spec)
    batch_id, window = ledger.start_batch(spec, logical_date)

    def run() -> dict:
        landed = _extractor(spec)(spec, batch_id, logical_date, window)
        ledger.record_extracted(batch_id, landed.rows, str(landed.path), landed.sha256)
        return {"batch_id": batch_id, "rows": landed.rows, "landing_file": str(landed.path)}

    return _recording_failure(batch_id, "extract", run)


def land(source_id: str, logical_date: date) -> dict:
    spec = get_source(source_id)
    batch_id = ledger.batch_id_for(source_id, logical_date)

    def run() -> dict:
        batch = ledger.batch_row(batch_id)
        rows = copy_into_raw(spec, Path(batch["landing_file"]))
        ledger.record_landed(batch_id, rows)
        return {"batch_id": batch_id, "rows": rows}

    return _recording_failure(batch_id, "land", run)


def validate(source_id: str, logical_date: date) -> GateOutcome:
    spec = get_source(source_id)
    batch_id = ledger.batch_id_for(source_id, logical_date)
    return _recording_failure(batch_id, "validate", lambda: validate_batch(spec, batch_id, logical_date))


def ingest(source_id: str, logical_date: date) -> GateOutcome:
    """All three steps, outside Airflow (tests, `credit-dw ingest`)."""
    extract(source_id, logical_date)
    land(source_id, logical_date)
    return validate(source_id, logical_date)
