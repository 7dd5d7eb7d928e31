"""SQL connector: read one night's slice of a department database into a landing file.

Streams through SQLAlchemy with a server-side cursor (`stream_results`, `yield_per`), so memory
stays constant whatever the night's volume, and writes a CSV that `landing.copy_into_raw` COPYs
into the raw table. The file stays under `$CREDIT_DW_HOME/landing/<source>/<date>/` as the
batch's archive, with its sha256 in the ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.ingest.landing import LandingFile, LandingWriter
from credit_dw.ingest.ledger import Window

FETCH_ROWS = 10_000


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def extract_window(spec: SourceSpec, batch_id: str, logical_date: date, window: Window) -> LandingFile:
    """Read rows changed inside the window, ordered by watermark, into the batch's landing file."""
    import sqlalchemy as sa

    if not (spec.relation and spec.watermark):
        raise ValueError(f"catalog entry {spec.source_id}: a sql source needs 'relation' and 'watermark'")
    columns = ", ".join(f"{src} as {canonical}" for canonical, src in spec.fields.items())
    # Bounds in Beijing time: a driver without time zones (pymysql against a MariaDB DATETIME)
    # sends the wall-clock value, which must then be the department's own local time.
    local = ZoneInfo(settings.TIMEZONE)
    condition = f"{spec.watermark} < :high"
    params: dict[str, object] = {"high": window.high.astimezone(local)}
    if window.low is not None:
        condition += f" and {spec.watermark} > :low"
        params["low"] = window.low.astimezone(local)
    query = sa.text(
        f"select {columns} from {spec.relation} where {condition} "
        f"order by {spec.watermark}, {next(iter(spec.fields.values()))}"
    )
    engine = sa.create_engine(settings.sqlalchemy_url(settings.source_url(spec.source_id)))
    try:
        with engine.connect() as conn, LandingWriter(spec, batch_id, logical_date) as writer:
            result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(query, params)
            for partition in result.partitions(FETCH_ROWS):  # SQLAlchemy 2.1 ignores yield_per for text()
                writer.write_rows([_as_text(v) for v in row] for row in partition)
            return writer.finish()
    finally:
        engine.dispose()
