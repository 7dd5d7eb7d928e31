"""The reproducibility record of a monthly report (reproducibility.json beside the audit report and
the scorecard; docs/audit.md, docs/scorecard.md): what the figures were computed from, so that a
rerun on the same warehouse state can be shown to give the same files.

The record lists the batches of the feeds the report reads that had landed by the as-of date (with
their counts and a hash over the list), the git revision and the hashes of the office-edited rule
seeds; the report adds the hashes of the files it wrote (`file_hashes`). Deterministic: the same
warehouse state gives the same record, byte for byte once written with `write`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from credit_dw.config import settings

BATCH_FIELDS = ("batch_id", "status", "rows_received", "rows_accepted", "rows_quarantined")
FILE_NAME = "reproducibility.json"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_record(conn, report: str, month: date, as_of: date, feeds: Sequence[str], rule_seeds: Iterable[str]) -> dict:
    """The record of `report` for `month` (as of `as_of`): the batches of `feeds` landed by then and
    the hashes of `rule_seeds` (file names under the dbt project's seeds)."""
    batches = conn.execute(
        f"""select {", ".join(BATCH_FIELDS)}
           from meta.load_batches where source_id = any(%s) and logical_date <= %s
           order by batch_id""", (list(feeds), as_of)).fetchall()
    listed = [dict(zip(BATCH_FIELDS, b, strict=True)) for b in batches]
    return {
        "report": report,
        "month": f"{month:%Y-%m}",
        "as_of_date": as_of.isoformat(),
        "git_revision": settings.git_revision(),
        "rules": {name: sha256_file(settings.DBT_PROJECT_DIR / "seeds" / name) for name in rule_seeds},
        "batch_count": len(listed),
        "batches_sha256": hashlib.sha256(json.dumps(listed, ensure_ascii=False).encode()).hexdigest(),
        "batches": listed,
    }


def file_hashes(files: Iterable[Path], directory: Path) -> dict[str, str]:
    """Each written file's sha256, by its path relative to the report's directory, in path order."""
    return {str(p.relative_to(directory)): sha256_file(p) for p in sorted(files)}


def write(state: dict, directory: Path) -> Path:
    """`state` as directory/reproducibility.json (UTF-8, Chinese kept readable, indented)."""
    record = directory / FILE_NAME
    record.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return record
