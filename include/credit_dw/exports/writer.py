"""Writing an export file: UTF-8 CSV bytes, then a temporary name in the same directory, renamed.

The bytes depend only on the rows (no wall-clock time, no locale): the target's query orders them
by key, so rerunning a night reproduces a delivered file byte for byte. The temporary file lives
in the delivery's own directory, so the rename is atomic and a receiver never sees half a file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

# A file being written is hidden (`.<name>.tmp`), so a receiver's glob of `*.csv` never picks it
# up; delivery writes through this module's name, so a test can stop a run mid-delivery.
from credit_dw.config.files import TMP_PATTERN, write_atomically

__all__ = ["TMP_PATTERN", "clear_leftovers", "csv_bytes", "format_value", "write_atomically"]


def format_value(value: object) -> str:
    """One CSV cell: empty for null, ISO 8601 for dates and timestamps, str() otherwise."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A header row, then the rows; `,` delimited, minimal quoting, `\\n` line ends, UTF-8 (no BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([format_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def clear_leftovers(directory: Path) -> list[Path]:
    """Remove temporary files a killed run left in a delivery directory; return them."""
    removed = sorted(directory.glob(TMP_PATTERN))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
