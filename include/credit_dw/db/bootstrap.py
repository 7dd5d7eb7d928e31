"""The warehouse's bootstrap (schemas, SQL functions, ledger tables, platform roles, the subject-hash key).

The DDL lives in `sql/*.sql`, applied in file-name order; every statement is idempotent
(`create … if not exists`, `create or replace`), so bootstrap runs at the start of every night.
"""

from __future__ import annotations

from pathlib import Path

from credit_dw.db import platform_access
from credit_dw.db.connect import connect
from credit_dw.db.privacy import install_hash_key
from credit_dw.db.registered_codes import backfill_registered_codes

SQL_DIR = Path(__file__).resolve().parent / "sql"


def bootstrap(url: str | None = None) -> list[str]:
    """Apply every DDL file; returns the files applied."""
    applied = []
    with connect(url) as conn:
        # One bootstrap at a time (mapped ingest tasks may start together).
        conn.execute("select pg_advisory_xact_lock(hashtext('credit_dw.bootstrap'))")
        for path in sorted(SQL_DIR.glob("*.sql")):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
        backfill_registered_codes(conn)
        # One role per downstream platform, its row policies and grants (catalog/platform_access.yml).
        platform_access.install(conn)
    # The key of natural persons' keyed hash, from the environment into the restricted schema.
    install_hash_key(url)
    return applied
