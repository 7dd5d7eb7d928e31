"""Test fixtures: every test session gets its own data directory and its own embedded PostgreSQL.

The environment is set in `pytest_configure`, before any test module imports Airflow, because
Airflow reads AIRFLOW_HOME and its configuration once, at import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="credit-dw-test-"))
    os.environ["CREDIT_DW_HOME"] = str(home)
    os.environ.pop("WAREHOUSE_URL", None)  # tests always run on their own embedded server
    from credit_dw.config import airflow_env

    airflow_env.configure(os.environ)
    config._credit_dw_home = home  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, "_credit_dw_home", None)
    if home is None:
        return
    from credit_dw.db import embedded as embedded_db

    embedded_db.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """URL of the session's embedded warehouse, with the warehouse schemas and functions in place."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap

    url = embedded_db.ensure_warehouse()
    bootstrap(url)
    return url


@pytest.fixture()
def conn(warehouse_url: str):
    """A psycopg connection to the warehouse, autocommit."""
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        yield connection
