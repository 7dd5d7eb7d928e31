"""Configuration, read from environment variables with documented defaults.

Every knob of the warehouse is here and nowhere else; `.env.example` lists the same names.
Reading settings never touches the network or the database, so DAG files may import this
module at parse time.

| variable | default | meaning |
|---|---|---|
| `CREDIT_DW_HOME` | `<checkout>/.local` | data directory: embedded PostgreSQL, inbox, outbox, reports, Airflow home |
| `WAREHOUSE_URL` | unset → embedded PostgreSQL under `$CREDIT_DW_HOME/pg` | SQLAlchemy/libpq URL of the warehouse (PostgreSQL ≥ 14) |
| `SOURCE_<SOURCE_ID>_URL` | `sql` feeds: database `src_<source_id>` on the warehouse server; `http_api` feeds: the simulated API server | a department's database or API base URL |
| `CREDIT_DW_HTTP_TIMEOUT_SECONDS`, `CREDIT_DW_HTTP_BACKOFF_SECONDS` | catalog values (10 s, 2 s) | HTTP API feeds' timeout and first back-off |
| `CREDIT_DW_ALERT_*`, `CREDIT_DW_SMTP_*` | log only | alert channels (see `credit_dw.reports.alerts`) |
| `CREDIT_DW_REJECT_SHARE` | per catalog entry (0.2) | override of every feed's batch rejection threshold |
| `AIRFLOW_HOME` | `$CREDIT_DW_HOME/airflow` | Airflow's home (SQLite metadata locally) |
| `MPLCONFIGDIR` | `$CREDIT_DW_HOME/cache/matplotlib` | matplotlib's config and font cache (the quality report's charts), built on first use and kept |
| `CREDIT_DW_ROLE_<LOGIN>_PASSWORD` | unset → the login role is created without a password (it cannot log in by password) and an existing password is kept | password of a platform login role of `catalog/platform_access.yml`, the role name in upper case: `CREDIT_DW_ROLE_CREDIT_CITY_130100_PASSWORD`, `CREDIT_DW_ROLE_CREDIT_PUBLICITY_PASSWORD`, `CREDIT_DW_ROLE_CREDIT_LENDING_PASSWORD`, `CREDIT_DW_ROLE_CREDIT_CHECK_PASSWORD` (docs/platform_access.md) |
| `AIRFLOW_CONN_CREDIT_EXPORT_SFTP_<TARGET>` | unset → the local outbox | an export target's SFTP server (Airflow SFTP connection `credit_export_sftp_<target>`, `/` in a target as `_`; extra `remote_root`, `key_file`, `host_key`); the connection may live in Airflow's metadata database or a secrets backend instead (docs/exports.md, SFTP delivery) |
| `CREDIT_DW_GIT_REVISION` | `git rev-parse HEAD` of the checkout, else `unknown` | the producing revision written into every export manifest (set it in an image without `.git`) |
| `CREDIT_DW_BACKUP_KEY` | unset (a backup run fails saying how to make one) | Fernet key (urlsafe base64, 32 bytes) that encrypts the off-site copy of every backup and its WAL |
| `CREDIT_DW_BACKUP_OFFSITE_DIR` | `$CREDIT_DW_HOME/backup/offsite` | where the encrypted off-site copy goes (mount of another disk or host) |
| `CREDIT_DW_BACKUP_RETENTION` | `RECOVERY WINDOW OF 7 DAYS` | Barman's retention policy for the full backups and their WAL |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

#: The repository checkout (…/include/credit_dw/config/settings.py → four levels up).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SEEDS_DIR = PROJECT_ROOT / "seeds"
DAGS_DIR = PROJECT_ROOT / "dags"
CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog"

#: The province works on Beijing time; logical dates and deadlines are local dates.
TIMEZONE = "Asia/Shanghai"

WAREHOUSE_DB_NAME = "credit_warehouse"


def home() -> Path:
    """The data directory; created on first use."""
    path = Path(os.environ.get("CREDIT_DW_HOME", PROJECT_ROOT / ".local")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_pgdata() -> Path:
    return home() / "pg"


def inbox_dir(source_id: str, logical_date: str) -> Path:
    return home() / "inbox" / source_id / logical_date


def outbox_dir(target: str, logical_date: str) -> Path:
    return home() / "outbox" / target / logical_date


def landing_dir(source_id: str, logical_date: str) -> Path:
    """Where extracted batches are written before COPY (kept as the batch's archive)."""
    return home() / "landing" / source_id / logical_date


def reports_dir() -> Path:
    return home() / "reports"


def backup_dir() -> Path:
    """Barman's configuration, catalogue (full backups, archived WAL) and log; restore drills."""
    return home() / "backup"


def backup_offsite_dir() -> Path:
    """The encrypted off-site copy of the backups (another disk or host in production)."""
    return Path(os.environ.get("CREDIT_DW_BACKUP_OFFSITE_DIR", backup_dir() / "offsite")).expanduser().resolve()


def backup_retention() -> str:
    return os.environ.get("CREDIT_DW_BACKUP_RETENTION", "RECOVERY WINDOW OF 7 DAYS")


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", home() / "airflow")).expanduser().resolve()


def matplotlib_dir() -> Path:
    """matplotlib's config and font cache: writable and kept between tasks, so it is built once."""
    path = Path(os.environ.get("MPLCONFIGDIR", home() / "cache" / "matplotlib")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _embedded_url_file() -> Path:
    return home() / "warehouse.url"


def warehouse_url() -> str:
    """URL of the warehouse database.

    `WAREHOUSE_URL` wins. Otherwise the URL the embedded server wrote when it last started
    (`credit-dw db start`); if it never started, a clear error says how to start it.
    """
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return url
    url_file = _embedded_url_file()
    if url_file.exists():
        return url_file.read_text().strip()
    raise RuntimeError(
        "No warehouse configured: set WAREHOUSE_URL to a PostgreSQL ≥ 14 database, "
        "or start the embedded one with `credit-dw db start`."
    )


def is_embedded() -> bool:
    return not os.environ.get("WAREHOUSE_URL")


def sqlalchemy_url(url: str | None = None) -> str:
    """The same URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    url = url or warehouse_url()
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def libpq_url(url: str | None = None) -> str:
    """The URL without a SQLAlchemy driver suffix, as psycopg and psql want it."""
    url = url or warehouse_url()
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def with_database(url: str, database: str) -> str:
    """Same server and credentials, another database (used for the simulated source systems)."""
    parts = urlsplit(url)
    return parts._replace(path="/" + database).geturl()


def source_url(source_id: str) -> str:
    """Connection URL of a department database, `SOURCE_<ID>_URL` or a database beside the warehouse."""
    env = os.environ.get(f"SOURCE_{source_id.upper()}_URL")
    return env or with_database(libpq_url(), f"src_{source_id}")


@dataclass(frozen=True)
class PgParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str


def pg_params(url: str | None = None) -> PgParams:
    """Split a libpq URL into the fields dbt's profile wants (a socket directory is a host)."""
    parts = urlsplit(libpq_url(url))
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return PgParams(
        host=host,
        port=port,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
    )


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables read by `dbt_project/profiles.yml`."""
    p = pg_params(url)
    return {
        "CREDIT_DW_PGHOST": p.host,
        "CREDIT_DW_PGPORT": str(p.port),
        "CREDIT_DW_PGUSER": p.user,
        "CREDIT_DW_PGPASSWORD": p.password,
        "CREDIT_DW_PGDATABASE": p.dbname,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def reject_share_override() -> float | None:
    value = os.environ.get("CREDIT_DW_REJECT_SHARE")
    return float(value) if value else None


def dbt_env_if_configured() -> dict[str, str]:
    """`dbt_env()` when a warehouse is known, else {} (DAG parsing must not fail or start a server)."""
    try:
        return dbt_env()
    except RuntimeError:
        return {}


def retry_delay_seconds(default: int) -> int:
    """`CREDIT_DW_RETRY_DELAY_SECONDS` overrides every DAG's retry delay (tests set it low)."""
    return int(os.environ.get("CREDIT_DW_RETRY_DELAY_SECONDS", default))


def role_password_variable(role_name: str) -> str:
    """`CREDIT_DW_ROLE_<ROLE NAME>_PASSWORD`: where a platform login role's password comes from."""
    return f"CREDIT_DW_ROLE_{role_name.upper()}_PASSWORD"


def role_password(role_name: str) -> str | None:
    """The password of a platform login role from the environment, or None when unset or empty."""
    return os.environ.get(role_password_variable(role_name)) or None


def git_revision() -> str:
    """The code revision that produces exports (their manifests carry it): `CREDIT_DW_GIT_REVISION`,
    else the checkout's `git rev-parse HEAD`, else "unknown" (an image built without `.git`)."""
    value = os.environ.get("CREDIT_DW_GIT_REVISION")
    if value:
        return value
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"
