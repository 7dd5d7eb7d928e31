"""Exports to downstream platforms: files written atomically with a manifest.

The national platform (全国信用信息共享平台) receives, each night, the subjects whose registration
changed that night ("one entry, many exits" [000 §2.2]: one curated table feeds every exit).
Files are byte-identical when a night is rerun: rows are sorted by key, the manifest carries no
wall-clock time, and both are written to a temporary name and renamed into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.db.connect import connect

NATIONAL_TARGET = "national"

#: The columns the national platform receives, in order (curated names; natural persons' data
#: is not part of this file).
NATIONAL_COLUMNS = (
    "subject_id", "uscc", "subject_name", "subject_type", "legal_representative",
    "registration_division_code", "jurisdiction_code", "registered_on", "registration_status",
    "source_updated_at",
)


@dataclass(frozen=True)
class ExportResult:
    target: str
    logical_date: date
    data_file: Path
    manifest_file: Path
    row_count: int
    sha256: str


def _write_atomically(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _format(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def export_national(logical_date: date) -> ExportResult:
    """Write `outbox/national/<date>/subjects_<date>.csv` and its `manifest.json`."""
    with connect() as conn:
        conn.execute("set time zone 'Asia/Shanghai'")
        rows = conn.execute(
            f"select {', '.join(NATIONAL_COLUMNS)} from marts.dim_subject "
            "where last_changed_on = %s order by subject_id",
            (logical_date,),
        ).fetchall()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NATIONAL_COLUMNS)
    writer.writerows([_format(v) for v in row] for row in rows)
    payload = buffer.getvalue().encode("utf-8")
    digest = hashlib.sha256(payload).hexdigest()

    directory = settings.outbox_dir(NATIONAL_TARGET, logical_date.isoformat())
    directory.mkdir(parents=True, exist_ok=True)
    data_file = directory / f"subjects_{logical_date.isoformat()}.csv"
    manifest_file = directory / "manifest.json"
    manifest = {
        "target": NATIONAL_TARGET,
        "platform": "全国信用信息共享平台",
        "logical_date": logical_date.isoformat(),
        "files": [{"name": data_file.name, "rows": len(rows), "sha256": digest,
                   "encoding": "utf-8", "columns": list(NATIONAL_COLUMNS)}],
    }
    _write_atomically(data_file, payload)
    _write_atomically(manifest_file, (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode())
    with connect() as conn:
        conn.execute(
            """insert into meta.export_files (target, logical_date, file_name, row_count, sha256)
               values (%s, %s, %s, %s, %s)
               on conflict (target, logical_date, file_name) do update set
                 row_count = excluded.row_count, sha256 = excluded.sha256, written_at = now()""",
            (NATIONAL_TARGET, logical_date, data_file.name, len(rows), digest),
        )
    return ExportResult(NATIONAL_TARGET, logical_date, data_file, manifest_file, len(rows), digest)
