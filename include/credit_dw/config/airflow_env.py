"""Airflow's configuration for local use, set as environment variables before Airflow is imported.

Airflow reads its configuration once, at import; `credit-dw` and the tests call `configure()`
first. Values already in the environment win, so a deployment (docker compose) keeps its own.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

from credit_dw.config import settings


def defaults(home: Path | None = None) -> dict[str, str]:
    """The project's Airflow settings for an Airflow home (`settings.airflow_home()` by default)."""
    home = home or settings.airflow_home()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.TIMEZONE,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Parsing credit_transform.py (Airflow, Cosmos and the 3 MB dbt manifest) takes 3-4 s on a
        # quiet machine but passed Airflow's 30 s `dagbag_import_timeout` on a loaded 2-core one:
        # every task runner parses its DAG file at start, and a timeout there reschedules the task
        # ("Dag not found during start up"; 30 of them in one transform, issue 15). Room for load.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
        # The DAGs import cosmos; keep its cache inside the data directory.
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        # Cosmos's watcher producer would otherwise rewrite one Airflow Variable holding every
        # XCom it pushed so far on each push (quadratic in the night's ~700 dbt nodes); it still
        # saves them when the producer fails, which is when a retry needs them.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        # A government credit platform makes no outbound calls [001 2017 §5.2; 002 #11]: Cosmos's usage metrics
        # (tried on every task and DAG run) and Great Expectations' analytics off.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "GX_ANALYTICS_ENABLED": "False",
    }


def configure(environ: MutableMapping[str, str]) -> None:
    settings.airflow_home().mkdir(parents=True, exist_ok=True)
    for key, value in defaults().items():
        environ.setdefault(key, value)
