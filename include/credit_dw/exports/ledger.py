"""The export ledger (`meta.export_deliveries`, `meta.export_files`): what was delivered, once.

One delivery per (target, logical date). The row is written after the delivery's `_SUCCESS`
marker; the manifest is kept byte for byte, so a rerun restores the very manifest it delivered
(its git revision included) rather than writing a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class RecordedDelivery:
    target: str
    logical_date: date
    manifest: str
    file_hashes: dict[str, str]  # file name -> sha256


def recorded(conn: psycopg.Connection, target: str, logical_date: date) -> RecordedDelivery | None:
    row = conn.execute(
        "select manifest from meta.export_deliveries where target = %s and logical_date = %s",
        (target, logical_date)).fetchone()
    if row is None:
        return None
    hashes = dict(conn.execute(
        "select file_name, sha256 from meta.export_files where target = %s and logical_date = %s",
        (target, logical_date)).fetchall())
    return RecordedDelivery(target, logical_date, row[0], hashes)


def record(conn: psycopg.Connection, *, target: str, logical_date: date, layout_version: str,
           git_revision: str, files: list[tuple[str, int, str]], manifest: str, manifest_sha256: str) -> bool:
    """Record a delivery and its files in one transaction; False when it was already recorded.

    The delivery's row_count counts the CSV files' rows (an XLSX file repeats its CSV's rows)."""
    with conn.transaction():
        inserted = conn.execute(
            """insert into meta.export_deliveries (target, logical_date, layout_version, git_revision,
                                                   file_count, row_count, manifest_sha256, manifest)
               values (%s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (target, logical_date) do nothing""",
            (target, logical_date, layout_version, git_revision, len(files),
             sum(r for n, r, _ in files if n.endswith(".csv")), manifest_sha256, manifest)).rowcount
        if not inserted:
            return False
        conn.execute("delete from meta.export_files where target = %s and logical_date = %s",
                     (target, logical_date))
        conn.cursor().executemany(
            """insert into meta.export_files (target, logical_date, file_name, row_count, sha256)
               values (%s, %s, %s, %s, %s)""",
            [(target, logical_date, name, rows, sha) for name, rows, sha in files])
    return True


def last_delivered_rows(conn: psycopg.Connection, target: str,
                        logical_date: date) -> tuple[date, dict[str, int]] | None:
    """The latest night before `logical_date` delivered for `target`, with each file's rows (by file
    name as delivered, `<name>_<that date>.csv`); None when none was."""
    row = conn.execute(
        """select max(logical_date) from meta.export_deliveries where target = %s and logical_date < %s""",
        (target, logical_date)).fetchone()
    if row is None or row[0] is None:
        return None
    rows = dict(conn.execute(
        "select file_name, row_count from meta.export_files where target = %s and logical_date = %s",
        (target, row[0])).fetchall())
    return row[0], rows
