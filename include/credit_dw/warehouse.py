"""Connections to the warehouse and its bootstrap (schemas, SQL functions, ledger tables).

The DDL lives in `sql/*.sql`, applied in file-name order; every statement is idempotent
(`create … if not exists`, `create or replace`), so bootstrap runs at the start of every night.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from credit_dw import settings

SQL_DIR = Path(__file__).resolve().parent / "sql"


@contextmanager
def connect(url: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:  # noqa: F821
    import psycopg

    with psycopg.connect(settings.libpq_url(url), autocommit=autocommit) as conn:
        yield conn


def bootstrap(url: str | None = None) -> list[str]:
    """Apply every DDL file; returns the files applied."""
    applied = []
    with connect(url) as conn:
        # One bootstrap at a time (mapped ingest tasks may start together).
        conn.execute("select pg_advisory_xact_lock(hashtext('credit_dw.bootstrap'))")
        for path in sorted(SQL_DIR.glob("*.sql")):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
        from credit_dw.gate import backfill_registered_codes  # the gate imports this module

        backfill_registered_codes(conn)
    # The key of natural persons' keyed hash, from the environment into the restricted schema.
    from credit_dw.privacy import install_hash_key

    install_hash_key(url)
    return applied
